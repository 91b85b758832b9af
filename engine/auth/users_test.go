package auth

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestUsersUnknownUserCostsPBKDF2: a plain login of an unknown user runs
// the same PBKDF2 as a wrong password of a known one, so the time taken
// does not tell which users exist.
func TestUsersUnknownUserCostsPBKDF2(t *testing.T) {
	u := testUsers(t, "alice", "s3cret")
	if got := plainLogin(u, "mallory", "s3cret"); got != ErrBadCredentials {
		t.Fatalf("got %v, want %v", got, ErrBadCredentials)
	}
	if got := u.derivations.Load(); got != uint64(1) {
		t.Fatalf("PBKDF2 runs for an unknown user: got %v, want %v", got, uint64(1))
	}
	if got := plainLogin(u, "alice", "wrong"); got != ErrBadCredentials {
		t.Fatalf("got %v, want %v", got, ErrBadCredentials)
	}
	if got := u.derivations.Load(); got != uint64(2) {
		t.Fatalf("PBKDF2 runs for a wrong password: got %v, want %v", got, uint64(2))
	}
}

// TestUsersVerifiedCache: a repeated correct login skips PBKDF2; a wrong
// password, even right after a cached login, still pays it and fails; a
// replaced store drops the cache, so an old password stops working.
func TestUsersVerifiedCache(t *testing.T) {
	u := testUsers(t, "alice", "s3cret", "bob", "hunter2")
	if err := plainLogin(u, "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if got := u.derivations.Load(); got != uint64(1) {
		t.Fatalf("got %v, want %v", got, uint64(1))
	}
	for range 3 {
		if err := plainLogin(u, "alice", "s3cret"); err != nil {
			t.Fatal(err)
		}
	}
	if got := u.derivations.Load(); got != uint64(1) {
		t.Fatalf("cached login ran PBKDF2: got %v, want %v", got, uint64(1))
	}
	for i, pw := range []string{"s3cre", "s3cret ", "hunter2", ""} {
		if got := plainLogin(u, "alice", pw); got != ErrBadCredentials {
			t.Fatalf("%v: got %v, want %v", pw, got, ErrBadCredentials)
		}
		if got := u.derivations.Load(); got != uint64(2+i) {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("wrong password skipped PBKDF2", pw), got, uint64(2+i))
		}
	}
	// bob's cached tag is not alice's: the name is part of the tag.
	if err := plainLogin(u, "bob", "hunter2"); err != nil {
		t.Fatal(err)
	}
	if got := plainLogin(u, "alice", "hunter2"); got != ErrBadCredentials {
		t.Fatalf("got %v, want %v", got, ErrBadCredentials)
	}
	if err := plainLogin(u, "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}

	// A new file where alice changed her password and bob is gone.
	u.Replace(testUsers(t, "alice", "n3w"))
	before := u.derivations.Load()
	if got := plainLogin(u, "alice", "s3cret"); got != ErrBadCredentials {
		t.Fatalf("old password after reload: got %v, want %v", got, ErrBadCredentials)
	}
	if got := plainLogin(u, "bob", "hunter2"); got != ErrBadCredentials {
		t.Fatalf("deleted user after reload: got %v, want %v", got, ErrBadCredentials)
	}
	if got := u.derivations.Load(); got != (before + 2) {
		t.Fatalf("cache survived the reload: got %v, want %v", got, before+2)
	}
	if err := plainLogin(u, "alice", "n3w"); err != nil {
		t.Fatal(err)
	}
	if got := u.Len(); got != 1 {
		t.Fatalf("got %v, want %v", got, 1)
	}
}

// TestUsersReplaceKeepsUnchangedLogins: a reload keeps the cached login
// of a user whose credential did not change (no PBKDF2 storm after each
// reload) and drops that of a user whose password changed.
func TestUsersReplaceKeepsUnchangedLogins(t *testing.T) {
	path := writeUsersFile(t, "alice", "a", "bob", "b")
	u, err := LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := plainLogin(u, "alice", "a"); err != nil {
		t.Fatal(err)
	}
	if err := plainLogin(u, "bob", "b"); err != nil {
		t.Fatal(err)
	}
	alice, _ := u.Lookup("alice")
	bob, err := NewCredential([]byte("b2"), DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	next, err := ParseUsers(strings.NewReader(FormatUserLine("alice", &alice)+"\n"+FormatUserLine("bob", &bob)+"\n"), "f")
	if err != nil {
		t.Fatal(err)
	}
	u.Replace(next)
	before := u.derivations.Load()
	if err := plainLogin(u, "alice", "a"); err != nil {
		t.Fatal(err)
	}
	if got := u.derivations.Load(); got != before {
		t.Fatalf("unchanged user's cached login dropped: got %v, want %v", got, before)
	}
	if got := plainLogin(u, "bob", "b"); got != ErrBadCredentials {
		t.Fatalf("changed user's old password: got %v, want %v", got, ErrBadCredentials)
	}
	if err := plainLogin(u, "bob", "b2"); err != nil {
		t.Fatal(err)
	}
	if got := u.derivations.Load(); got != (before + 2) {
		t.Fatalf("got %v, want %v", got, before+2)
	}
}

// TestUsersCacheBounded: the cache never holds more than usersCacheMax
// users.
func TestUsersCacheBounded(t *testing.T) {
	var vc verifiedCache
	for i := range usersCacheMax + 10 {
		vc.put(strings.Repeat("u", 1+i%7)+string(rune('a'+i%26))+string(rune(i)), [32]byte{byte(i)})
	}
	if len(vc.m) > usersCacheMax {
		t.Fatal("cache holds", len(vc.m))
	}
	vc.put("last", [32]byte{1})
	if len(vc.m) > usersCacheMax {
		t.Fatal("cache holds", len(vc.m))
	}
	_, ok := vc.m["last"]
	if !ok {
		t.Fatal("newest entry evicted")
	}
}

// TestUsersConcurrentReplace: logins on several goroutines while the store
// is replaced see either the old or the new users, never an error of
// another kind (run under -race).
func TestUsersConcurrentReplace(t *testing.T) {
	u := testUsers(t, "alice", "a")
	next := []*Users{testUsers(t, "alice", "a", "bob", "b"), testUsers(t, "alice", "a")}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 20 {
				if err := plainLogin(u, "alice", "a"); err != nil {
					t.Fatal(err)
				}
				if err := plainLogin(u, "bob", "b"); err != nil && err != ErrBadCredentials {
					t.Error(err)
				}
				_, _ = u.Lookup("bob")
			}
		})
	}
	for _, n := range next {
		u.Replace(n)
	}
	wg.Wait()
	if got := u.Len(); got != 1 {
		t.Fatalf("got %v, want %v", got, 1)
	}
}

// TestSCRAMUnknownUserLooksKnown: an unknown user is shown the store's
// usual iteration count, and the same salt before and after a reload.
func TestSCRAMUnknownUserLooksKnown(t *testing.T) {
	var sb strings.Builder
	for _, name := range []string{"alice", "bob"} {
		c, err := NewCredential([]byte("pw"), 2*DefaultIterations)
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(FormatUserLine(name, &c) + "\n")
	}
	u, err := ParseUsers(strings.NewReader(sb.String()), "f")
	if err != nil {
		t.Fatal(err)
	}
	m := NewSCRAM(u)
	first := func(user string) map[byte][]byte {
		sf, _, err := m.Start(&ConnectInfo{}).Step([]byte("n,,n=" + user + ",r=x"))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := scramAttrs(sf)
		return a
	}
	if got := string(first("alice")['i']); got != "8192" {
		t.Fatalf("got %v, want %v", got, "8192")
	}
	if got := string(first("ghost")['i']); got != "8192" {
		t.Fatalf("unknown user's iteration count: got %v, want %v", got, "8192")
	}
	salt := string(first("ghost")['s'])
	u.Replace(testUsers(t, "alice", "pw"))
	if got := string(first("ghost")['s']); got != salt {
		t.Fatalf("unknown user's salt changed on reload: got %v, want %v", got, salt)
	}
	if got := string(first("ghost")['i']); got != "4096" {
		t.Fatalf("got %v, want %v", got, "4096")
	}
}

// TestUsersFileLimits: an absurd iteration count and an over-long line are
// refused naming their line.
func TestUsersFileLimits(t *testing.T) {
	c, err := NewCredential([]byte("pw"), DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	line := FormatUserLine("alice", &c)
	huge := strings.Replace(line, "$4096:", "$2000000000:", 1)
	for _, tc := range []struct{ name, file, want string }{
		{"iterations", "# c\n" + huge + "\n", "f:2:"},
		{"long line", "# c\n\nalice:" + strings.Repeat("x", 70000) + "\n", "f:3:"},
	} {
		_, err := ParseUsers(strings.NewReader(tc.file), "f")
		if !(err != nil && strings.HasPrefix(err.Error(), tc.want) && errors.Is(err, ErrUsersFile)) {
			t.Fatal(tc.name, err)
		}
	}
	// An error, which ends up in the log on a reload, quotes no key.
	stored, server := line[strings.LastIndex(line, "$")+1:strings.LastIndex(line, ":")], line[strings.LastIndex(line, ":")+1:]
	for _, bad := range []string{
		strings.Replace(line, server, server[:20], 1),
		strings.Replace(line, stored, stored[:20], 1),
	} {
		_, err := ParseUsers(strings.NewReader(bad+"\n"), "f")
		if !(err != nil && !strings.Contains(err.Error(), server[:20]) && !strings.Contains(err.Error(), stored[:20])) {
			t.Fatal("key in error:", err)
		}
	}
}

// TestUsersAuthenticateCached: the loop's fast path answers only what it
// can without PBKDF2 (no user name, no password, a cached login) and
// leaves every other login, wrong passwords included, to Authenticate; it
// never runs PBKDF2.
func TestUsersAuthenticateCached(t *testing.T) {
	u := testUsers(t, "alice", "s3cret")
	login := func(user, pass string, hasUser, hasPass bool) (bool, error) {
		return u.AuthenticateCached(&ConnectInfo{UsernameFlag: hasUser, Username: []byte(user), PasswordFlag: hasPass, Password: []byte(pass)})
	}
	for _, tc := range []struct {
		name             string
		user, pass       string
		hasUser, hasPass bool
		known            bool
		err              error
	}{
		{name: "anonymous", known: true},
		{name: "no password", user: "alice", hasUser: true, known: true, err: ErrBadCredentials},
		{name: "not cached yet", user: "alice", pass: "s3cret", hasUser: true, hasPass: true},
		{name: "wrong password", user: "alice", pass: "nope", hasUser: true, hasPass: true},
		{name: "unknown user", user: "mallory", pass: "x", hasUser: true, hasPass: true},
	} {
		known, err := login(tc.user, tc.pass, tc.hasUser, tc.hasPass)
		if !(known == tc.known && err == tc.err) {
			t.Fatal(tc.name, known, err)
		}
	}
	if err := plainLogin(u, "alice", "s3cret"); err != nil { // the full check caches it
		t.Fatal(err)
	}
	known, err := login("alice", "s3cret", true, true)
	if !(known && err == nil) {
		t.Fatal("cached login not answered", known, err)
	}
	known, err = login("alice", "s3cret!", true, true)
	if !(!known && err == nil) {
		t.Fatal("wrong password answered from the cache", known, err)
	}
	if got := u.derivations.Load(); got != uint64(1) {
		t.Fatalf("AuthenticateCached ran PBKDF2: got %v, want %v", got, uint64(1))
	}
}
