package codec

// This file is the codec's contract with its callers (engine, loadgen, bench):
// the packet structs and the signatures of the decode/encode functions.
//
// Conventions:
//   - Every DecodeXxx takes src starting at the packet's fixed header and
//     returns n, the number of bytes of the whole packet. If src holds less
//     than one whole packet it returns ErrIncomplete and consumes nothing.
//   - Byte-slice fields of a decoded struct alias src: they are valid only
//     until the caller reuses or releases src (for the engine: until the end
//     of the OnTraffic call that produced them). Copy what must outlive it.
//   - Slice fields that hold many items (Properties.User, SubscriptionIDs,
//     Subscribe.Filters, ReasonCodes, Unsubscribe.Filters) are appended to
//     after truncation to length 0, so a struct reused across calls stops
//     allocating once its slices have grown (steady state: zero allocations).
//   - Every AppendXxx appends one whole packet (fixed header included) to dst
//     and returns the extended slice. SizeXxx returns exactly how many bytes
//     AppendXxx would append, without encoding.

// Version is the protocol level byte of CONNECT.
type Version byte

// Protocol levels.
const (
	V31  Version = 3 // MQTT 3.1, protocol name "MQIsdp".
	V311 Version = 4 // MQTT 3.1.1, protocol name "MQTT".
	V5   Version = 5 // MQTT 5.0, protocol name "MQTT".
)

// Type is the control packet type, the high nibble of the first byte.
type Type byte

// Control packet types.
const (
	TypeReserved Type = iota
	TypeConnect
	TypeConnack
	TypePublish
	TypePuback
	TypePubrec
	TypePubrel
	TypePubcomp
	TypeSubscribe
	TypeSuback
	TypeUnsubscribe
	TypeUnsuback
	TypePingreq
	TypePingresp
	TypeDisconnect
	TypeAuth
)

// UserProperty is one MQTT 5 User Property name/value pair.
type UserProperty struct {
	Key, Value []byte
}

// Properties holds the MQTT 5 properties of one packet. A fixed-size property
// is present only if its bit is set in Present (see Has and Set); byte-slice
// properties are present when Present says so as well. User and
// SubscriptionIDs are present when non-empty. Present is authoritative:
// encoders write only present properties, and decoders, before filling a
// reused Properties, zero the fields of the properties it marks present and
// truncate User and SubscriptionIDs (a field set without its Present bit is
// left as it is, and stays absent).
type Properties struct {
	Present uint64 // bit (1 << PropID) for each present non-repeating property

	PayloadFormat       byte
	MessageExpiry       uint32
	ContentType         []byte
	ResponseTopic       []byte
	CorrelationData     []byte
	SubscriptionIDs     []uint32
	SessionExpiry       uint32
	AssignedClientID    []byte
	ServerKeepAlive     uint16
	AuthMethod          []byte
	AuthData            []byte
	RequestProblemInfo  byte
	WillDelay           uint32
	RequestResponseInfo byte
	// UserLimit is a decoding option, not a property: when not 0, a packet
	// carrying more User Properties than it fails to decode with
	// ErrTooManyUserProperties, before they are stored in User. Reset and
	// decoding keep it; encoders ignore it.
	UserLimit            uint16
	ResponseInfo         []byte
	ServerReference      []byte
	ReasonString         []byte
	ReceiveMaximum       uint16
	TopicAliasMaximum    uint16
	TopicAlias           uint16
	MaximumQoS           byte
	RetainAvailable      byte
	User                 []UserProperty
	MaximumPacketSize    uint32
	WildcardSubAvailable byte
	SubIDAvailable       byte
	SharedSubAvailable   byte
}

// Connect is a CONNECT packet.
type Connect struct {
	ProtocolName []byte
	Version      Version
	CleanStart   bool // Clean Session in 3.1/3.1.1.
	KeepAlive    uint16
	Props        Properties
	ClientID     []byte

	WillFlag    bool
	WillQoS     byte
	WillRetain  bool
	WillProps   Properties
	WillTopic   []byte
	WillPayload []byte

	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte
}

// Connack is a CONNACK packet. In 3.1/3.1.1 ReasonCode carries the return
// code (0..5).
type Connack struct {
	SessionPresent bool
	ReasonCode     ReasonCode
	Props          Properties
}

// Publish is a PUBLISH packet.
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    []byte // may be empty in v5 when Props.TopicAlias is set
	PacketID uint16 // only when QoS > 0
	Props    Properties
	Payload  []byte
}

// Ack is a PUBACK, PUBREC, PUBREL or PUBCOMP packet (Type says which).
// ReasonCode and Props exist on the wire only in v5.
type Ack struct {
	Type       Type
	PacketID   uint16
	ReasonCode ReasonCode
	Props      Properties
}

// Subscription is one topic filter of a SUBSCRIBE with its options.
// NoLocal, RetainAsPublished and RetainHandling exist only in v5.
type Subscription struct {
	Filter            []byte
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
}

// Subscribe is a SUBSCRIBE packet.
type Subscribe struct {
	PacketID uint16
	Props    Properties
	Filters  []Subscription
}

// Suback is a SUBACK packet. ReasonCodes carries the 3.1.1 return codes
// (0, 1, 2, 0x80) as well.
type Suback struct {
	PacketID    uint16
	Props       Properties
	ReasonCodes []ReasonCode
}

// Unsubscribe is an UNSUBSCRIBE packet.
type Unsubscribe struct {
	PacketID uint16
	Props    Properties
	Filters  [][]byte
}

// Unsuback is an UNSUBACK packet. ReasonCodes and Props exist only in v5.
type Unsuback struct {
	PacketID    uint16
	Props       Properties
	ReasonCodes []ReasonCode
}

// Disconnect is a DISCONNECT packet. ReasonCode and Props exist only in v5.
type Disconnect struct {
	ReasonCode ReasonCode
	Props      Properties
}

// Auth is an AUTH packet (v5 only).
type Auth struct {
	ReasonCode ReasonCode
	Props      Properties
}

// Function signatures (implemented in the per-packet files):
//
//	func PacketLen(src []byte, maxPacketSize int) (t Type, flags byte, n int, err error)
//	    Reads the fixed header. On success n is the whole packet length
//	    (header + remaining length). If src is too short: err == ErrIncomplete
//	    and n is the total length needed when the header is complete, else 0.
//	    Malformed remaining length or n > maxPacketSize (when > 0) returns a
//	    *Error with the reason code (0x81 malformed / 0x95 packet too large).
//
//	func DecodeConnect(src []byte, p *Connect) (n int, err error)
//	func DecodeConnack(src []byte, v Version, p *Connack) (n int, err error)
//	func DecodePublish(src []byte, v Version, p *Publish) (n int, err error)
//	func DecodeAck(src []byte, v Version, p *Ack) (n int, err error)
//	func DecodeSubscribe(src []byte, v Version, p *Subscribe) (n int, err error)
//	func DecodeSuback(src []byte, v Version, p *Suback) (n int, err error)
//	func DecodeUnsubscribe(src []byte, v Version, p *Unsubscribe) (n int, err error)
//	func DecodeUnsuback(src []byte, v Version, p *Unsuback) (n int, err error)
//	func DecodePing(src []byte) (t Type, n int, err error)   // PINGREQ or PINGRESP
//	func DecodeDisconnect(src []byte, v Version, p *Disconnect) (n int, err error)
//	func DecodeAuth(src []byte, p *Auth) (n int, err error)
//
//	func AppendConnect(dst []byte, p *Connect) []byte       // p.Version selects the wire form
//	func AppendConnack(dst []byte, v Version, p *Connack) []byte
//	func AppendPublish(dst []byte, v Version, p *Publish) []byte
//	func AppendAck(dst []byte, v Version, p *Ack) []byte
//	func AppendSubscribe(dst []byte, v Version, p *Subscribe) []byte
//	func AppendSuback(dst []byte, v Version, p *Suback) []byte
//	func AppendUnsubscribe(dst []byte, v Version, p *Unsubscribe) []byte
//	func AppendUnsuback(dst []byte, v Version, p *Unsuback) []byte
//	func AppendPingreq(dst []byte) []byte
//	func AppendPingresp(dst []byte) []byte
//	func AppendDisconnect(dst []byte, v Version, p *Disconnect) []byte
//	func AppendAuth(dst []byte, p *Auth) []byte
//
//	func SizePublish(v Version, p *Publish) int   (and SizeXxx for every AppendXxx)
//
//	func (p *Properties) Has(id PropID) bool
//	func (p *Properties) Set(id PropID)       // marks a fixed-size or byte property present
//	func (p *Properties) Reset()              // clears, keeping slice capacity
//
// Errors (errors.go): ErrIncomplete (need more bytes; not a failure), and
// *Error values carrying a ReasonCode and the spec rule id, e.g.
// ErrMalformedRemainingLength, ErrReservedFlags, ErrInvalidQoS,
// ErrInvalidUTF8, ErrPacketIDZero, ErrDuplicateProperty, ErrProtocolName,
// ErrUnsupportedVersion, ... . ReasonCodeOf(err) gives the v5 reason code;
// ConnackCodeV3(err) gives the 3.1/3.1.1 CONNACK return code (or 0xFF when
// the right answer is to close without CONNACK).
