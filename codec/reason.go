package codec

// ReasonCode is an MQTT 5 reason code. In 3.1/3.1.1 the same type carries
// the CONNACK return code (0..5) and the SUBACK return codes (0, 1, 2, 0x80).
type ReasonCode byte

// MQTT 5 reason codes (section 2.4 of the 5.0 standard). Several names share a
// value because the standard names the same byte differently per packet.
const (
	ReasonSuccess                           ReasonCode = 0x00
	ReasonNormalDisconnection               ReasonCode = 0x00
	ReasonGrantedQoS0                       ReasonCode = 0x00
	ReasonGrantedQoS1                       ReasonCode = 0x01
	ReasonGrantedQoS2                       ReasonCode = 0x02
	ReasonDisconnectWithWill                ReasonCode = 0x04
	ReasonNoMatchingSubscribers             ReasonCode = 0x10
	ReasonNoSubscriptionExisted             ReasonCode = 0x11
	ReasonContinueAuthentication            ReasonCode = 0x18
	ReasonReAuthenticate                    ReasonCode = 0x19
	ReasonUnspecifiedError                  ReasonCode = 0x80
	ReasonMalformedPacket                   ReasonCode = 0x81
	ReasonProtocolError                     ReasonCode = 0x82
	ReasonImplementationSpecificError       ReasonCode = 0x83
	ReasonUnsupportedProtocolVersion        ReasonCode = 0x84
	ReasonClientIDNotValid                  ReasonCode = 0x85
	ReasonBadUsernameOrPassword             ReasonCode = 0x86
	ReasonNotAuthorized                     ReasonCode = 0x87
	ReasonServerUnavailable                 ReasonCode = 0x88
	ReasonServerBusy                        ReasonCode = 0x89
	ReasonBanned                            ReasonCode = 0x8A
	ReasonServerShuttingDown                ReasonCode = 0x8B
	ReasonBadAuthenticationMethod           ReasonCode = 0x8C
	ReasonKeepAliveTimeout                  ReasonCode = 0x8D
	ReasonSessionTakenOver                  ReasonCode = 0x8E
	ReasonTopicFilterInvalid                ReasonCode = 0x8F
	ReasonTopicNameInvalid                  ReasonCode = 0x90
	ReasonPacketIDInUse                     ReasonCode = 0x91
	ReasonPacketIDNotFound                  ReasonCode = 0x92
	ReasonReceiveMaximumExceeded            ReasonCode = 0x93
	ReasonTopicAliasInvalid                 ReasonCode = 0x94
	ReasonPacketTooLarge                    ReasonCode = 0x95
	ReasonMessageRateTooHigh                ReasonCode = 0x96
	ReasonQuotaExceeded                     ReasonCode = 0x97
	ReasonAdministrativeAction              ReasonCode = 0x98
	ReasonPayloadFormatInvalid              ReasonCode = 0x99
	ReasonRetainNotSupported                ReasonCode = 0x9A
	ReasonQoSNotSupported                   ReasonCode = 0x9B
	ReasonUseAnotherServer                  ReasonCode = 0x9C
	ReasonServerMoved                       ReasonCode = 0x9D
	ReasonSharedSubscriptionsNotSupported   ReasonCode = 0x9E
	ReasonConnectionRateExceeded            ReasonCode = 0x9F
	ReasonMaximumConnectTime                ReasonCode = 0xA0
	ReasonSubscriptionIDsNotSupported       ReasonCode = 0xA1
	ReasonWildcardSubscriptionsNotSupported ReasonCode = 0xA2
)

// MQTT 3.1 / 3.1.1 CONNACK return codes (section 3.2.2.3 of 3.1.1), and
// ConnackCloseV3, the value ConnackCodeV3 returns when the server must close
// the connection without sending a CONNACK [MQTT-3.1.4-1] [MQTT-3.2.2-6].
const (
	ConnackAccepted              byte = 0x00
	ConnackUnacceptableProtocol  byte = 0x01
	ConnackIdentifierRejected    byte = 0x02
	ConnackServerUnavailable     byte = 0x03
	ConnackBadUsernameOrPassword byte = 0x04
	ConnackNotAuthorized         byte = 0x05
	ConnackCloseV3               byte = 0xFF
	SubackFailureV3              byte = 0x80 // 3.1.1 SUBACK failure return code.
)

// reasonNames holds the 5.0 name of each reason code for String.
var reasonNames = [256]string{
	0x00: "success", 0x01: "granted QoS 1", 0x02: "granted QoS 2",
	0x04: "disconnect with will message", 0x10: "no matching subscribers",
	0x11: "no subscription existed", 0x18: "continue authentication",
	0x19: "re-authenticate", 0x80: "unspecified error", 0x81: "malformed packet",
	0x82: "protocol error", 0x83: "implementation specific error",
	0x84: "unsupported protocol version", 0x85: "client identifier not valid",
	0x86: "bad user name or password", 0x87: "not authorized",
	0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned",
	0x8B: "server shutting down", 0x8C: "bad authentication method",
	0x8D: "keep alive timeout", 0x8E: "session taken over",
	0x8F: "topic filter invalid", 0x90: "topic name invalid",
	0x91: "packet identifier in use", 0x92: "packet identifier not found",
	0x93: "receive maximum exceeded", 0x94: "topic alias invalid",
	0x95: "packet too large", 0x96: "message rate too high",
	0x97: "quota exceeded", 0x98: "administrative action",
	0x99: "payload format invalid", 0x9A: "retain not supported",
	0x9B: "QoS not supported", 0x9C: "use another server", 0x9D: "server moved",
	0x9E: "shared subscriptions not supported", 0x9F: "connection rate exceeded",
	0xA0: "maximum connect time", 0xA1: "subscription identifiers not supported",
	0xA2: "wildcard subscriptions not supported",
}

// String returns the 5.0 name of the reason code, or "reason 0xNN" for a
// value the standard does not define.
func (r ReasonCode) String() string {
	if s := reasonNames[r]; s != "" {
		return s
	}
	const hex = "0123456789abcdef"
	return "reason 0x" + string([]byte{hex[r>>4], hex[r&0xF]})
}

// Reason-code sets allowed per packet type (5.0 sections 3.2.2.2, 3.4.2.1,
// 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1). Each is a
// 256-bit set indexed by the code.
type reasonSet [4]uint64

func (s *reasonSet) has(r ReasonCode) bool { return s[r>>6]&(1<<(r&63)) != 0 }

func newReasonSet(codes ...ReasonCode) reasonSet {
	var s reasonSet
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

var (
	connackReasons = newReasonSet(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
		0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C,
		0x9D, 0x9F)
	pubackReasons     = newReasonSet(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99)
	pubrelReasons     = newReasonSet(0x00, 0x92)
	subackReasons     = newReasonSet(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)
	subackReasonsV3   = newReasonSet(0x00, 0x01, 0x02, 0x80)
	unsubackReasons   = newReasonSet(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)
	disconnectReasons = newReasonSet(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87,
		0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
		0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2)
	authReasons = newReasonSet(0x00, 0x18, 0x19)
)

// ValidReason reports whether r is a reason code the 5.0 standard allows in
// a packet of type t (CONNACK, PUBACK..PUBCOMP, SUBACK, UNSUBACK, DISCONNECT,
// AUTH). For other types it reports false.
func ValidReason(t Type, r ReasonCode) bool {
	switch t {
	case TypeConnack:
		return connackReasons.has(r)
	case TypePuback, TypePubrec:
		return pubackReasons.has(r)
	case TypePubrel, TypePubcomp:
		return pubrelReasons.has(r)
	case TypeSuback:
		return subackReasons.has(r)
	case TypeUnsuback:
		return unsubackReasons.has(r)
	case TypeDisconnect:
		return disconnectReasons.has(r)
	case TypeAuth:
		return authReasons.has(r)
	}
	return false
}

// ConnackV3FromReason maps a 5.0 CONNACK reason code to the closest 3.1.1
// CONNACK return code, for a broker that decides in 5.0 terms and answers a
// 3.1/3.1.1 client. Codes without a 3.1.1 equivalent map to ConnackCloseV3
// (close without CONNACK, [MQTT-3.2.2-6]).
func ConnackV3FromReason(r ReasonCode) byte {
	switch r {
	case ReasonSuccess:
		return ConnackAccepted
	case ReasonUnsupportedProtocolVersion:
		return ConnackUnacceptableProtocol
	case ReasonClientIDNotValid:
		return ConnackIdentifierRejected
	case ReasonServerUnavailable, ReasonServerBusy, ReasonServerShuttingDown,
		ReasonUseAnotherServer, ReasonServerMoved, ReasonConnectionRateExceeded:
		return ConnackServerUnavailable
	case ReasonBadUsernameOrPassword:
		return ConnackBadUsernameOrPassword
	case ReasonNotAuthorized, ReasonBanned, ReasonBadAuthenticationMethod:
		return ConnackNotAuthorized
	}
	return ConnackCloseV3
}
