package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/engine/auth"
)

// login checks user/pass against the users file like a plain CONNECT.
func login(t *testing.T, file, user, pass string) error {
	t.Helper()
	u, err := auth.LoadUsers(file)
	if err != nil {
		t.Fatal(err)
	}
	return u.Authenticate(&auth.ConnectInfo{UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(pass)})
}

// TestPasswd: gust passwd creates a file, adds, updates and deletes users,
// reading the password from stdin or --password, and the broker's store
// accepts exactly the current passwords.
func TestPasswd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	run := func(stdin string, args ...string) error {
		return passwd(args, strings.NewReader(stdin), io.Discard)
	}
	if err := run("s3cret\n", "-c", file, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := run("", "--password", "hunter2", file, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := login(t, file, "alice", "s3cret"); err != nil {
		t.Errorf("alice: %v", err)
	}
	if err := login(t, file, "bob", "hunter2"); err != nil {
		t.Errorf("bob: %v", err)
	}
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), "s3cret") || strings.Contains(string(body), "hunter2") {
		t.Errorf("password stored in clear:\n%s", body)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}

	// Update: the old password stops working, the other user is kept.
	if err := run("n3w\r\n", file, "alice"); err != nil {
		t.Fatal(err)
	}
	if login(t, file, "alice", "s3cret") == nil || login(t, file, "alice", "n3w") != nil {
		t.Error("alice's password not replaced")
	}
	if err := login(t, file, "bob", "hunter2"); err != nil {
		t.Errorf("bob lost: %v", err)
	}
	// Delete.
	if err := run("", "-D", file, "bob"); err != nil {
		t.Fatal(err)
	}
	if login(t, file, "bob", "hunter2") == nil {
		t.Error("bob still logs in after -D")
	}
	if err := run("", "-D", file, "bob"); err == nil {
		t.Error("deleting a missing user succeeded")
	}

	for name, args := range map[string][]string{
		"bad user name":  {file, "a:b"},
		"missing user":   {file},
		"few iterations": {"--iterations", "10", file, "carol"},
		"damaged file":   {writeFile(t, "alice:plaintext\n"), "carol"},
		"empty password": {file, "carol"},
		"no such dir":    {"/nonexistent/dir/users", "carol"},
	} {
		if err := run("", args...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestAskTwice: the confirmation must match, and an empty password is
// refused before it is asked again.
func TestAskTwice(t *testing.T) {
	answers := func(a ...string) func(string) ([]byte, error) {
		return func(string) ([]byte, error) {
			if len(a) == 0 {
				return nil, io.EOF
			}
			s := a[0]
			a = a[1:]
			return []byte(s), nil
		}
	}
	if pw, err := askTwice(answers("pw", "pw")); err != nil || string(pw) != "pw" {
		t.Errorf("same twice: %q, %v", pw, err)
	}
	for name, a := range map[string][]string{
		"mismatch":      {"pw", "pX"},
		"empty":         {"", ""},
		"end of input":  {"pw"},
		"nothing typed": {},
	} {
		if _, err := askTwice(answers(a...)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestPasswdKeepsMosquittoEntries: a file written by mosquitto_passwd can
// be extended by gust passwd, its entries kept as they are.
func TestPasswdKeepsMosquittoEntries(t *testing.T) {
	const bob = "bob:$6$SHbHbNy/dh8/19kd$G4antlAXE8FrPBn9KgD/QC/Rgwx2pHigwXe9VxfgHxr0Mf0Cg9qNWVwpGILGPZ1tbXzqXZVw5MWuwGqyTrYxGw=="
	file := writeFile(t, bob+"\n")
	if err := passwd([]string{file, "alice"}, strings.NewReader("s3cret\n"), io.Discard); err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), bob+"\n") {
		t.Errorf("mosquitto entry changed:\n%s", body)
	}
	if err := login(t, file, "bob", "pass2"); err != nil {
		t.Errorf("bob: %v", err)
	}
	if err := login(t, file, "alice", "s3cret"); err != nil {
		t.Errorf("alice: %v", err)
	}
}
