package auth

import (
	"testing"

	"github.com/gust-mqtt/gust/engine/auth/authtest"
)

// BenchmarkSCRAMExchange is the server's cost of one whole SCRAM-SHA-256
// login (the client's PBKDF2 included, as the test client runs it here).
func BenchmarkSCRAMExchange(b *testing.B) {
	m := NewSCRAM(testUsers(b, "alice", "s3cret"))
	b.ReportAllocs()
	for b.Loop() {
		sc := &authtest.SCRAMClient{User: "alice", Pass: "s3cret", Nonce: "bench"}
		ex := m.Start(&ConnectInfo{})
		sf, _, err := ex.Step(sc.First())
		if err != nil {
			b.Fatal(err)
		}
		cf, err := sc.Final(sf)
		if err != nil {
			b.Fatal(err)
		}
		if _, done, err := ex.Step(cf); !done || err != nil {
			b.Fatal(err)
		}
	}
}
