package engine

import (
	"bufio"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// DefaultSCRAMIterations is the PBKDF2 iteration count of new credentials,
// RFC 7677's minimum.
const DefaultSCRAMIterations = 4096

// scramSaltLen is the length of a new credential's random salt.
const scramSaltLen = 16

// UserCredential is what the broker keeps of a password: the SCRAM-SHA-256
// salted keys (RFC 5802 section 3), never the password itself.
type UserCredential struct {
	Salt       []byte
	Iterations int
	StoredKey  [sha256.Size]byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  [sha256.Size]byte // HMAC(SaltedPassword, "Server Key")
}

// DeriveCredential computes the credential of password with salt and
// iterations (at least 1).
func DeriveCredential(password, salt []byte, iterations int) (UserCredential, error) {
	salted, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, sha256.Size)
	if err != nil {
		return UserCredential{}, fmt.Errorf("engine: derive credential: %w", err)
	}
	c := UserCredential{Salt: append([]byte(nil), salt...), Iterations: iterations}
	c.StoredKey = sha256.Sum256(hmacSHA256(salted, []byte("Client Key")))
	copy(c.ServerKey[:], hmacSHA256(salted, []byte("Server Key")))
	return c, nil
}

// NewCredential derives the credential of password with a fresh random
// salt and iterations (DefaultSCRAMIterations or more is advised).
func NewCredential(password []byte, iterations int) (UserCredential, error) {
	salt := make([]byte, scramSaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	return DeriveCredential(password, salt, iterations)
}

// Verify reports, in constant time over the keys, whether password matches
// c. It runs PBKDF2 (about a millisecond at 4096 iterations).
func (c *UserCredential) Verify(password []byte) bool {
	d, err := DeriveCredential(password, c.Salt, c.Iterations)
	return err == nil && subtle.ConstantTimeCompare(d.StoredKey[:], c.StoredKey[:]) == 1
}

// scramPrefix starts the stored form of a credential, the same form
// PostgreSQL uses for its SCRAM secrets.
const scramPrefix = "SCRAM-SHA-256$"

// String returns the stored form
// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", base64.
func (c *UserCredential) String() string {
	enc := base64.StdEncoding
	return scramPrefix + strconv.Itoa(c.Iterations) + ":" + enc.EncodeToString(c.Salt) + "$" +
		enc.EncodeToString(c.StoredKey[:]) + ":" + enc.EncodeToString(c.ServerKey[:])
}

// ParseCredential parses the stored form written by String.
func ParseCredential(s string) (UserCredential, error) {
	var c UserCredential
	rest, ok := strings.CutPrefix(s, scramPrefix)
	if !ok {
		return c, fmt.Errorf("%w: does not start with %s", ErrUsersFile, scramPrefix)
	}
	params, keys, ok := strings.Cut(rest, "$")
	iter, salt, ok1 := strings.Cut(params, ":")
	stored, server, ok2 := strings.Cut(keys, ":")
	if !ok || !ok1 || !ok2 {
		return c, fmt.Errorf("%w: want %s<iterations>:<salt>$<StoredKey>:<ServerKey>", ErrUsersFile, scramPrefix)
	}
	n, err := strconv.Atoi(iter)
	if err != nil || n < 1 {
		return c, fmt.Errorf("%w: bad iteration count %q", ErrUsersFile, iter)
	}
	c.Iterations = n
	enc := base64.StdEncoding
	if c.Salt, err = enc.DecodeString(salt); err != nil || len(c.Salt) == 0 {
		return c, fmt.Errorf("%w: bad salt", ErrUsersFile)
	}
	for _, k := range []struct {
		dst *[sha256.Size]byte
		src string
	}{{&c.StoredKey, stored}, {&c.ServerKey, server}} {
		b, err := enc.DecodeString(k.src)
		if err != nil || len(b) != sha256.Size {
			return c, fmt.Errorf("%w: bad key %q", ErrUsersFile, k.src)
		}
		copy(k.dst[:], b)
	}
	return c, nil
}

// FormatUserLine returns the users-file line of user name with credential
// c, without a newline.
func FormatUserLine(name string, c *UserCredential) string {
	return name + ":" + c.String()
}

// ParseUserLine parses one users-file line "name:credential". Blank lines
// and lines starting with '#' give an empty name and no error.
func ParseUserLine(line string) (name string, c UserCredential, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", c, nil
	}
	name, secret, ok := strings.Cut(line, ":")
	if !ok || name == "" {
		return "", c, fmt.Errorf("%w: want user:%s<iterations>:<salt>$<StoredKey>:<ServerKey>", ErrUsersFile, scramPrefix)
	}
	c, err = ParseCredential(secret)
	return name, c, err
}

// Users is a read-only store of user credentials: an Authenticator for
// plain user name and password CONNECTs and the store behind SCRAM. Build
// it with ParseUsers or LoadUsers; safe from any goroutine.
type Users struct {
	m map[string]UserCredential
	// mockKey derives stable fake salts for unknown users, so that SCRAM
	// does not tell which users exist (RFC 5802 section 9).
	mockKey [32]byte
}

// ParseUsers reads a users file from r, one "name:credential" per line;
// '#' starts a comment line. An error names file (for messages) and the
// line number.
func ParseUsers(r io.Reader, file string) (*Users, error) {
	u := &Users{m: make(map[string]UserCredential)}
	_, _ = rand.Read(u.mockKey[:])
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		name, c, err := ParseUserLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		if name == "" {
			continue
		}
		if _, dup := u.m[name]; dup {
			return nil, fmt.Errorf("%s:%d: %w: user %q listed twice", file, n, ErrUsersFile, name)
		}
		u.m[name] = c
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return u, nil
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

// Len returns the number of users.
func (u *Users) Len() int { return len(u.m) }

// Lookup returns the credential of user name.
func (u *Users) Lookup(name string) (UserCredential, bool) {
	c, ok := u.m[name]
	return c, ok
}

// mockCredential is a credential no password matches, with a salt that is
// the same for every attempt on name.
func (u *Users) mockCredential(name string) UserCredential {
	return UserCredential{Salt: hmacSHA256(u.mockKey[:], []byte(name))[:scramSaltLen], Iterations: DefaultSCRAMIterations}
}

// Authenticate checks a plain CONNECT: a client without a user name passes
// (AllowAnonymous decides about it before); otherwise the user must exist
// and the password must match, else ErrBadCredentials. It runs PBKDF2 on
// the client's loop. Safe from any goroutine.
func (u *Users) Authenticate(info *ConnectInfo) error {
	if !info.UsernameFlag {
		return nil
	}
	c, ok := u.m[string(info.Username)]
	if !ok || !info.PasswordFlag || !c.Verify(info.Password) {
		return ErrBadCredentials
	}
	return nil
}

// ValidUserName reports whether name can be stored in a users file: not
// empty, without ':' or white space, not starting with '#'.
func ValidUserName(name string) bool {
	return name != "" && name[0] != '#' && !strings.ContainsAny(name, ": \t\r\n")
}
