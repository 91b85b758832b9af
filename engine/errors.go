package engine

import (
	"errors"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
)

// Errors returned by the engine.
var (
	// ErrConfig wraps every Config.Validate failure.
	ErrConfig = errors.New("engine: invalid config")
	// ErrBadCredentials is returned by an Authenticator to refuse a client
	// with CONNACK code 0x04 (v5: 0x86); it is auth.ErrBadCredentials.
	ErrBadCredentials = auth.ErrBadCredentials
	// ErrNotAuthorized is returned by an Authenticator to refuse a client
	// with CONNACK code 0x05 (v5: 0x87); it is auth.ErrNotAuthorized.
	ErrNotAuthorized = auth.ErrNotAuthorized
	// ErrNotStarted is returned by Shutdown before Start.
	ErrNotStarted = errors.New("engine: broker not started")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("engine: broker already started")
	// ErrStopped is delivered by Broker.Done when the event loops or the
	// listener stopped while the broker was not shutting down.
	ErrStopped = errors.New("engine: stopped on its own")
	// ErrACLFile wraps every error reading an ACL file (ParseACL).
	ErrACLFile = errors.New("engine: bad ACL file")
)

// Internal close causes; they never leave the package.
var (
	errFirstNotConnect   = errors.New("engine: first packet is not CONNECT")
	errSecondConnect     = errors.New("engine: second CONNECT")
	errUnsupportedPacket = errors.New("engine: packet type not accepted from a client")
	errBadWillTopic      = errors.New("engine: invalid will topic")
	errCloseQuiet        = errors.New("engine: close after handling")
	errAuthBusy          = errors.New("engine: password check queue full")
)

// reasonError is an internal close cause that carries the MQTT 5
// DISCONNECT reason code the client is told.
type reasonError struct {
	code codec.ReasonCode
	msg  string
}

func (e *reasonError) Error() string { return e.msg }

// MQTT 5 close causes with their DISCONNECT reason codes.
var (
	errTopicAliasInvalid = &reasonError{codec.ReasonTopicAliasInvalid, "engine: topic alias 0 or above the maximum"}
	errTopicAliasUnknown = &reasonError{codec.ReasonProtocolError, "engine: empty topic name with an unknown topic alias"}
	errReceiveMaximum    = &reasonError{codec.ReasonReceiveMaximumExceeded, "engine: more unacknowledged QoS 2 PUBLISHes than the receive maximum"}
	errQoSNotSupported   = &reasonError{codec.ReasonQoSNotSupported, "engine: PUBLISH above the broker's maximum QoS"}
	errPayloadFormat     = &reasonError{codec.ReasonPayloadFormatInvalid, "engine: payload format indicator 1 with a payload that is not UTF-8"}
	errAuthUnexpected    = &reasonError{codec.ReasonProtocolError, "engine: AUTH without an authentication method at CONNECT, or out of sequence"}
	errAuthMethod        = &reasonError{codec.ReasonProtocolError, "engine: AUTH with another authentication method"}
	errAuthOnlyBefore    = &reasonError{codec.ReasonProtocolError, "engine: packet other than AUTH or DISCONNECT before CONNACK"}
	errReauthBadCreds    = &reasonError{codec.ReasonBadUsernameOrPassword, "engine: re-authentication failed: bad credentials"}
	errReauthNotAuth     = &reasonError{codec.ReasonNotAuthorized, "engine: re-authentication failed: not authorized"}

	errTopicRefused       = &reasonError{codec.ReasonTopicNameInvalid, "engine: topic name over max_topic_levels or max_topic_length"}
	errSubIDsNotSupported = &reasonError{codec.ReasonSubscriptionIDsNotSupported, "engine: subscription identifier while they are not available"}

	errPartialBudget = &reasonError{codec.ReasonQuotaExceeded, "engine: partial packets of all connections past max_partial_bytes"}
	errStoreFull     = &reasonError{codec.ReasonQuotaExceeded, "engine: store full: a durable message cannot be taken"}
)

// disconnectReason is the MQTT 5 DISCONNECT reason code for a close cause:
// the code carried by the error, else protocol error.
func disconnectReason(err error) codec.ReasonCode {
	var re *reasonError
	if errors.As(err, &re) {
		return re.code
	}
	if rc := codec.ReasonCodeOf(err); rc >= 0x80 && rc != codec.ReasonUnspecifiedError {
		return rc
	}
	return codec.ReasonProtocolError
}

// MQTT 5 close causes of a client PUBLISH or DISCONNECT that the codec
// accepts but the broker's state forbids.
var (
	errSubIDFromClient    = &reasonError{codec.ReasonProtocolError, "engine: subscription identifier in a PUBLISH from a client"}
	errRetainNotSupported = &reasonError{codec.ReasonRetainNotSupported, "engine: PUBLISH with RETAIN while retain is not available"}
	errDisconnectExpiry   = &reasonError{codec.ReasonProtocolError, "engine: DISCONNECT session expiry after a CONNECT with 0"}
)
