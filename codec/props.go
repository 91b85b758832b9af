package codec

import (
	"encoding/binary"
	"math/bits"
)

// PropID is an MQTT 5 property identifier (5.0 section 2.2.2.2).
type PropID byte

// Property identifiers.
const (
	PropPayloadFormat        PropID = 0x01 // Byte; PUBLISH, will.
	PropMessageExpiry        PropID = 0x02 // Four Byte Integer; PUBLISH, will.
	PropContentType          PropID = 0x03 // UTF-8 string; PUBLISH, will.
	PropResponseTopic        PropID = 0x08 // UTF-8 string; PUBLISH, will.
	PropCorrelationData      PropID = 0x09 // Binary Data; PUBLISH, will.
	PropSubscriptionID       PropID = 0x0B // Variable Byte Integer; PUBLISH, SUBSCRIBE.
	PropSessionExpiry        PropID = 0x11 // Four Byte Integer; CONNECT, CONNACK, DISCONNECT.
	PropAssignedClientID     PropID = 0x12 // UTF-8 string; CONNACK.
	PropServerKeepAlive      PropID = 0x13 // Two Byte Integer; CONNACK.
	PropAuthMethod           PropID = 0x15 // UTF-8 string; CONNECT, CONNACK, AUTH.
	PropAuthData             PropID = 0x16 // Binary Data; CONNECT, CONNACK, AUTH.
	PropRequestProblemInfo   PropID = 0x17 // Byte; CONNECT.
	PropWillDelay            PropID = 0x18 // Four Byte Integer; will.
	PropRequestResponseInfo  PropID = 0x19 // Byte; CONNECT.
	PropResponseInfo         PropID = 0x1A // UTF-8 string; CONNACK.
	PropServerReference      PropID = 0x1C // UTF-8 string; CONNACK, DISCONNECT.
	PropReasonString         PropID = 0x1F // UTF-8 string; acks, CONNACK, DISCONNECT, AUTH.
	PropReceiveMaximum       PropID = 0x21 // Two Byte Integer; CONNECT, CONNACK.
	PropTopicAliasMaximum    PropID = 0x22 // Two Byte Integer; CONNECT, CONNACK.
	PropTopicAlias           PropID = 0x23 // Two Byte Integer; PUBLISH.
	PropMaximumQoS           PropID = 0x24 // Byte; CONNACK.
	PropRetainAvailable      PropID = 0x25 // Byte; CONNACK.
	PropUserProperty         PropID = 0x26 // UTF-8 String Pair; every packet with properties.
	PropMaximumPacketSize    PropID = 0x27 // Four Byte Integer; CONNECT, CONNACK.
	PropWildcardSubAvailable PropID = 0x28 // Byte; CONNACK.
	PropSubIDAvailable       PropID = 0x29 // Byte; CONNACK.
	PropSharedSubAvailable   PropID = 0x2A // Byte; CONNACK.
)

// Has reports whether property id is present. User properties and
// subscription identifiers are present when their slices are non-empty.
func (p *Properties) Has(id PropID) bool {
	switch id {
	case PropUserProperty:
		return len(p.User) > 0
	case PropSubscriptionID:
		return len(p.SubscriptionIDs) > 0
	}
	return id < 64 && p.Present&(1<<id) != 0
}

// Set marks a fixed-size or byte-slice property present. The value goes in
// the matching field. Set has no effect for PropUserProperty and
// PropSubscriptionID, which are present when their slices are non-empty.
func (p *Properties) Set(id PropID) {
	if id < 64 && id != PropUserProperty && id != PropSubscriptionID {
		p.Present |= 1 << id
	}
}

// Clear marks property id absent (for the repeating ones: truncates the
// slice). The field keeps its value.
func (p *Properties) Clear(id PropID) {
	switch id {
	case PropUserProperty:
		p.User = p.User[:0]
	case PropSubscriptionID:
		p.SubscriptionIDs = p.SubscriptionIDs[:0]
	default:
		if id < 64 {
			p.Present &^= 1 << id
		}
	}
}

// Reset clears every property, keeping the capacity of User and
// SubscriptionIDs so a reused Properties stops allocating, and UserLimit.
func (p *Properties) Reset() {
	*p = Properties{User: p.User[:0], SubscriptionIDs: p.SubscriptionIDs[:0], UserLimit: p.UserLimit}
}

// clearPresent is the Reset decoders use: it zeroes only the byte-slice
// fields whose property is marked present (decoders never set one without
// its bit), which is cheaper than zeroing the whole struct. The BenchmarkPublishRatio
// decode v=5 cases justify it.
func (p *Properties) clearPresent() {
	if pr := p.Present; pr != 0 {
		for x := pr & propsBytes; x != 0; x &= x - 1 {
			*bytesField(p, PropID(bits.TrailingZeros64(x))) = nil
		}
		p.Present, p.PayloadFormat, p.MessageExpiry, p.SessionExpiry = 0, 0, 0, 0
		p.ServerKeepAlive, p.RequestProblemInfo, p.WillDelay, p.RequestResponseInfo = 0, 0, 0, 0
		p.ReceiveMaximum, p.TopicAliasMaximum, p.TopicAlias, p.MaximumQoS = 0, 0, 0, 0
		p.RetainAvailable, p.MaximumPacketSize, p.WildcardSubAvailable = 0, 0, 0
		p.SubIDAvailable, p.SharedSubAvailable = 0, 0
	}
	p.User, p.SubscriptionIDs = p.User[:0], p.SubscriptionIDs[:0]
}

// Empty reports whether no property is present.
func (p *Properties) Empty() bool {
	return p.Present == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0
}

// bit returns the Present bit of a property id.
func bit(id PropID) uint64 { return 1 << id }

// Property sets allowed per packet (5.0 section 2.2.2.2); a property outside
// the set makes the packet malformed.
const (
	propsKnown uint64 = 1<<PropPayloadFormat | 1<<PropMessageExpiry | 1<<PropContentType |
		1<<PropResponseTopic | 1<<PropCorrelationData | 1<<PropSubscriptionID |
		1<<PropSessionExpiry | 1<<PropAssignedClientID | 1<<PropServerKeepAlive |
		1<<PropAuthMethod | 1<<PropAuthData | 1<<PropRequestProblemInfo |
		1<<PropWillDelay | 1<<PropRequestResponseInfo | 1<<PropResponseInfo |
		1<<PropServerReference | 1<<PropReasonString | 1<<PropReceiveMaximum |
		1<<PropTopicAliasMaximum | 1<<PropTopicAlias | 1<<PropMaximumQoS |
		1<<PropRetainAvailable | 1<<PropUserProperty | 1<<PropMaximumPacketSize |
		1<<PropWildcardSubAvailable | 1<<PropSubIDAvailable | 1<<PropSharedSubAvailable

	propsConnect uint64 = 1<<PropSessionExpiry | 1<<PropAuthMethod | 1<<PropAuthData |
		1<<PropRequestProblemInfo | 1<<PropRequestResponseInfo | 1<<PropReceiveMaximum |
		1<<PropTopicAliasMaximum | 1<<PropUserProperty | 1<<PropMaximumPacketSize
	propsConnack uint64 = 1<<PropSessionExpiry | 1<<PropAssignedClientID | 1<<PropServerKeepAlive |
		1<<PropAuthMethod | 1<<PropAuthData | 1<<PropResponseInfo | 1<<PropServerReference |
		1<<PropReasonString | 1<<PropReceiveMaximum | 1<<PropTopicAliasMaximum |
		1<<PropMaximumQoS | 1<<PropRetainAvailable | 1<<PropUserProperty |
		1<<PropMaximumPacketSize | 1<<PropWildcardSubAvailable | 1<<PropSubIDAvailable |
		1<<PropSharedSubAvailable
	propsPublish uint64 = 1<<PropPayloadFormat | 1<<PropMessageExpiry | 1<<PropContentType |
		1<<PropResponseTopic | 1<<PropCorrelationData | 1<<PropSubscriptionID |
		1<<PropTopicAlias | 1<<PropUserProperty
	propsWill uint64 = 1<<PropPayloadFormat | 1<<PropMessageExpiry | 1<<PropContentType |
		1<<PropResponseTopic | 1<<PropCorrelationData | 1<<PropWillDelay | 1<<PropUserProperty
	propsBytes uint64 = 1<<PropContentType | 1<<PropResponseTopic | 1<<PropCorrelationData |
		1<<PropAssignedClientID | 1<<PropAuthMethod | 1<<PropAuthData | 1<<PropResponseInfo |
		1<<PropServerReference | 1<<PropReasonString
	propsAck         uint64 = 1<<PropReasonString | 1<<PropUserProperty
	propsSubscribe   uint64 = 1<<PropSubscriptionID | 1<<PropUserProperty
	propsUnsubscribe uint64 = 1 << PropUserProperty
	propsDisconnect  uint64 = 1<<PropSessionExpiry | 1<<PropServerReference | 1<<PropReasonString |
		1<<PropUserProperty
	propsAuth uint64 = 1<<PropAuthMethod | 1<<PropAuthData | 1<<PropReasonString | 1<<PropUserProperty
)

// AllowedProps returns the set of properties (as Present bits, user
// properties and subscription identifiers included) that a packet of type t
// may carry; will is true for the Will Properties of CONNECT.
func AllowedProps(t Type, will bool) uint64 {
	if will {
		return propsWill
	}
	switch t {
	case TypeConnect:
		return propsConnect
	case TypeConnack:
		return propsConnack
	case TypePublish:
		return propsPublish
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp, TypeSuback, TypeUnsuback:
		return propsAck
	case TypeSubscribe:
		return propsSubscribe
	case TypeUnsubscribe:
		return propsUnsubscribe
	case TypeDisconnect:
		return propsDisconnect
	case TypeAuth:
		return propsAuth
	}
	return 0
}

// decodeProps reads a Property Length and the properties after it at b[i:]
// into p (reset first), allowing only the ids in allowed. It returns the index
// after the properties. Byte-slice values alias b.
func decodeProps(b []byte, i int, p *Properties, allowed uint64) (int, error) {
	p.clearPresent()
	if i < len(b) && b[i] == 0 { // Fast path: no properties.
		return i + 1, nil
	}
	l, i, err := readVarint(b, i)
	if err != nil {
		return 0, ErrMalformedProperties
	}
	end := i + l
	if end > len(b) {
		return 0, ErrMalformedProperties
	}
	pb := b[:end:end]
	for i < end {
		// Fast path, inlined so a property costs no call: a User Property
		// or a plain string property whose strings are short ASCII
		// (shortPlainAt). It only accepts; anything else, and every error,
		// goes to decodeProp. BenchmarkPublishRatio (op=decode, v=5)
		// justifies it.
		if id := PropID(pb[i]); id == PropUserProperty && allowed&bit(id) != 0 {
			if p.UserLimit != 0 && len(p.User) >= int(p.UserLimit) {
				return 0, ErrTooManyUserProperties
			}
			if k, j := shortPlainAt(pb, i+1); j > 0 {
				if v, j := shortPlainAt(pb, j); j > 0 {
					addUser(p, k, v) // [MQTT-1.5.7-1]
					i = j
					continue
				}
			}
		} else if id < 64 && p.Present&bit(id) == 0 && allowed&bit(id) != 0 {
			if propsPlainString&bit(id) != 0 {
				if v, j := shortPlainAt(pb, i+1); j > 0 {
					*bytesField(p, id) = v
					p.Present |= bit(id)
					i = j
					continue
				}
			} else if propsPlainUint32&bit(id) != 0 && i+5 <= len(pb) {
				*uint32Field(p, id) = binary.BigEndian.Uint32(pb[i+1:])
				p.Present |= bit(id)
				i += 5
				continue
			}
		}
		if i, err = decodeProp(pb, i, p, allowed); err != nil {
			return 0, err
		}
	}
	return end, nil
}

// propsPlainString lists the UTF-8 string properties with no rule beyond the
// UTF-8 ones (Response Topic, a topic name, is not among them).
const propsPlainString uint64 = 1<<PropContentType | 1<<PropAssignedClientID | 1<<PropAuthMethod |
	1<<PropResponseInfo | 1<<PropServerReference | 1<<PropReasonString

// propsPlainUint32 lists the four-byte integer properties that any value may
// take (Maximum Packet Size, which may not be 0, is not among them).
const propsPlainUint32 uint64 = 1<<PropMessageExpiry | 1<<PropSessionExpiry | 1<<PropWillDelay

// uint32Field returns the field of a property in propsPlainUint32.
func uint32Field(p *Properties, id PropID) *uint32 {
	switch id {
	case PropMessageExpiry:
		return &p.MessageExpiry
	case PropSessionExpiry:
		return &p.SessionExpiry
	}
	return &p.WillDelay
}

// shortPlainAt reads the two-byte-length-prefixed string at b[i:] when it is
// 4 to 16 bytes of ASCII without 0x00, so valid UTF-8 without U+0000
// [MQTT-1.5.4-1] [MQTT-1.5.4-2], with two overlapping loads. It returns the
// string (aliasing b) and the index after it, or next == 0 when the string
// is of another length, another content, or does not fit in b.
func shortPlainAt(b []byte, i int) (s []byte, next int) {
	if i+2 > len(b) || i < 0 {
		return nil, 0
	}
	l := int(b[i])<<8 | int(b[i+1])
	next = i + 2 + l
	if l < 4 || l > 16 || next > len(b) {
		return nil, 0
	}
	s = b[i+2 : next : next]
	var x, y uint64
	if l >= 8 {
		x, y = binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[l-8:])
	} else {
		x = uint64(binary.LittleEndian.Uint32(s)) | uint64(binary.LittleEndian.Uint32(s[l-4:]))<<32
		y = x
	}
	if (x|(x-lsb)&^x|y|(y-lsb)&^y)&msb != 0 {
		return nil, 0
	}
	return s, next
}

// decodeProp reads one property at b[i:]. This is the documented hot switch
// over the property identifier; every case checks its own value rules.
func decodeProp(b []byte, i int, p *Properties, allowed uint64) (int, error) {
	id := PropID(b[i])
	i++
	if id >= 64 || propsKnown&bit(id) == 0 {
		return 0, ErrUnknownProperty // Identifiers are < 0x80, so one byte.
	}
	if allowed&bit(id) == 0 {
		return 0, ErrPropertyNotAllowed
	}
	if p.Present&bit(id) != 0 {
		return 0, ErrDuplicateProperty // Every property but 0x0B and 0x26 is single.
	}
	var err error
	switch id {
	case PropUserProperty:
		if p.UserLimit != 0 && len(p.User) >= int(p.UserLimit) {
			return 0, ErrTooManyUserProperties
		}
		var k, v []byte
		if k, i, err = readString(b, i); err != nil {
			return 0, err
		}
		if v, i, err = readString(b, i); err != nil { // [MQTT-1.5.7-1]
			return 0, err
		}
		addUser(p, k, v)
		return i, nil
	case PropSubscriptionID:
		var v int
		if v, i, err = readVarint(b, i); err != nil {
			return 0, err
		}
		if v == 0 {
			return 0, ErrPropertyValue // 5.0 3.8.2.1.2: 0 is a Protocol Error.
		}
		if allowed == propsSubscribe && len(p.SubscriptionIDs) > 0 {
			return 0, ErrDuplicateProperty // Only PUBLISH may repeat it.
		}
		p.SubscriptionIDs = append(p.SubscriptionIDs, uint32(v))
		return i, nil
	case PropPayloadFormat, PropRequestProblemInfo, PropRequestResponseInfo, PropMaximumQoS,
		PropRetainAvailable, PropWildcardSubAvailable, PropSubIDAvailable, PropSharedSubAvailable:
		if i >= len(b) {
			return 0, ErrMalformedProperties
		}
		v := b[i]
		i++
		if v > 1 {
			return 0, ErrPropertyValue // Each of these is 0 or 1; other values are Protocol Errors.
		}
		setByteProp(p, id, v)
	case PropMessageExpiry, PropSessionExpiry, PropWillDelay, PropMaximumPacketSize:
		var v uint32
		if v, i, err = readUint32(b, i); err != nil {
			return 0, ErrMalformedProperties
		}
		switch id {
		case PropMessageExpiry:
			p.MessageExpiry = v
		case PropSessionExpiry:
			p.SessionExpiry = v
		case PropWillDelay:
			p.WillDelay = v
		default:
			if v == 0 {
				return 0, ErrPropertyValue // 5.0 3.1.2.11.4: Maximum Packet Size 0.
			}
			p.MaximumPacketSize = v
		}
	case PropServerKeepAlive, PropReceiveMaximum, PropTopicAliasMaximum, PropTopicAlias:
		var v uint16
		if v, i, err = readUint16(b, i); err != nil {
			return 0, ErrMalformedProperties
		}
		switch id {
		case PropServerKeepAlive:
			p.ServerKeepAlive = v
		case PropReceiveMaximum:
			if v == 0 {
				return 0, ErrPropertyValue // 5.0 3.1.2.11.3: Receive Maximum 0.
			}
			p.ReceiveMaximum = v
		case PropTopicAliasMaximum:
			p.TopicAliasMaximum = v
		default:
			if v == 0 {
				return 0, ErrTopicAliasZero // [MQTT-3.3.2-8]
			}
			p.TopicAlias = v
		}
	case PropCorrelationData, PropAuthData:
		var v []byte
		if v, i, err = readBinary(b, i); err != nil {
			return 0, ErrMalformedProperties
		}
		if id == PropCorrelationData {
			p.CorrelationData = v
		} else {
			p.AuthData = v
		}
	default: // UTF-8 string properties.
		var v []byte
		if v, i, err = readString(b, i); err != nil {
			return 0, err
		}
		if err = setStringProp(p, id, v); err != nil {
			return 0, err
		}
	}
	p.Present |= bit(id)
	return i, nil
}

func setByteProp(p *Properties, id PropID, v byte) {
	switch id {
	case PropPayloadFormat:
		p.PayloadFormat = v
	case PropRequestProblemInfo:
		p.RequestProblemInfo = v
	case PropRequestResponseInfo:
		p.RequestResponseInfo = v
	case PropMaximumQoS:
		p.MaximumQoS = v
	case PropRetainAvailable:
		p.RetainAvailable = v
	case PropWildcardSubAvailable:
		p.WildcardSubAvailable = v
	case PropSubIDAvailable:
		p.SubIDAvailable = v
	case PropSharedSubAvailable:
		p.SharedSubAvailable = v
	}
}

// addUser appends one User Property to p.User, storing the two slices in
// place. append with a UserProperty literal builds the 48-byte struct on the
// stack with 8-byte stores and copies it with 16-byte loads, which cannot be
// forwarded from those stores and stall (perf annotate: a third of
// decodeProp's samples on that copy; BenchmarkPublishRatio op=decode v=5).
func addUser(p *Properties, k, v []byte) {
	n := len(p.User)
	if n < cap(p.User) {
		p.User = p.User[:n+1]
	} else {
		p.User = append(p.User, UserProperty{})
	}
	u := &p.User[n]
	u.Key, u.Value = k, v
}

func setStringProp(p *Properties, id PropID, v []byte) error {
	switch id {
	case PropContentType:
		p.ContentType = v // [MQTT-3.3.2-19]
	case PropResponseTopic:
		if err := checkTopic(v); err != nil || len(v) == 0 {
			return ErrPropertyValue // [MQTT-3.3.2-13] [MQTT-3.3.2-14]
		}
		p.ResponseTopic = v
	case PropAssignedClientID:
		p.AssignedClientID = v
	case PropAuthMethod:
		p.AuthMethod = v
	case PropResponseInfo:
		p.ResponseInfo = v
	case PropServerReference:
		p.ServerReference = v
	case PropReasonString:
		p.ReasonString = v
	}
	return nil
}

// propsSize returns the encoded size of p's properties, without the
// Property Length prefix.
func propsSize(p *Properties) int {
	if p.Present == 0 && len(p.User) == 0 && len(p.SubscriptionIDs) == 0 {
		return 0
	}
	n := 0
	pr := p.Present
	n += 2 * popcount(pr&(bit(PropPayloadFormat)|bit(PropRequestProblemInfo)|
		bit(PropRequestResponseInfo)|bit(PropMaximumQoS)|bit(PropRetainAvailable)|
		bit(PropWildcardSubAvailable)|bit(PropSubIDAvailable)|bit(PropSharedSubAvailable)))
	n += 3 * popcount(pr&(bit(PropServerKeepAlive)|bit(PropReceiveMaximum)|
		bit(PropTopicAliasMaximum)|bit(PropTopicAlias)))
	n += 5 * popcount(pr&(bit(PropMessageExpiry)|bit(PropSessionExpiry)|
		bit(PropWillDelay)|bit(PropMaximumPacketSize)))
	if pr&(bit(PropContentType)|bit(PropResponseTopic)|bit(PropCorrelationData)|
		bit(PropAssignedClientID)|bit(PropAuthMethod)|bit(PropAuthData)|
		bit(PropResponseInfo)|bit(PropServerReference)|bit(PropReasonString)) != 0 {
		for _, id := range bytesProps {
			if pr&bit(id) != 0 {
				n += 3 + len(*bytesField(p, id))
			}
		}
	}
	for _, s := range p.SubscriptionIDs {
		n += 1 + sizeVarint(int(s))
	}
	for _, u := range p.User {
		n += 5 + len(u.Key) + len(u.Value)
	}
	return n
}

// bytesProps lists the byte-slice properties in identifier order.
var bytesProps = [...]PropID{PropContentType, PropResponseTopic, PropCorrelationData,
	PropAssignedClientID, PropAuthMethod, PropAuthData, PropResponseInfo,
	PropServerReference, PropReasonString}

func bytesField(p *Properties, id PropID) *[]byte {
	switch id {
	case PropContentType:
		return &p.ContentType
	case PropResponseTopic:
		return &p.ResponseTopic
	case PropCorrelationData:
		return &p.CorrelationData
	case PropAssignedClientID:
		return &p.AssignedClientID
	case PropAuthMethod:
		return &p.AuthMethod
	case PropAuthData:
		return &p.AuthData
	case PropResponseInfo:
		return &p.ResponseInfo
	case PropServerReference:
		return &p.ServerReference
	}
	return &p.ReasonString
}

func popcount(x uint64) int { return bits.OnesCount64(x) }

// appendProps appends the Property Length (size, from propsSize) and the
// properties of p in identifier order, user properties last in their order.
func appendProps(dst []byte, p *Properties, size int) []byte {
	dst = appendVarint(dst, size)
	if size == 0 {
		return dst
	}
	// Set bits in identifier order; subscription identifiers (0x0B) go
	// between the lower and the higher ones.
	const below = 1<<PropSubscriptionID - 1
	pr := p.Present & propsKnown &^ (1<<PropSubscriptionID | 1<<PropUserProperty)
	for x := pr & below; x != 0; x &= x - 1 {
		dst = appendProp(dst, p, PropID(bits.TrailingZeros64(x)))
	}
	for _, s := range p.SubscriptionIDs {
		dst = appendVarint(append(dst, byte(PropSubscriptionID)), int(s))
	}
	for x := pr &^ below; x != 0; x &= x - 1 {
		dst = appendProp(dst, p, PropID(bits.TrailingZeros64(x)))
	}
	for _, u := range p.User {
		dst = append(dst, byte(PropUserProperty))
		dst = appendBinary(appendBinary(dst, u.Key), u.Value)
	}
	return dst
}

// appendProp appends one present non-repeating property.
func appendProp(dst []byte, p *Properties, id PropID) []byte {
	dst = append(dst, byte(id))
	switch id {
	case PropPayloadFormat:
		return append(dst, p.PayloadFormat)
	case PropRequestProblemInfo:
		return append(dst, p.RequestProblemInfo)
	case PropRequestResponseInfo:
		return append(dst, p.RequestResponseInfo)
	case PropMaximumQoS:
		return append(dst, p.MaximumQoS)
	case PropRetainAvailable:
		return append(dst, p.RetainAvailable)
	case PropWildcardSubAvailable:
		return append(dst, p.WildcardSubAvailable)
	case PropSubIDAvailable:
		return append(dst, p.SubIDAvailable)
	case PropSharedSubAvailable:
		return append(dst, p.SharedSubAvailable)
	case PropMessageExpiry:
		return appendUint32(dst, p.MessageExpiry)
	case PropSessionExpiry:
		return appendUint32(dst, p.SessionExpiry)
	case PropWillDelay:
		return appendUint32(dst, p.WillDelay)
	case PropMaximumPacketSize:
		return appendUint32(dst, p.MaximumPacketSize)
	case PropServerKeepAlive:
		return appendUint16(dst, p.ServerKeepAlive)
	case PropReceiveMaximum:
		return appendUint16(dst, p.ReceiveMaximum)
	case PropTopicAliasMaximum:
		return appendUint16(dst, p.TopicAliasMaximum)
	case PropTopicAlias:
		return appendUint16(dst, p.TopicAlias)
	}
	return appendBinary(dst, *bytesField(p, id))
}

// AppendProperties appends p as a Property Length and the properties, as
// they are written in a packet: for keeping properties outside a packet
// (the broker's durable store). DecodeProperties reads them back.
func AppendProperties(dst []byte, p *Properties) []byte {
	return appendProps(dst, p, propsSize(p))
}

// DecodeProperties reads what AppendProperties wrote into p, accepting
// the properties allowed in a packet of type t (a will's with will set).
// Byte-slice values alias b. Bytes left after the properties are an
// error.
func DecodeProperties(b []byte, t Type, will bool, p *Properties) error {
	n, err := decodeProps(b, 0, p, AllowedProps(t, will))
	if err != nil {
		return err
	}
	if n != len(b) {
		return ErrTrailingData
	}
	return nil
}
