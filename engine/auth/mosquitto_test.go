package auth

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// mosquittoVectors were written by Debian's mosquitto_passwd 2.0.11:
// alice with the default PBKDF2-SHA512 ($7$, 101 iterations), bob with
// -H sha512 ($6$).
const mosquittoVectors = `alice:$7$101$J7yQZ2HFAm78ejv2$+QoTFJ3QbZ6YvlHFs5H3fKkYEDqBFnMur/Zf9cwFceVg0FUqHvLycGVRx2BzpfKp3pGQjVYBj6bh5Gdiw2Df5A==
bob:$6$SHbHbNy/dh8/19kd$G4antlAXE8FrPBn9KgD/QC/Rgwx2pHigwXe9VxfgHxr0Mf0Cg9qNWVwpGILGPZ1tbXzqXZVw5MWuwGqyTrYxGw==
`

// checkLogins checks that each user logs in with its password only.
func checkLogins(t *testing.T, u *Users, pairs ...string) {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		name, pass := pairs[i], pairs[i+1]
		info := ConnectInfo{UsernameFlag: true, Username: []byte(name), PasswordFlag: true, Password: []byte(pass)}
		if err := u.Authenticate(&info); err != nil {
			t.Errorf("%s with its password: %v", name, err)
		}
		info.Password = []byte(pass + "x")
		if err := u.Authenticate(&info); err == nil {
			t.Errorf("%s with a wrong password: accepted", name)
		}
	}
}

func TestMosquittoVectors(t *testing.T) {
	u, err := ParseUsers(strings.NewReader(mosquittoVectors+usersFile(t, "carol", "scram-pw")), "vectors")
	if err != nil {
		t.Fatal(err)
	}
	checkLogins(t, u, "alice", "secret", "bob", "pass2", "carol", "scram-pw")
	// The stored form survives a rewrite by gust passwd unchanged.
	for _, line := range strings.Split(strings.TrimSpace(mosquittoVectors), "\n") {
		name, c, err := ParseUserLine(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatUserLine(name, &c); got != line {
			t.Errorf("round trip:\n got %s\nwant %s", got, line)
		}
	}
	// SCRAM cannot use a Mosquitto hash: the user looks unknown to it, with
	// the mock salt and usual iteration count.
	if _, known := u.lookupSCRAM([]byte("alice")); known {
		t.Error("SCRAM offered a Mosquitto credential")
	}
	if c, known := u.lookupSCRAM([]byte("carol")); !known || c.Iterations != DefaultIterations {
		t.Errorf("SCRAM lost the SCRAM user: known %v, iterations %d", known, c.Iterations)
	}
}

func TestMosquittoBadEntries(t *testing.T) {
	for name, line := range map[string]string{
		"no hash":        "a:$6$c2FsdA==",
		"short hash":     "a:$6$c2FsdA==$aGFzaA==",
		"bad iterations": "a:$7$x$c2FsdA==$" + strings.Repeat("A", 88),
		"zero iter":      "a:$7$0$c2FsdA==$" + strings.Repeat("A", 88),
		"bad salt":       "a:$7$101$!!$" + strings.Repeat("A", 88),
		"plain text":     "a:password",
	} {
		if _, _, err := ParseUserLine(line); err == nil {
			t.Errorf("%s: %q accepted", name, line)
		}
	}
}

// TestInteropMosquittoPasswd: files written by the installed
// mosquitto_passwd, in both of its hashes, log users in.
func TestInteropMosquittoPasswd(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mosquitto_passwd not installed")
		}
		t.Skip("mosquitto_passwd not installed")
	}
	file := filepath.Join(t.TempDir(), "pw")
	for _, args := range [][]string{
		{"-c", "-b", file, "dave", "d4ve pw"},
		{"-H", "sha512", "-b", file, "erin", "3rin"},
		{"-H", "sha512-pbkdf2", "-b", file, "frank", "fr:ank"},
	} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v\n%s", args, err, out)
		}
	}
	u, err := LoadUsers(file)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 3 {
		t.Fatalf("%d users, want 3", u.Len())
	}
	checkLogins(t, u, "dave", "d4ve pw", "erin", "3rin", "frank", "fr:ank")
}
