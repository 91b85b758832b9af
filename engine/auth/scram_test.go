package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/engine/auth/authtest"
)

// TestSCRAMRFC7677: the server replays RFC 7677 section 3's exchange byte
// for byte (user "user", password "pencil").
func TestSCRAMRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	cred, err := DeriveCredential([]byte("pencil"), salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	u := newUsers(map[string]Credential{"user": cred})
	m := NewSCRAM(u)
	m.nonce = func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
	ex := m.Start(&ConnectInfo{})
	out, done, err := ex.Step([]byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
	if err != nil {
		t.Fatal(err)
	}
	if done {
		t.Fatal("done after client-first")
	}
	if string(out) != "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096" {
		t.Fatalf("got %v, want %v", string(out), "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	}
	out, done, err = ex.Step([]byte("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," +
		"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
	if err != nil {
		t.Fatal(err)
	}
	if !done {
		t.Fatal("not done after client-final")
	}
	if string(out) != "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("got %v, want %v", string(out), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
	}
	if got := ex.Username(); got != "user" {
		t.Fatalf("got %v, want %v", got, "user")
	}

	// The test client computes the same client-final from the vector.
	sc := &authtest.SCRAMClient{User: "user", Pass: "pencil", Nonce: "rOprNGfwEbeRWgbNEkqO"}
	sc.First()
	cf, err := sc.Final([]byte("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
	if err != nil {
		t.Fatal(err)
	}
	if string(cf) != "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=" {
		t.Fatalf("got %v, want %v", string(cf), "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	}
	if !sc.Verify([]byte("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")) {
		t.Fatal("server signature")
	}
}

// runSCRAM runs a whole exchange for sc against m, letting tamper change
// client-final, and returns the final step's result.
func runSCRAM(t *testing.T, m *SCRAM, info *ConnectInfo, sc *authtest.SCRAMClient, tamper func([]byte) []byte) (Exchange, []byte, bool, error) {
	t.Helper()
	ex := m.Start(info)
	sf, done, err := ex.Step(sc.First())
	if err != nil || done {
		return ex, sf, done, err
	}
	cf, err := sc.Final(sf)
	if err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		cf = tamper(cf)
	}
	out, done, err := ex.Step(cf)
	return ex, out, done, err
}

// TestSCRAMExchange: success with a fresh salt and nonce, and every way
// the proof or nonce can be wrong.
func TestSCRAMExchange(t *testing.T) {
	m := NewSCRAM(testUsers(t, "alice", "s3cret", "b,o=b", "pw"))
	tamperProof := func(cf []byte) []byte {
		i := bytes.LastIndex(cf, []byte(",p="))
		p, _ := base64.StdEncoding.DecodeString(string(cf[i+3:]))
		p[0] ^= 1
		return append(cf[:i+3:i+3], base64.StdEncoding.EncodeToString(p)...)
	}
	tamperNonce := func(cf []byte) []byte { return bytes.Replace(cf, []byte(",r=cnonce"), []byte(",r=cNonce"), 1) }
	for _, tc := range []struct {
		name   string
		info   ConnectInfo
		user   string
		pass   string
		tamper func([]byte) []byte
		want   error
	}{
		{name: "ok", user: "alice", pass: "s3cret"},
		{name: "escaped user name", user: "b,o=b", pass: "pw"},
		{name: "CONNECT user name matches", info: ConnectInfo{UsernameFlag: true, Username: []byte("alice")}, user: "alice", pass: "s3cret"},
		{name: "wrong password", user: "alice", pass: "s3cret!", want: ErrBadCredentials},
		{name: "unknown user", user: "mallory", pass: "x", want: ErrBadCredentials},
		{name: "tampered proof", user: "alice", pass: "s3cret", tamper: tamperProof, want: ErrBadCredentials},
		{name: "tampered nonce", user: "alice", pass: "s3cret", tamper: tamperNonce, want: ErrNotAuthorized},
		{name: "channel binding changed", user: "alice", pass: "s3cret", want: ErrNotAuthorized,
			tamper: func(cf []byte) []byte { return bytes.Replace(cf, []byte("c=biws"), []byte("c=eSws"), 1) }},
		{name: "proof missing", user: "alice", pass: "s3cret", want: ErrNotAuthorized,
			tamper: func(cf []byte) []byte { return cf[:bytes.LastIndex(cf, []byte(",p="))] }},
		{name: "CONNECT names another user", info: ConnectInfo{UsernameFlag: true, Username: []byte("bob")},
			user: "alice", pass: "s3cret", want: ErrNotAuthorized},
		{name: "CONNECT names the empty user", info: ConnectInfo{UsernameFlag: true, Username: []byte{}},
			user: "alice", pass: "s3cret", want: ErrNotAuthorized},
		{name: "attribute after the proof", user: "alice", pass: "s3cret", want: ErrNotAuthorized,
			tamper: func(cf []byte) []byte { return append(cf, ",x=unsigned"...) }},
		{name: "nonce before channel binding", user: "alice", pass: "s3cret", want: ErrNotAuthorized,
			tamper: func(cf []byte) []byte {
				a := bytes.SplitN(cf, []byte(","), 3)
				return bytes.Join([][]byte{a[1], a[0], a[2]}, []byte(","))
			}},
		{name: "client-final too long", user: "alice", pass: "s3cret", want: ErrNotAuthorized,
			tamper: func(cf []byte) []byte {
				i := bytes.LastIndex(cf, []byte(",p="))
				return append(append(cf[:i:i], ",x="+strings.Repeat("y", scramMaxMessage)...), cf[i:]...)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &authtest.SCRAMClient{User: tc.user, Pass: tc.pass, Nonce: "cnonce"}
			ex, out, done, err := runSCRAM(t, m, &tc.info, sc, tc.tamper)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatal("got", err, "want", tc.want)
				}
				if done {
					t.Fatal("done despite", err)
				}
				if got := ex.Username(); got != "" {
					t.Fatalf("got %v, want %v", got, "")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !done {
				t.Fatal("not done")
			}
			if !sc.Verify(out) {
				t.Fatal("server signature wrong:", string(out))
			}
			if got := ex.Username(); got != tc.user {
				t.Fatalf("got %v, want %v", got, tc.user)
			}
		})
	}
}

// TestSCRAMMalformedFirst: client-first messages the server refuses.
func TestSCRAMMalformedFirst(t *testing.T) {
	m := NewSCRAM(testUsers(t, "alice", "pw"))
	for _, msg := range []string{
		"", "n,", "p=tls-unique,,n=alice,r=x", "n,,n=alice", "n,,r=x", "n,,n=alice,r=x,r=y",
		"n,,n=al=ice,r=x", "n,a=bob,n=alice,r=x", "n,,m=ext,n=alice,r=x", "n,,garbage",
		"n,,r=x,n=alice", "n,,n=alice,r=", "n,,n=alice,r=a\x01b", "n,,n=alice,r=a b",
		"n,,n=alice,r=" + strings.Repeat("x", scramMaxNonce+1),
		"n,,n=alice,r=x,e=" + strings.Repeat("x", scramMaxMessage),
	} {
		_, done, err := m.Start(&ConnectInfo{}).Step([]byte(msg))
		if !(errors.Is(err, ErrNotAuthorized) && !done) {
			t.Fatal("accepted", msg, err)
		}
	}
	// A third message after success is out of sequence.
	sc := &authtest.SCRAMClient{User: "alice", Pass: "pw", Nonce: "n1"}
	ex := m.Start(&ConnectInfo{})
	sf, _, err := ex.Step(sc.First())
	if err != nil {
		t.Fatal(err)
	}
	cf, err := sc.Final(sf)
	if err != nil {
		t.Fatal(err)
	}
	_, done, err := ex.Step(cf)
	if !(done && err == nil) {
		t.Fatal("exchange failed", err)
	}
	_, _, err = ex.Step([]byte("again"))
	if !errors.Is(err, ErrNotAuthorized) {
		t.Fatal("third step accepted")
	}
}

// TestSCRAMUnknownUserSalt: an unknown user gets a stable salt, so the
// salt does not reveal whether a user exists.
func TestSCRAMUnknownUserSalt(t *testing.T) {
	m := NewSCRAM(testUsers(t, "alice", "pw"))
	salt := func(user string) string {
		sf, _, err := m.Start(&ConnectInfo{}).Step([]byte("n,,n=" + user + ",r=x"))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := scramAttrs(sf)
		return string(a['s']) + "/" + string(a['i'])
	}
	if got, want := salt("ghost"), salt("ghost"); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	if salt("ghost") == salt("alice") {
		t.Fatal("same salt for two users")
	}
}

// TestUsersFile: credentials round-trip through their stored form, the
// store checks plain passwords, and a bad file names its line.
func TestUsersFile(t *testing.T) {
	u := testUsers(t, "alice", "s3cret", "bob", "hunter2")
	if got := u.Len(); got != 2 {
		t.Fatalf("got %v, want %v", got, 2)
	}
	c, ok := u.Lookup("alice")
	if !ok {
		t.Fatal("alice missing")
	}
	back, err := ParseCredential(c.String())
	if err != nil {
		t.Fatal(err)
	}
	if !(bytes.Equal(back.Salt, c.Salt) && back.StoredKey == c.StoredKey && back.ServerKey == c.ServerKey &&
		back.Iterations == DefaultIterations) {
		t.Fatal("round trip")
	}
	if strings.Contains(c.String(), "s3cret") {
		t.Fatal("password stored")
	}

	auth := func(user, pass string, hasPass bool) error {
		return u.Authenticate(&ConnectInfo{UsernameFlag: true, Username: []byte(user), PasswordFlag: hasPass, Password: []byte(pass)})
	}
	if err := auth("alice", "s3cret", true); err != nil {
		t.Fatal(err)
	}
	if err := auth("bob", "hunter2", true); err != nil {
		t.Fatal(err)
	}
	if got := auth("alice", "hunter2", true); got != ErrBadCredentials {
		t.Fatalf("got %v, want %v", got, ErrBadCredentials)
	}
	if got := auth("alice", "", false); got != ErrBadCredentials {
		t.Fatalf("got %v, want %v", got, ErrBadCredentials)
	}
	if got := auth("carol", "s3cret", true); got != ErrBadCredentials {
		t.Fatalf("got %v, want %v", got, ErrBadCredentials)
	}
	if err := u.Authenticate(&ConnectInfo{}); err != nil {
		t.Fatal(err, "anonymous is AllowAnonymous's business")
	}

	line := FormatUserLine("alice", &c)
	for _, tc := range []struct {
		name, file, want string
	}{
		{"no colon", "# c\nalice\n", "f:2:"},
		{"bad prefix", "alice:$7$101$abc\n", "f:1:"},
		{"bad iterations", "\n\nalice:SCRAM-SHA-256$x:" + line[strings.Index(line, ":")+len("SCRAM-SHA-256$4096:")+1:] + "\n", "f:3:"},
		{"short key", "alice:SCRAM-SHA-256$4096:c2FsdA==$YQ==:YQ==\n", "f:1:"},
		{"twice", line + "\n" + line + "\n", "f:2:"},
	} {
		_, err := ParseUsers(strings.NewReader(tc.file), "f")
		if !(err != nil && strings.HasPrefix(err.Error(), tc.want) && errors.Is(err, ErrUsersFile)) {
			t.Fatal(tc.name, "got", err)
		}
	}
	_, err = LoadUsers(t.TempDir() + "/missing")
	if !(errors.Is(err, ErrUsersFile) && strings.Contains(err.Error(), "missing")) {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{"alice": true, "a-b.c@d": true, "": false, "a:b": false, "#a": false, "a b": false} {
		if got := ValidUserName(name); got != ok {
			t.Fatalf("%v: got %v, want %v", name, got, ok)
		}
	}
}

// TestSCRAMRand: the server nonce comes from SCRAM.Rand when set (a fixed
// source gives a fixed nonce), from crypto/rand otherwise.
func TestSCRAMRand(t *testing.T) {
	m := NewSCRAM(testUsers(t, "alice", "pw"))
	nonce := func() string {
		sf, _, err := m.Start(&ConnectInfo{}).Step([]byte("n,,n=alice,r=x"))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := scramAttrs(sf)
		return string(a['r'])
	}
	first := nonce()
	if nonce() == first {
		t.Fatal("random nonces repeat")
	}
	m.Rand = strings.NewReader(strings.Repeat("\x00", 2*scramNonceLen))
	if got, want := nonce(), "x"+strings.Repeat("A", 24); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got, want := nonce(), "x"+strings.Repeat("A", 24); got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}
