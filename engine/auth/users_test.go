package auth

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// TestUsersUnknownUserCostsPBKDF2: a plain login of an unknown user runs
// the same PBKDF2 as a wrong password of a known one, so the time taken
// does not tell which users exist.
func TestUsersUnknownUserCostsPBKDF2(t *testing.T) {
	u := testUsers(t, "alice", "s3cret")
	equal(t, plainLogin(u, "mallory", "s3cret"), ErrBadCredentials)
	equal(t, u.derivations.Load(), uint64(1), "PBKDF2 runs for an unknown user")
	equal(t, plainLogin(u, "alice", "wrong"), ErrBadCredentials)
	equal(t, u.derivations.Load(), uint64(2), "PBKDF2 runs for a wrong password")
}

// TestUsersVerifiedCache: a repeated correct login skips PBKDF2; a wrong
// password, even right after a cached login, still pays it and fails; a
// replaced store drops the cache, so an old password stops working.
func TestUsersVerifiedCache(t *testing.T) {
	u := testUsers(t, "alice", "s3cret", "bob", "hunter2")
	noErr(t, plainLogin(u, "alice", "s3cret"))
	equal(t, u.derivations.Load(), uint64(1))
	for range 3 {
		noErr(t, plainLogin(u, "alice", "s3cret"))
	}
	equal(t, u.derivations.Load(), uint64(1), "cached login ran PBKDF2")
	for i, pw := range []string{"s3cre", "s3cret ", "hunter2", ""} {
		equal(t, plainLogin(u, "alice", pw), ErrBadCredentials, pw)
		equal(t, u.derivations.Load(), uint64(2+i), "wrong password skipped PBKDF2", pw)
	}
	// bob's cached tag is not alice's: the name is part of the tag.
	noErr(t, plainLogin(u, "bob", "hunter2"))
	equal(t, plainLogin(u, "alice", "hunter2"), ErrBadCredentials)
	noErr(t, plainLogin(u, "alice", "s3cret"))

	// A new file where alice changed her password and bob is gone.
	u.Replace(testUsers(t, "alice", "n3w"))
	before := u.derivations.Load()
	equal(t, plainLogin(u, "alice", "s3cret"), ErrBadCredentials, "old password after reload")
	equal(t, plainLogin(u, "bob", "hunter2"), ErrBadCredentials, "deleted user after reload")
	equal(t, u.derivations.Load(), before+2, "cache survived the reload")
	noErr(t, plainLogin(u, "alice", "n3w"))
	equal(t, u.Len(), 1)
}

// TestUsersReplaceKeepsUnchangedLogins: a reload keeps the cached login
// of a user whose credential did not change (no PBKDF2 storm after each
// reload) and drops that of a user whose password changed.
func TestUsersReplaceKeepsUnchangedLogins(t *testing.T) {
	path := writeUsersFile(t, "alice", "a", "bob", "b")
	u, err := LoadUsers(path)
	noErr(t, err)
	noErr(t, plainLogin(u, "alice", "a"))
	noErr(t, plainLogin(u, "bob", "b"))
	alice, _ := u.Lookup("alice")
	bob, err := NewCredential([]byte("b2"), DefaultIterations)
	noErr(t, err)
	next, err := ParseUsers(strings.NewReader(FormatUserLine("alice", &alice)+"\n"+FormatUserLine("bob", &bob)+"\n"), "f")
	noErr(t, err)
	u.Replace(next)
	before := u.derivations.Load()
	noErr(t, plainLogin(u, "alice", "a"))
	equal(t, u.derivations.Load(), before, "unchanged user's cached login dropped")
	equal(t, plainLogin(u, "bob", "b"), ErrBadCredentials, "changed user's old password")
	noErr(t, plainLogin(u, "bob", "b2"))
	equal(t, u.derivations.Load(), before+2)
}

// TestUsersCacheBounded: the cache never holds more than usersCacheMax
// users.
func TestUsersCacheBounded(t *testing.T) {
	var vc verifiedCache
	for i := range usersCacheMax + 10 {
		vc.put(strings.Repeat("u", 1+i%7)+string(rune('a'+i%26))+string(rune(i)), [32]byte{byte(i)})
	}
	check(t, len(vc.m) <= usersCacheMax, "cache holds", len(vc.m))
	vc.put("last", [32]byte{1})
	check(t, len(vc.m) <= usersCacheMax, "cache holds", len(vc.m))
	_, ok := vc.m["last"]
	check(t, ok, "newest entry evicted")
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
				noErr(t, plainLogin(u, "alice", "a"))
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
	equal(t, u.Len(), 1)
}

// TestSCRAMUnknownUserLooksKnown: an unknown user is shown the store's
// usual iteration count, and the same salt before and after a reload.
func TestSCRAMUnknownUserLooksKnown(t *testing.T) {
	var sb strings.Builder
	for _, name := range []string{"alice", "bob"} {
		c, err := NewCredential([]byte("pw"), 2*DefaultIterations)
		noErr(t, err)
		sb.WriteString(FormatUserLine(name, &c) + "\n")
	}
	u, err := ParseUsers(strings.NewReader(sb.String()), "f")
	noErr(t, err)
	m := NewSCRAM(u)
	first := func(user string) map[byte][]byte {
		sf, _, err := m.Start(&ConnectInfo{}).Step([]byte("n,,n=" + user + ",r=x"))
		noErr(t, err)
		a, _ := scramAttrs(sf)
		return a
	}
	equal(t, string(first("alice")['i']), "8192")
	equal(t, string(first("ghost")['i']), "8192", "unknown user's iteration count")
	salt := string(first("ghost")['s'])
	u.Replace(testUsers(t, "alice", "pw"))
	equal(t, string(first("ghost")['s']), salt, "unknown user's salt changed on reload")
	equal(t, string(first("ghost")['i']), "4096")
}

// TestUsersFileLimits: an absurd iteration count and an over-long line are
// refused naming their line.
func TestUsersFileLimits(t *testing.T) {
	c, err := NewCredential([]byte("pw"), DefaultIterations)
	noErr(t, err)
	line := FormatUserLine("alice", &c)
	huge := strings.Replace(line, "$4096:", "$2000000000:", 1)
	for _, tc := range []struct{ name, file, want string }{
		{"iterations", "# c\n" + huge + "\n", "f:2:"},
		{"long line", "# c\n\nalice:" + strings.Repeat("x", 70000) + "\n", "f:3:"},
	} {
		_, err := ParseUsers(strings.NewReader(tc.file), "f")
		check(t, err != nil && strings.HasPrefix(err.Error(), tc.want) && errors.Is(err, ErrUsersFile), tc.name, err)
	}
	// An error, which ends up in the log on a reload, quotes no key.
	stored, server := line[strings.LastIndex(line, "$")+1:strings.LastIndex(line, ":")], line[strings.LastIndex(line, ":")+1:]
	for _, bad := range []string{
		strings.Replace(line, server, server[:20], 1),
		strings.Replace(line, stored, stored[:20], 1),
	} {
		_, err := ParseUsers(strings.NewReader(bad+"\n"), "f")
		check(t, err != nil && !strings.Contains(err.Error(), server[:20]) && !strings.Contains(err.Error(), stored[:20]), "key in error:", err)
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
		check(t, known == tc.known && err == tc.err, tc.name, known, err)
	}
	noErr(t, plainLogin(u, "alice", "s3cret")) // the full check caches it
	known, err := login("alice", "s3cret", true, true)
	check(t, known && err == nil, "cached login not answered", known, err)
	known, err = login("alice", "s3cret!", true, true)
	check(t, !known && err == nil, "wrong password answered from the cache", known, err)
	equal(t, u.derivations.Load(), uint64(1), "AuthenticateCached ran PBKDF2")
}
