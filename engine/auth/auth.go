// Package auth checks who an MQTT client is: a users file of salted
// SCRAM-SHA-256 keys (Users, written by `gust passwd`), plain user name and
// password logins against it with a cache of verified logins, the server
// side of SCRAM-SHA-256 enhanced authentication (SCRAM), and a bounded pool
// of worker goroutines (Pool) that runs the slow checks away from the
// broker's event loops.
//
// The broker (package engine) keeps the MQTT side: when to ask, the MQTT 5
// AUTH exchange, and which CONNACK or DISCONNECT reason a verdict becomes.
// This package imports only the standard library.
//
// # Cost of a check
//
// A plain login whose password does not match the cached one runs PBKDF2
// with the stored iteration count (about a millisecond at 4096 iterations;
// BenchmarkUsersAuthenticate), for an unknown user too, so that the time
// taken does not tell which users exist. A repeated correct login costs an
// HMAC and a map lookup (AuthenticateCached). The SCRAM server never runs
// PBKDF2: the client does, and the server checks its proof with one HMAC
// and one SHA-256.
package auth

import "net"

// ConnectInfo is a read-only view of an accepted-so-far CONNECT, given to
// an Authenticator or a Method. Its byte slices are valid only during the
// call, unless a Check owns them (NewCheck copies them).
type ConnectInfo struct {
	ClientID        []byte
	Username        []byte
	Password        []byte
	UsernameFlag    bool
	PasswordFlag    bool
	ProtocolVersion byte
	RemoteAddr      net.Addr
}

// Authenticator decides whether a plain CONNECT (user name and password,
// no MQTT 5 Authentication Method) may connect.
type Authenticator interface {
	// Authenticate returns nil to accept the client, ErrBadCredentials or
	// ErrNotAuthorized to refuse it with the matching CONNACK code. The
	// broker calls it on the client's event loop, where it must not
	// block, unless the Authenticator is also a CachedAuthenticator: then
	// it runs on a Pool worker.
	Authenticate(info *ConnectInfo) error
}

// CachedAuthenticator is an Authenticator whose full check is slow (a
// password hash) but which can answer some logins at once. The broker
// calls AuthenticateCached on the client's event loop and, only when it
// reports that it cannot tell, runs Authenticate on a Pool worker while the
// CONNECT waits. Users is one.
type CachedAuthenticator interface {
	Authenticator
	// AuthenticateCached returns known true and the verdict (as
	// Authenticate) when it can answer without blocking, known false when
	// only Authenticate can tell. Safe from any goroutine; it must not
	// block.
	AuthenticateCached(info *ConnectInfo) (known bool, err error)
}

// Method is one MQTT 5 enhanced authentication method (MQTT 5 section
// 4.12), such as SCRAM. Its methods must be safe from any goroutine.
type Method interface {
	// Start begins an exchange for a CONNECT carrying this method, or for
	// a re-authentication of a connected client (its ClientID and the
	// user name it authenticated as). info and its slices are valid only
	// during the call. It runs on the client's event loop and must not
	// block.
	Start(info *ConnectInfo) Exchange
}

// Exchange is one connection's authentication conversation. Its methods
// are called on the connection's event loop only, one at a time, and must
// not block.
type Exchange interface {
	// Step takes the Authentication Data of the client's CONNECT or AUTH
	// (nil when absent; valid only during the call) and returns the data
	// to send back. done false continues the exchange (AUTH 0x18); done
	// true means success (CONNACK 0x00, or AUTH 0x00 when
	// re-authenticating), out going with it. An error ends the exchange:
	// ErrBadCredentials answers 0x86, any other error 0x87. out must stay
	// valid until the next call.
	Step(data []byte) (out []byte, done bool, err error)
	// Username returns the user name a successful exchange authenticated,
	// or "" if the method has no notion of one. A re-authentication must
	// authenticate the same user as the connection's first exchange.
	Username() string
}
