package engine

import "testing"

// BenchmarkUsersAuthenticate is the cost of one plain user name and
// password CONNECT checked against a users file, paid on the client's
// event loop: "cached" a repeated correct login (verified-password cache),
// "full" a first correct login and "wrong" a wrong password (both PBKDF2,
// 4096 iterations). cached against full is the cache's gain; wrong must
// stay as dear as full.
func BenchmarkUsersAuthenticate(b *testing.B) {
	u := testUsers(b, "alice", "s3cret")
	good := &ConnectInfo{UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("s3cret")}
	bad := &ConnectInfo{UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("s3cret!")}
	b.Run("cached", func(b *testing.B) {
		noErr(b, u.Authenticate(good))
		b.ReportAllocs()
		for b.Loop() {
			if err := u.Authenticate(good); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u.tab.Load().cache.m = nil // forget the login (one goroutine)
			if err := u.Authenticate(good); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wrong", func(b *testing.B) {
		noErr(b, u.Authenticate(good))
		b.ReportAllocs()
		for b.Loop() {
			if err := u.Authenticate(bad); err != ErrBadCredentials {
				b.Fatal(err)
			}
		}
	})
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
