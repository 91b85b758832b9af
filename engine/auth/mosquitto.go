package auth

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Mosquitto password file entries, read as mosquitto_passwd writes them
// so that an existing file can be used unchanged:
//
//	user:$6$<salt>$<hash>              SHA-512(password || salt) (Mosquitto 1.x, -H sha512)
//	user:$7$<iterations>$<salt>$<hash> PBKDF2-HMAC-SHA512, 64-byte key (Mosquitto 2, the default)
//
// salt and hash in standard base64. Such a user logs in with a plain user
// name and password; SCRAM-SHA-256 needs keys these hashes cannot give, so
// SCRAM treats the user as unknown.

// The prefixes of Mosquitto's hashes.
const (
	mosquittoSHA512 = "$6$"
	mosquittoPBKDF2 = "$7$"
)

// mosquittoHashLen is the length of a Mosquitto hash: one SHA-512.
const mosquittoHashLen = sha512.Size

// isMosquitto reports whether s is a Mosquitto hash rather than a SCRAM
// credential.
func isMosquitto(s string) bool {
	return strings.HasPrefix(s, mosquittoSHA512) || strings.HasPrefix(s, mosquittoPBKDF2)
}

// parseMosquitto parses a Mosquitto hash ("$6$..." or "$7$...").
func parseMosquitto(s string) (Credential, error) {
	var c Credential
	parts := strings.Split(s[len(mosquittoSHA512):], "$")
	if strings.HasPrefix(s, mosquittoPBKDF2) {
		if len(parts) != 3 {
			return c, fmt.Errorf("%w: want %s<iterations>$<salt>$<hash>", ErrUsersFile, mosquittoPBKDF2)
		}
		n, err := strconv.Atoi(parts[0])
		if err != nil || n < 1 || n > maxIterations {
			return c, fmt.Errorf("%w: bad iteration count %q (1 to %d)", ErrUsersFile, parts[0], maxIterations)
		}
		c.Iterations = n
		parts = parts[1:]
	} else if len(parts) != 2 {
		return c, fmt.Errorf("%w: want %s<salt>$<hash>", ErrUsersFile, mosquittoSHA512)
	}
	enc := base64.StdEncoding
	var err error
	if c.Salt, err = enc.DecodeString(parts[0]); err != nil || len(c.Salt) == 0 {
		return c, fmt.Errorf("%w: bad salt", ErrUsersFile)
	}
	if c.Mosquitto, err = enc.DecodeString(parts[1]); err != nil || len(c.Mosquitto) != mosquittoHashLen {
		return c, fmt.Errorf("%w: bad hash (want %d bytes, base64)", ErrUsersFile, mosquittoHashLen)
	}
	return c, nil
}

// mosquittoString returns the stored form of a Mosquitto credential.
func (c *Credential) mosquittoString() string {
	enc := base64.StdEncoding
	if c.Iterations == 0 {
		return mosquittoSHA512 + enc.EncodeToString(c.Salt) + "$" + enc.EncodeToString(c.Mosquitto)
	}
	return mosquittoPBKDF2 + strconv.Itoa(c.Iterations) + "$" + enc.EncodeToString(c.Salt) + "$" +
		enc.EncodeToString(c.Mosquitto)
}

// verifyMosquitto reports, in constant time over the hashes, whether
// password matches the Mosquitto credential c.
func (c *Credential) verifyMosquitto(password []byte) bool {
	var sum []byte
	if c.Iterations == 0 {
		h := sha512.New()
		h.Write(password)
		h.Write(c.Salt)
		sum = h.Sum(nil)
	} else {
		var err error
		if sum, err = pbkdf2.Key(sha512.New, string(password), c.Salt, c.Iterations, len(c.Mosquitto)); err != nil {
			return false
		}
	}
	return subtle.ConstantTimeCompare(sum, c.Mosquitto) == 1
}
