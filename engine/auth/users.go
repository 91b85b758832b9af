package auth

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultIterations is the PBKDF2 iteration count of new credentials,
// RFC 7677's minimum.
const DefaultIterations = 4096

// scramSaltLen is the length of a new credential's random salt.
const scramSaltLen = 16

// Credential is what the broker keeps of a password: the SCRAM-SHA-256
// salted keys (RFC 5802 section 3), never the password itself.
type Credential struct {
	Salt       []byte
	Iterations int
	StoredKey  [sha256.Size]byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  [sha256.Size]byte // HMAC(SaltedPassword, "Server Key")
	// Mosquitto is the hash of a credential read from a Mosquitto
	// password file (mosquitto.go), with Salt and Iterations (0 for
	// "$6$"); nil for a SCRAM credential. The keys are unused then.
	Mosquitto []byte
}

// DeriveCredential computes the credential of password with salt and
// iterations (at least 1).
func DeriveCredential(password, salt []byte, iterations int) (Credential, error) {
	salted, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, sha256.Size)
	if err != nil {
		return Credential{}, fmt.Errorf("auth: derive credential: %w", err)
	}
	c := Credential{Salt: append([]byte(nil), salt...), Iterations: iterations}
	c.StoredKey = sha256.Sum256(hmacSHA256(salted, []byte("Client Key")))
	copy(c.ServerKey[:], hmacSHA256(salted, []byte("Server Key")))
	return c, nil
}

// NewCredential derives the credential of password with a fresh random
// salt and iterations (DefaultIterations or more is advised).
func NewCredential(password []byte, iterations int) (Credential, error) {
	salt := make([]byte, scramSaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	return DeriveCredential(password, salt, iterations)
}

// Verify reports, in constant time over the keys, whether password matches
// c. It runs PBKDF2 (about a millisecond at 4096 iterations).
func (c *Credential) Verify(password []byte) bool {
	if c.Mosquitto != nil {
		return c.verifyMosquitto(password)
	}
	d, err := DeriveCredential(password, c.Salt, c.Iterations)
	return err == nil && subtle.ConstantTimeCompare(d.StoredKey[:], c.StoredKey[:]) == 1
}

// scramPrefix starts the stored form of a credential, the same form
// PostgreSQL uses for its SCRAM secrets.
const scramPrefix = "SCRAM-SHA-256$"

// String returns the stored form
// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", base64, or
// for a Mosquitto credential the form it was read in.
func (c *Credential) String() string {
	if c.Mosquitto != nil {
		return c.mosquittoString()
	}
	enc := base64.StdEncoding
	return scramPrefix + strconv.Itoa(c.Iterations) + ":" + enc.EncodeToString(c.Salt) + "$" +
		enc.EncodeToString(c.StoredKey[:]) + ":" + enc.EncodeToString(c.ServerKey[:])
}

// ParseCredential parses the stored form written by String: a SCRAM
// credential, or a Mosquitto "$6$" or "$7$" hash.
func ParseCredential(s string) (Credential, error) {
	var c Credential
	if isMosquitto(s) {
		return parseMosquitto(s)
	}
	rest, ok := strings.CutPrefix(s, scramPrefix)
	if !ok {
		return c, fmt.Errorf("%w: does not start with %s, %s or %s", ErrUsersFile, scramPrefix, mosquittoSHA512, mosquittoPBKDF2)
	}
	params, keys, ok := strings.Cut(rest, "$")
	iter, salt, ok1 := strings.Cut(params, ":")
	stored, server, ok2 := strings.Cut(keys, ":")
	if !ok || !ok1 || !ok2 {
		return c, fmt.Errorf("%w: want %s<iterations>:<salt>$<StoredKey>:<ServerKey>", ErrUsersFile, scramPrefix)
	}
	n, err := strconv.Atoi(iter)
	if err != nil || n < 1 || n > maxIterations {
		return c, fmt.Errorf("%w: bad iteration count %q (1 to %d)", ErrUsersFile, iter, maxIterations)
	}
	c.Iterations = n
	enc := base64.StdEncoding
	if c.Salt, err = enc.DecodeString(salt); err != nil || len(c.Salt) == 0 {
		return c, fmt.Errorf("%w: bad salt", ErrUsersFile)
	}
	for _, k := range []struct {
		dst       *[sha256.Size]byte
		src, name string
	}{{&c.StoredKey, stored, "StoredKey"}, {&c.ServerKey, server, "ServerKey"}} {
		b, err := enc.DecodeString(k.src)
		if err != nil || len(b) != sha256.Size {
			// Not quoted: key material does not belong in logs.
			return c, fmt.Errorf("%w: bad %s (want %d bytes, base64)", ErrUsersFile, k.name, sha256.Size)
		}
		copy(k.dst[:], b)
	}
	return c, nil
}

// FormatUserLine returns the users-file line of user name with credential
// c, without a newline.
func FormatUserLine(name string, c *Credential) string {
	return name + ":" + c.String()
}

// ParseUserLine parses one users-file line "name:credential". Blank lines
// and lines starting with '#' give an empty name and no error.
func ParseUserLine(line string) (name string, c Credential, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", c, nil
	}
	name, secret, ok := strings.Cut(line, ":")
	if !ok || name == "" {
		return "", c, fmt.Errorf("%w: want user:%s<iterations>:<salt>$<StoredKey>:<ServerKey> (or a mosquitto_passwd hash)", ErrUsersFile, scramPrefix)
	}
	c, err = ParseCredential(secret)
	return name, c, err
}

// Users is a store of user credentials: a CachedAuthenticator for plain
// user name and password CONNECTs and the store behind SCRAM. Build it
// with ParseUsers or LoadUsers; Replace swaps its contents atomically (a
// password file reload). Safe from any goroutine.
type Users struct {
	tab atomic.Pointer[userTable]
	// mockKey derives stable fake salts for unknown users, so that SCRAM
	// does not tell which users exist (RFC 5802 section 9). It survives
	// Replace: a fake salt that changed on reload would tell as much.
	mockKey [32]byte
	// cacheKey keys the tags of verified passwords (verifiedCache).
	cacheKey [32]byte
	tags     sync.Pool // of *tagger
	// derivations counts the PBKDF2 runs of Authenticate.
	derivations atomic.Uint64
}

// userTable is one immutable generation of a Users store with its cache
// of verified passwords; Replace installs a new one, carrying over only
// the cached logins of unchanged credentials.
type userTable struct {
	m map[string]Credential
	// mockIter is the iteration count shown for unknown users: the most
	// common one of the store, so that it does not single them out.
	mockIter int
	cache    verifiedCache
}

// usersCacheMax bounds the verified-password cache: one entry per user.
const usersCacheMax = 4096

// maxIterations bounds a stored iteration count: a wrong password holds
// a Pool worker for the whole PBKDF2 (about half a second at this count).
const maxIterations = 1 << 20

// verifiedCache maps a user name to the tag, HMAC-SHA256 under the
// store's per-process random cacheKey, of the password that last passed
// the full PBKDF2 check for that user. A repeated correct login then costs
// one HMAC and a constant-time compare instead of PBKDF2. Only a password
// that passed the full check is ever cached, and any password that does
// not match the tag (a wrong one included) still pays the full check, so
// the cache gives an attacker no faster way to test guesses: each guess
// costs the broker PBKDF2, as without the cache: an online attacker stays
// bounded to the PBKDF2 rate (a few hundred guesses a second per core),
// whether or not the user's login is cached. The tags cannot be attacked
// offline without the key, which never leaves the process (a dump of the
// process memory would give both, and guesses at HMAC speed: the price of
// a fast repeated login). The key is secret, so the compare's timing says
// nothing either.
type verifiedCache struct {
	mu sync.RWMutex
	m  map[string][sha256.Size]byte
}

// newUsers returns a store of the credentials m (kept, not copied).
func newUsers(m map[string]Credential) *Users {
	u := &Users{}
	_, _ = rand.Read(u.mockKey[:]) // crypto/rand.Read never fails (Go 1.24+)
	_, _ = rand.Read(u.cacheKey[:])
	u.tags.New = func() any { return &tagger{h: hmac.New(sha256.New, u.cacheKey[:])} }
	u.tab.Store(newUserTable(m))
	return u
}

func newUserTable(m map[string]Credential) *userTable {
	t := &userTable{m: m, mockIter: DefaultIterations}
	count := make(map[int]int)
	for _, c := range m {
		if c.Mosquitto != nil {
			continue // never shown to SCRAM
		}
		count[c.Iterations]++
		if n := count[c.Iterations]; n > count[t.mockIter] || (n == count[t.mockIter] && c.Iterations < t.mockIter) {
			t.mockIter = c.Iterations
		}
	}
	return t
}

// ParseUsers reads a users file from r, one "name:credential" per line;
// '#' starts a comment line. An error names file (for messages) and the
// line number.
func ParseUsers(r io.Reader, file string) (*Users, error) {
	m := make(map[string]Credential)
	sc := bufio.NewScanner(r)
	n := 1
	for ; sc.Scan(); n++ {
		name, c, err := ParseUserLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		if name == "" {
			continue
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("%s:%d: %w: user %q listed twice", file, n, ErrUsersFile, name)
		}
		m[name] = c
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w: %w", file, n, ErrUsersFile, err)
	}
	return newUsers(m), nil
}

// LoadUsers reads the users file at path (see ParseUsers).
func LoadUsers(path string) (*Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsersFile, err)
	}
	defer f.Close()
	return ParseUsers(f, path)
}

// Replace makes u hold the credentials of from, atomically: a login
// checks either the old or the new users, never a mix. Cached logins are
// kept only for users whose credential is unchanged, so that a reload
// does not make every reconnecting client pay PBKDF2 again. from should
// not be used afterwards. Safe from any goroutine.
func (u *Users) Replace(from *Users) {
	old, nt := u.tab.Load(), newUserTable(from.tab.Load().m)
	old.cache.mu.RLock()
	for name, tag := range old.cache.m {
		if oc, nc := old.m[name], nt.m[name]; sameCredential(&oc, &nc) {
			nt.cache.put(name, tag)
		}
	}
	old.cache.mu.RUnlock()
	u.tab.Store(nt)
}

// sameCredential reports whether a and b are the same non-empty
// credential.
func sameCredential(a, b *Credential) bool {
	return len(a.Salt) > 0 && bytes.Equal(a.Salt, b.Salt) && a.Iterations == b.Iterations &&
		bytes.Equal(a.Mosquitto, b.Mosquitto) &&
		a.StoredKey == b.StoredKey && a.ServerKey == b.ServerKey
}

// Len returns the number of users.
func (u *Users) Len() int { return len(u.tab.Load().m) }

// Lookup returns the credential of user name.
func (u *Users) Lookup(name string) (Credential, bool) {
	c, ok := u.tab.Load().m[name]
	return c, ok
}

// lookupSCRAM returns the SCRAM credential of user name, or a mock one
// that no password matches, with a salt that is the same for every attempt
// on name and the store's usual iteration count, and known false. A
// Mosquitto credential is unknown to SCRAM: it has no SCRAM keys.
func (u *Users) lookupSCRAM(name []byte) (c Credential, known bool) {
	t := u.tab.Load()
	if c, known = u.lookupIn(t, name); c.Mosquitto != nil {
		return u.mock(t, name), false
	}
	return c, known
}

// lookupIn returns the credential of user name in generation t, or the
// mock one and known false.
func (u *Users) lookupIn(t *userTable, name []byte) (Credential, bool) {
	if c, ok := t.m[string(name)]; ok {
		return c, true
	}
	return u.mock(t, name), false
}

// mock returns the mock credential of unknown user name in generation t.
func (u *Users) mock(t *userTable, name []byte) Credential {
	return Credential{Salt: hmacSHA256(u.mockKey[:], name)[:scramSaltLen], Iterations: t.mockIter}
}

// Authenticate checks a plain CONNECT: a client without a user name passes
// (the broker's AllowAnonymous decides about it before); otherwise the user
// must exist and the password must match, else ErrBadCredentials. A
// password that does not match the cached one runs PBKDF2, for an unknown
// user too, so that the time taken does not tell which users exist: call
// it on a Pool worker, not on an event loop. Safe from any goroutine.
func (u *Users) Authenticate(info *ConnectInfo) error {
	if !info.UsernameFlag {
		return nil
	}
	if !info.PasswordFlag || !u.verify(info.Username, info.Password) {
		return ErrBadCredentials
	}
	return nil
}

// AuthenticateCached answers a plain CONNECT without PBKDF2 when it can:
// no user name (accepted, as by Authenticate), no password (refused), or
// the user's cached login (accepted). Any other login, a wrong password
// included, is unknown to it (known false): only Authenticate can refuse
// a password. It costs one HMAC and allocates nothing
// (BenchmarkUsersAuthenticate/cached). Safe from any goroutine.
func (u *Users) AuthenticateCached(info *ConnectInfo) (known bool, err error) {
	switch {
	case !info.UsernameFlag:
		return true, nil
	case !info.PasswordFlag:
		return true, ErrBadCredentials
	case u.cached(u.tab.Load(), info.Username, u.tag(info.Username, info.Password)):
		return true, nil
	}
	return false, nil
}

// verify reports whether password is the password of user name: from the
// verified cache, else with the full PBKDF2 check (see verifiedCache).
func (u *Users) verify(name, password []byte) bool {
	t := u.tab.Load()
	tag := u.tag(name, password)
	if u.cached(t, name, tag) {
		return true
	}
	c, known := u.lookupIn(t, name)
	u.derivations.Add(1)
	if !c.Verify(password) || !known {
		return false
	}
	t.cache.put(string(name), tag)
	return true
}

// cached reports whether tag is the cached tag of user name's verified
// password in generation t, in constant time over the tags.
func (u *Users) cached(t *userTable, name []byte, tag [sha256.Size]byte) bool {
	t.cache.mu.RLock()
	want, hit := t.cache.m[string(name)]
	t.cache.mu.RUnlock()
	return hit && subtle.ConstantTimeCompare(want[:], tag[:]) == 1
}

// tagger is a pooled HMAC-SHA256 under cacheKey with its scratch, so that
// a cached login allocates nothing.
type tagger struct {
	h   hash.Hash
	len [4]byte
	sum [sha256.Size]byte
}

// tag returns HMAC-SHA256(cacheKey, len(name) name password).
func (u *Users) tag(name, password []byte) [sha256.Size]byte {
	tg := u.tags.Get().(*tagger)
	tg.h.Reset()
	binary.BigEndian.PutUint32(tg.len[:], uint32(len(name)))
	tg.h.Write(tg.len[:])
	tg.h.Write(name)
	tg.h.Write(password)
	out := [sha256.Size]byte(tg.h.Sum(tg.sum[:0]))
	u.tags.Put(tg)
	return out
}

// put records the tag of user name's verified password, evicting an
// arbitrary entry when the cache is full.
func (vc *verifiedCache) put(name string, tag [sha256.Size]byte) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.m == nil {
		vc.m = make(map[string][sha256.Size]byte)
	}
	if _, ok := vc.m[name]; !ok && len(vc.m) >= usersCacheMax {
		for k := range vc.m {
			delete(vc.m, k)
			break
		}
	}
	vc.m[name] = tag
}

// ValidUserName reports whether name can be stored in a users file: not
// empty, without ':' or white space, not starting with '#'.
func ValidUserName(name string) bool {
	return name != "" && name[0] != '#' && !strings.ContainsAny(name, ": \t\r\n")
}
