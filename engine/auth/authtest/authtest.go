// Package authtest holds test helpers for the auth package and the broker:
// the client side of SCRAM-SHA-256, written from RFC 5802 independently of
// the server in package auth. Only tests import it.
package authtest

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SCRAMClient is the client side of one SCRAM-SHA-256 exchange (RFC 5802
// section 3). Set User, Pass and Nonce (the client nonce), then call First,
// Final with the server-first message and Verify with the server-final
// one. Not safe for concurrent use.
type SCRAMClient struct {
	User, Pass, Nonce string

	bare      string // client-first-message-bare
	serverSig []byte // expected server signature
}

// First returns client-first-message, without channel binding.
func (sc *SCRAMClient) First() []byte {
	sc.bare = "n=" + strings.NewReplacer("=", "=3D", ",", "=2C").Replace(sc.User) + ",r=" + sc.Nonce
	return []byte("n,," + sc.bare)
}

// Final answers server-first-message with client-final-message. It may
// run on a client library's goroutine, hence an error rather than a test
// failure.
func (sc *SCRAMClient) Final(serverFirst []byte) ([]byte, error) {
	attrs := make(map[string]string)
	for part := range strings.SplitSeq(string(serverFirst), ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, errors.New("authtest: bad server-first " + string(serverFirst))
		}
		attrs[k] = v
	}
	nonce := attrs["r"]
	if !strings.HasPrefix(nonce, sc.Nonce) || len(nonce) == len(sc.Nonce) {
		return nil, errors.New("authtest: bad server nonce in " + string(serverFirst))
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	if err != nil {
		return nil, err
	}
	iter, err := strconv.Atoi(attrs["i"])
	if err != nil {
		return nil, err
	}
	salted, err := pbkdf2.Key(sha256.New, sc.Pass, salt, iter, sha256.Size)
	if err != nil {
		return nil, err
	}
	clientKey := HMAC(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	without := "c=biws,r=" + nonce
	authMsg := []byte(sc.bare + "," + string(serverFirst) + "," + without)
	sig := HMAC(stored[:], authMsg)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	sc.serverSig = HMAC(HMAC(salted, []byte("Server Key")), authMsg)
	return []byte(without + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Verify reports whether serverFinal proves that the server knows the
// user's ServerKey.
func (sc *SCRAMClient) Verify(serverFinal []byte) bool {
	return sc.serverSig != nil && string(serverFinal) == "v="+base64.StdEncoding.EncodeToString(sc.serverSig)
}

// HMAC returns HMAC-SHA-256(key, msg).
func HMAC(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}
