package engine

import "errors"

// Errors returned by the engine.
var (
	// ErrConfig wraps every Config.Validate failure.
	ErrConfig = errors.New("engine: invalid config")
	// ErrBadCredentials is returned by an Authenticator to refuse a client
	// with CONNACK code 0x04 (v5: 0x86).
	ErrBadCredentials = errors.New("engine: bad user name or password")
	// ErrNotAuthorized is returned by an Authenticator to refuse a client
	// with CONNACK code 0x05 (v5: 0x87).
	ErrNotAuthorized = errors.New("engine: not authorized")
	// ErrNotStarted is returned by Shutdown before Start.
	ErrNotStarted = errors.New("engine: broker not started")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("engine: broker already started")
)

// Internal close causes; they never leave the package.
var (
	errFirstNotConnect   = errors.New("engine: first packet is not CONNECT")
	errSecondConnect     = errors.New("engine: second CONNECT")
	errUnsupportedPacket = errors.New("engine: packet type not accepted from a client")
	errBadWillTopic      = errors.New("engine: invalid will topic")
	errCloseQuiet        = errors.New("engine: close after handling")
)
