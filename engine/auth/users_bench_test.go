package auth

import "testing"

// BenchmarkUsersAuthenticate is the cost of one plain user name and
// password CONNECT checked against a users file: "cached" a repeated
// correct login answered by AuthenticateCached (what the broker pays on the
// client's event loop), "full" a first correct login and "wrong" a wrong
// password (both PBKDF2, 4096 iterations, paid on a Pool worker). cached
// against full is the cache's gain; wrong must stay as dear as full.
func BenchmarkUsersAuthenticate(b *testing.B) {
	u := testUsers(b, "alice", "s3cret")
	good := &ConnectInfo{UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("s3cret")}
	bad := &ConnectInfo{UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("s3cret!")}
	b.Run("cached", func(b *testing.B) {
		if err := u.Authenticate(good); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if known, err := u.AuthenticateCached(good); !known || err != nil {
				b.Fatal(known, err)
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
		if err := u.Authenticate(good); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := u.Authenticate(bad); err != ErrBadCredentials {
				b.Fatal(err)
			}
		}
	})
}
