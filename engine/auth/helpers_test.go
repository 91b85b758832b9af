package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// usersFile returns a users file holding name:password pairs.
func usersFile(t testing.TB, pairs ...string) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("# test users\n\n")
	for i := 0; i < len(pairs); i += 2 {
		c, err := NewCredential([]byte(pairs[i+1]), DefaultIterations)
		noErr(t, err)
		sb.WriteString(FormatUserLine(pairs[i], &c) + "\n")
	}
	return sb.String()
}

// testUsers returns a store holding name:password pairs.
func testUsers(t testing.TB, pairs ...string) *Users {
	t.Helper()
	u, err := ParseUsers(strings.NewReader(usersFile(t, pairs...)), "test")
	noErr(t, err)
	return u
}

// writeUsersFile writes name:password pairs to a users file in a temporary
// directory and returns its path.
func writeUsersFile(t testing.TB, pairs ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	noErr(t, os.WriteFile(path, []byte(usersFile(t, pairs...)), 0o600))
	return path
}

// plainLogin checks user/pass against u like a plain CONNECT.
func plainLogin(u *Users, user, pass string) error {
	return u.Authenticate(&ConnectInfo{UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(pass)})
}

// noErr fails the test on a non-nil error.
func noErr(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatal(append([]any{err}, msg...)...)
	}
}

// check fails the test when ok is false.
func check(t testing.TB, ok bool, msg ...any) {
	t.Helper()
	if !ok {
		t.Fatal(msg...)
	}
}

// equal fails the test when got != want.
func equal[T comparable](t testing.TB, got, want T, msg ...any) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v %v", got, want, fmt.Sprint(msg...))
	}
}
