package engine

import "testing"

// BenchmarkUsersAuthenticate is the cost of one plain user name and
// password CONNECT checked against a users file (PBKDF2, 4096 iterations),
// paid on the client's event loop.
func BenchmarkUsersAuthenticate(b *testing.B) {
	u := testUsers(b, "alice", "s3cret")
	info := &ConnectInfo{UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("s3cret")}
	b.ReportAllocs()
	for b.Loop() {
		if err := u.Authenticate(info); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSCRAMExchange is the server's cost of one whole SCRAM-SHA-256
// login (the client's PBKDF2 included, as the test client runs it here).
func BenchmarkSCRAMExchange(b *testing.B) {
	m := NewSCRAM(testUsers(b, "alice", "s3cret"))
	b.ReportAllocs()
	for b.Loop() {
		sc := &scramClient{user: "alice", pass: "s3cret", cnonce: "bench"}
		ex := m.Start(&ConnectInfo{})
		sf, _, err := ex.Step(sc.first())
		if err != nil {
			b.Fatal(err)
		}
		cf, err := sc.final(sf)
		if err != nil {
			b.Fatal(err)
		}
		if _, done, err := ex.Step(cf); !done || err != nil {
			b.Fatal(err)
		}
	}
}
