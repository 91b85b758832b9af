package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"strconv"
)

// SCRAMSHA256 is the MQTT 5 Authentication Method name of SCRAM-SHA-256
// (RFC 5802, RFC 7677), as EMQX offers it.
const SCRAMSHA256 = "SCRAM-SHA-256"

// scramNonceLen is the number of random bytes in the server nonce.
const scramNonceLen = 18

// Limits on what a client sends, so that an exchange keeps a few
// kilobytes per connection whatever the Maximum Packet Size.
const (
	scramMaxMessage = 1024 // client-first or client-final, in bytes
	scramMaxNonce   = 256  // client nonce, in bytes
)

// SCRAM is the server side of SCRAM-SHA-256 enhanced authentication over a
// Users store: a Method. Channel binding is not supported (a client asking
// for it is refused) and user names and passwords are used as UTF-8 bytes
// without SASLprep. No step runs PBKDF2 (the client does), so every step
// is cheap enough for an event loop. Create it with NewSCRAM; safe from
// any goroutine.
type SCRAM struct {
	// Rand is the source of the server nonces; nil means crypto/rand. As
	// with tls.Config.Rand, a fixed source makes exchanges reproducible
	// (fuzzing) and must never be set in production. Set it before the
	// first Start.
	Rand  io.Reader
	users *Users
	// nonce returns a fresh server nonce (printable, no comma); tests
	// replace it to replay RFC 7677's exchange.
	nonce func() string
}

// NewSCRAM returns the SCRAM-SHA-256 method checking the credentials of
// users. The broker registers it under SCRAMSHA256 in its methods (engine
// Config.AuthMethods).
func NewSCRAM(users *Users) *SCRAM {
	m := &SCRAM{users: users}
	m.nonce = m.randomNonce
	return m
}

// randomNonce returns scramNonceLen bytes of m.Rand, base64.
func (m *SCRAM) randomNonce() string {
	var b [scramNonceLen]byte
	if m.Rand != nil {
		_, _ = io.ReadFull(m.Rand, b[:]) // a short source leaves zeros: tests only
	} else {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	}
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// Start begins one SCRAM exchange. info is not kept. Safe from any
// goroutine.
func (m *SCRAM) Start(info *ConnectInfo) Exchange {
	ex := &scramExchange{m: m, wantSet: info.UsernameFlag}
	if info.UsernameFlag {
		ex.want = string(info.Username)
	}
	return ex
}

// scramExchange is one connection's SCRAM-SHA-256 conversation. Owned by
// the connection's loop.
type scramExchange struct {
	m       *SCRAM
	want    string // user name the exchange must authenticate, if wantSet
	wantSet bool   // the CONNECT had a User Name (maybe empty)

	step      int
	user      string
	cred      Credential
	known     bool   // user exists; unknown users fail at the proof
	gs2       []byte // GS2 header of client-first, echoed in c=
	nonce     []byte // client nonce + server nonce
	authMsg   []byte // client-first-bare "," server-first
	authentic bool
}

// Step runs one SCRAM message: client-first yields server-first, then
// client-final yields server-final and done. A wrong proof or unknown user
// is ErrBadCredentials; a malformed or tampered message is
// ErrNotAuthorized. out stays valid until the next call.
func (ex *scramExchange) Step(data []byte) (out []byte, done bool, err error) {
	ex.step++
	switch ex.step {
	case 1:
		out, err = ex.first(data)
		return out, false, err
	case 2:
		out, err = ex.final(data)
		return out, err == nil, err
	}
	return nil, false, ErrNotAuthorized
}

// Username returns the user the exchange authenticated, "" before.
func (ex *scramExchange) Username() string {
	if !ex.authentic {
		return ""
	}
	return ex.user
}

// first parses client-first-message (RFC 5802 section 7) and returns
// server-first-message.
func (ex *scramExchange) first(msg []byte) ([]byte, error) {
	// gs2-header: "n," or "y," (no channel binding), then an optional
	// authzid "a=...", then ",".
	if len(msg) < 3 || len(msg) > scramMaxMessage || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',' {
		return nil, ErrNotAuthorized // "p=": channel binding not supported
	}
	i := bytes.IndexByte(msg[2:], ',')
	if i < 0 {
		return nil, ErrNotAuthorized
	}
	ex.gs2 = append([]byte(nil), msg[:2+i+1]...)
	bare := msg[2+i+1:]
	// client-first-message-bare: "n=" user "," "r=" nonce, in this order;
	// a reserved "m=" extension is refused (RFC 5802 section 5.1).
	attrs, ok := scramAttrs(bare)
	if !ok || !scramOrder(bare, "nr") || !scramNonceOK(attrs['r']) {
		return nil, ErrNotAuthorized
	}
	if authz := ex.gs2[2 : len(ex.gs2)-1]; len(authz) > 0 {
		// Acting as another user is not offered: the authzid, if any,
		// must name the authenticated user.
		if !bytes.HasPrefix(authz, []byte("a=")) || !bytes.Equal(authz[2:], attrs['n']) {
			return nil, ErrNotAuthorized
		}
	}
	user, ok := scramUnescape(attrs['n'])
	if !ok {
		return nil, ErrNotAuthorized
	}
	ex.user = user
	// An unknown user gets a mock credential and fails at the proof
	// only: no user enumeration (RFC 5802 section 9).
	ex.cred, ex.known = ex.m.users.lookupSCRAM([]byte(user))
	ex.nonce = append(append([]byte(nil), attrs['r']...), ex.m.nonce()...)
	sf := make([]byte, 0, 64+len(ex.nonce))
	sf = append(sf, "r="...)
	sf = append(sf, ex.nonce...)
	sf = append(sf, ",s="...)
	sf = base64.StdEncoding.AppendEncode(sf, ex.cred.Salt)
	sf = append(sf, ",i="...)
	sf = strconv.AppendInt(sf, int64(ex.cred.Iterations), 10)
	ex.authMsg = make([]byte, 0, len(bare)+1+len(sf)+1+len(ex.nonce)+64)
	ex.authMsg = append(append(append(ex.authMsg, bare...), ','), sf...)
	return sf, nil
}

// final checks client-final-message and returns server-final-message.
func (ex *scramExchange) final(msg []byte) ([]byte, error) {
	// client-final-message-without-proof ("c=" cbind "," "r=" nonce
	// ["," extensions]) "," "p=" proof: proof last, so that the whole
	// message but the proof is signed.
	i := bytes.LastIndex(msg, []byte(",p="))
	if i < 0 || len(msg) > scramMaxMessage || bytes.IndexByte(msg[i+1:], ',') >= 0 {
		return nil, ErrNotAuthorized
	}
	attrs, ok := scramAttrs(msg)
	if !ok || !scramOrder(msg, "cr") {
		return nil, ErrNotAuthorized
	}
	cb, err := base64.StdEncoding.DecodeString(string(attrs['c']))
	if err != nil || !bytes.Equal(cb, ex.gs2) {
		return nil, ErrNotAuthorized
	}
	if !bytes.Equal(attrs['r'], ex.nonce) {
		return nil, ErrNotAuthorized // a nonce not ours: replay or tampering
	}
	proof, err := base64.StdEncoding.DecodeString(string(attrs['p']))
	if err != nil || len(proof) != sha256.Size {
		return nil, ErrNotAuthorized
	}
	ex.authMsg = append(append(ex.authMsg, ','), msg[:i]...)
	// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage), and
	// H(ClientKey) must be StoredKey (RFC 5802 section 3).
	sig := hmacSHA256(ex.cred.StoredKey[:], ex.authMsg)
	for j := range proof {
		proof[j] ^= sig[j]
	}
	stored := sha256.Sum256(proof)
	if subtle.ConstantTimeCompare(stored[:], ex.cred.StoredKey[:]) != 1 || !ex.known {
		return nil, ErrBadCredentials
	}
	if ex.wantSet && ex.want != ex.user {
		return nil, ErrNotAuthorized // CONNECT User Name names someone else
	}
	ex.authentic = true
	ss := hmacSHA256(ex.cred.ServerKey[:], ex.authMsg)
	return base64.StdEncoding.AppendEncode([]byte("v="), ss), nil
}

// scramAttrs splits "k=v,k=v" into a map by attribute letter. A repeated
// or malformed attribute fails.
func scramAttrs(msg []byte) (map[byte][]byte, bool) {
	m := make(map[byte][]byte, 4)
	for part := range bytes.SplitSeq(msg, []byte(",")) {
		if len(part) < 2 || part[1] != '=' {
			return nil, false
		}
		if _, dup := m[part[0]]; dup {
			return nil, false
		}
		m[part[0]] = part[2:]
	}
	return m, true
}

// scramOrder reports whether the first attributes of msg have the letters
// of keys, in order.
func scramOrder(msg []byte, keys string) bool {
	for i := range len(keys) {
		if len(msg) < 2 || msg[0] != keys[i] || msg[1] != '=' {
			return false
		}
		if j := bytes.IndexByte(msg, ','); j >= 0 {
			msg = msg[j+1:]
		} else {
			msg = nil
		}
	}
	return true
}

// scramNonceOK reports whether a client nonce is 1 to scramMaxNonce
// printable ASCII characters other than ',' (RFC 5802 section 7).
func scramNonceOK(r []byte) bool {
	if len(r) == 0 || len(r) > scramMaxNonce {
		return false
	}
	for _, b := range r {
		if b < 0x21 || b > 0x7E || b == ',' {
			return false
		}
	}
	return true
}

// scramUnescape decodes a saslname: "=2C" is ',' and "=3D" is '='; any
// other '=' is malformed (RFC 5802 section 5.1).
func scramUnescape(b []byte) (string, bool) {
	if bytes.IndexByte(b, '=') < 0 {
		return string(b), len(b) > 0
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '=' {
			out = append(out, b[i])
			continue
		}
		if i+2 >= len(b) {
			return "", false
		}
		switch string(b[i+1 : i+3]) {
		case "2C":
			out = append(out, ',')
		case "3D":
			out = append(out, '=')
		default:
			return "", false
		}
		i += 2
	}
	return string(out), len(out) > 0
}

func hmacSHA256(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}
