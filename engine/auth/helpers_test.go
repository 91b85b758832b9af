package auth

import (
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
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(FormatUserLine(pairs[i], &c) + "\n")
	}
	return sb.String()
}

// testUsers returns a store holding name:password pairs.
func testUsers(t testing.TB, pairs ...string) *Users {
	t.Helper()
	u, err := ParseUsers(strings.NewReader(usersFile(t, pairs...)), "test")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// writeUsersFile writes name:password pairs to a users file in a temporary
// directory and returns its path.
func writeUsersFile(t testing.TB, pairs ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(usersFile(t, pairs...)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// plainLogin checks user/pass against u like a plain CONNECT.
func plainLogin(u *Users, user, pass string) error {
	return u.Authenticate(&ConnectInfo{UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(pass)})
}
