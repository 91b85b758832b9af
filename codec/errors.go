package codec

import "errors"

// ErrIncomplete means src holds less than one whole packet: wait for more
// bytes and call again. It is not a failure and nothing was consumed.
var ErrIncomplete = errors.New("codec: incomplete packet")

// Error is a malformed-packet or protocol error found while decoding. It
// carries the reason code a 5.0 broker sends (in CONNACK before a session
// exists, in DISCONNECT after), the 3.1/3.1.1 CONNACK return code (or
// ConnackCloseV3 when the connection must be closed without one), and the
// ids of the normative statements that the check enforces. Values are
// pre-built sentinels: compare with == or errors.Is; never modify one.
type Error struct {
	ReasonCode ReasonCode // 5.0 reason code to answer with.
	ConnackV3  byte       // 3.1/3.1.1 CONNACK return code or ConnackCloseV3.
	Rule       string     // Spec rule ids, e.g. "MQTT-3.3.1-4"; may list several.
	Msg        string     // Description, prefixed with "codec: ".
}

// Error returns the message followed by the rule ids.
func (e *Error) Error() string {
	if e.Rule == "" {
		return e.Msg
	}
	return e.Msg + " [" + e.Rule + "]"
}

func newErr(rc ReasonCode, v3 byte, rule, msg string) *Error {
	return &Error{ReasonCode: rc, ConnackV3: v3, Rule: rule, Msg: "codec: " + msg}
}

func malformed(rule, msg string) *Error {
	return newErr(ReasonMalformedPacket, ConnackCloseV3, rule, msg)
}

func protocolErr(rule, msg string) *Error {
	return newErr(ReasonProtocolError, ConnackCloseV3, rule, msg)
}

// Decoding errors. Rule ids name 3.1.1 statements with "v311" and 5.0 ones
// with "v5" where the two standards number the same rule differently.
var (
	ErrMalformedRemainingLength = malformed("MQTT-1.5.5-1 v5", "malformed remaining length")
	ErrMalformedVarint          = malformed("MQTT-1.5.5-1 v5", "malformed variable byte integer")
	ErrPacketTooLarge           = newErr(ReasonPacketTooLarge, ConnackCloseV3, "MQTT-3.2.2-15 v5", "packet exceeds the maximum packet size")
	ErrReservedType             = malformed("", "reserved packet type 0")
	ErrUnexpectedType           = protocolErr("", "unexpected packet type for this decoder")
	ErrReservedFlags            = malformed("MQTT-2.2.2-1 v311, MQTT-2.2.2-2 v311, MQTT-2.1.3-1 v5, MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1, MQTT-3.14.1-1, MQTT-3.15.1-1", "invalid fixed header flags")
	ErrMalformed                = malformed("", "packet shorter than its fields")
	ErrTrailingData             = malformed("", "bytes left after the last field")
	ErrInvalidQoS               = malformed("MQTT-3.3.1-4", "QoS 3 is not allowed")
	ErrDupQoS0                  = malformed("MQTT-3.3.1-2", "DUP set on a QoS 0 PUBLISH")
	ErrInvalidUTF8              = malformed("MQTT-1.5.3-1 v311, MQTT-1.5.3-2 v311, MQTT-1.5.4-1 v5, MQTT-1.5.4-2 v5, MQTT-1.5.7-1 v5", "ill-formed UTF-8 string or U+0000")
	ErrPacketIDZero             = protocolErr("MQTT-2.3.1-1 v311, MQTT-2.2.1-3 v5", "packet identifier 0")
	ErrProtocolName             = newErr(ReasonUnsupportedProtocolVersion, ConnackCloseV3, "MQTT-3.1.2-1", "wrong protocol name")
	ErrUnsupportedVersion       = newErr(ReasonUnsupportedProtocolVersion, ConnackUnacceptableProtocol, "MQTT-3.1.2-2", "unsupported protocol level")
	ErrConnectReservedFlag      = malformed("MQTT-3.1.2-3", "CONNECT reserved flag set")
	ErrWillFlags                = malformed("MQTT-3.1.2-13 v311, MQTT-3.1.2-15 v311, MQTT-3.1.2-11 v5, MQTT-3.1.2-13 v5", "will QoS or will retain set without the will flag")
	ErrWillQoS                  = malformed("MQTT-3.1.2-14 v311, MQTT-3.1.2-12 v5", "will QoS 3")
	ErrPasswordWithoutUsername  = malformed("MQTT-3.1.2-22 v311", "password flag set without user name flag")
	ErrClientIDRejected         = newErr(ReasonClientIDNotValid, ConnackIdentifierRejected, "MQTT-3.1.3-8 v311", "empty client identifier with clean session 0")
	ErrConnackFlags             = malformed("MQTT-3.2.2-1 v5", "CONNACK reserved acknowledge flags set")
	ErrSessionPresentRefused    = protocolErr("MQTT-3.2.2-4 v311, MQTT-3.2.2-6 v5", "CONNACK session present with a refusal code")
	ErrTopicEmpty               = protocolErr("MQTT-4.7.3-1", "empty topic name or filter")
	ErrTopicWildcard            = newErr(ReasonTopicNameInvalid, ConnackCloseV3, "MQTT-3.3.2-2, MQTT-4.7.1-1 v311, MQTT-4.7.0-1 v5", "wildcard in topic name")
	ErrTopicAliasZero           = newErr(ReasonTopicAliasInvalid, ConnackCloseV3, "MQTT-3.3.2-8 v5", "topic alias 0")
	ErrNoFilters                = protocolErr("MQTT-3.8.3-3 v311, MQTT-3.8.3-2 v5, MQTT-3.10.3-2", "SUBSCRIBE or UNSUBSCRIBE without topic filters")
	ErrSubscriptionOptions      = malformed("MQTT-3.8.3-4 v311, MQTT-3.8.3-5 v5", "reserved subscription option bits or QoS 3")
	ErrRetainHandling           = protocolErr("", "retain handling 3")
	ErrNoLocalShared            = protocolErr("MQTT-3.8.3-4 v5", "no local on a shared subscription")
	ErrNoReasonCodes            = protocolErr("MQTT-3.8.4-6 v5, MQTT-3.8.4-5 v311", "acknowledgement without reason codes")
	ErrInvalidReasonCode        = protocolErr("MQTT-3.2.2-8 v5, MQTT-3.4.2-1 v5, MQTT-3.5.2-1 v5, MQTT-3.6.2-1 v5, MQTT-3.7.2-1 v5, MQTT-3.9.3-2, MQTT-3.11.3-2 v5, MQTT-3.14.2-1 v5, MQTT-3.15.2-1 v5", "reason code not allowed in this packet")
	ErrUnknownProperty          = malformed("", "unknown property identifier")
	ErrPropertyNotAllowed       = malformed("", "property not allowed in this packet")
	ErrDuplicateProperty        = protocolErr("", "property included more than once")
	ErrPropertyValue            = protocolErr("", "property value out of range")
	ErrMalformedProperties      = malformed("", "properties overrun their length")
	ErrNotV5                    = malformed("", "AUTH exists only in MQTT 5")
	// ErrTooManyUserProperties is a limit of the receiver, not a protocol
	// rule: more User Properties than Properties.UserLimit. 0x97 Quota
	// exceeded is "an implementation or administrative imposed limit".
	ErrTooManyUserProperties = newErr(ReasonQuotaExceeded, ConnackCloseV3, "", "more user properties than the receiver accepts")
)

// ReasonCodeOf returns the 5.0 reason code a broker answers err with: the
// code of an *Error, ReasonSuccess for nil, and ReasonUnspecifiedError for
// anything else (ErrIncomplete is not an answerable error; it also maps to
// ReasonUnspecifiedError).
func ReasonCodeOf(err error) ReasonCode {
	if err == nil {
		return ReasonSuccess
	}
	var e *Error
	if errors.As(err, &e) {
		return e.ReasonCode
	}
	return ReasonUnspecifiedError
}

// ConnackCodeV3 returns the 3.1/3.1.1 CONNACK return code a broker answers a
// rejected CONNECT with, or ConnackCloseV3 (0xFF) when it must close the
// connection without a CONNACK [MQTT-3.1.4-1] [MQTT-3.2.2-6]. nil maps to
// ConnackAccepted.
func ConnackCodeV3(err error) byte {
	if err == nil {
		return ConnackAccepted
	}
	var e *Error
	if errors.As(err, &e) {
		return e.ConnackV3
	}
	return ConnackCloseV3
}
