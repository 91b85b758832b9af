package codec

// PUBLISH fixed-header flag bits (3.3.1).
const (
	pubRetain = 0x01
	pubQoS    = 0x06
	pubDup    = 0x08
)

// DecodePublish decodes a PUBLISH packet of protocol version v at the start
// of src into p. Topic, Payload and the byte-slice properties alias src and
// are valid until src is reused. The topic is checked as a Topic Name (UTF-8
// rules, no wildcards); in 5.0 it may be empty only with a Topic Alias.
// Rules that need connection state (alias range, Subscription Identifier
// sent by a client [MQTT-3.3.4-6], maximum QoS) are the caller's.
func DecodePublish(src []byte, v Version, p *Publish) (n int, err error) {
	if len(src) < 2 {
		return 0, ErrIncomplete
	}
	b0 := src[0]
	if Type(b0>>4) != TypePublish {
		return 0, ErrUnexpectedType
	}
	var b []byte
	if rl, hdr := shortLen(src); hdr > 0 { // Fast path: remaining length < 16384.
		n = hdr + rl
		if len(src) < n {
			return 0, ErrIncomplete
		}
		b = src[hdr:n:n]
	} else if _, b, n, err = header(src, TypePublish); err != nil {
		return 0, err
	}
	qos := (b0 & pubQoS) >> 1
	if qos == 3 {
		return 0, ErrInvalidQoS // [MQTT-3.3.1-4]
	}
	p.Dup = b0&pubDup != 0
	if p.Dup && qos == 0 {
		return 0, ErrDupQoS0 // [MQTT-3.3.1-2]
	}
	p.QoS = qos
	p.Retain = b0&pubRetain != 0
	if len(b) < 2 {
		return 0, ErrMalformed
	}
	tl := int(b[0])<<8 | int(b[1])
	i := 2 + tl
	if i > len(b) {
		return 0, ErrMalformed
	}
	p.Topic = b[2:i:i]
	// [MQTT-3.3.2-1] [MQTT-3.3.2-2] plainTopicWords is the inlined fast path.
	if tl < 8 || !plainTopicWords(p.Topic) {
		if err = checkTopic(p.Topic); err != nil {
			return 0, err
		}
	}
	p.PacketID = 0
	if qos > 0 { // [MQTT-2.3.1-5] v311, [MQTT-2.2.1-2] v5: no id at QoS 0.
		if i+2 > len(b) {
			return 0, ErrMalformed
		}
		p.PacketID = uint16(b[i])<<8 | uint16(b[i+1])
		i += 2
		if p.PacketID == 0 {
			return 0, ErrPacketIDZero // [MQTT-2.3.1-1] v311, [MQTT-2.2.1-3] v5
		}
	}
	if v == V5 {
		if i, err = decodeProps(b, i, &p.Props, propsPublish); err != nil {
			return 0, err
		}
		if tl == 0 && p.Props.Present&(1<<PropTopicAlias) == 0 {
			return 0, ErrTopicEmpty // 5.0 3.3.2.1: empty topic needs a Topic Alias.
		}
	} else {
		if tl == 0 {
			return 0, ErrTopicEmpty // [MQTT-4.7.3-1]
		}
		if p.Props.Present != 0 || len(p.Props.User) != 0 || len(p.Props.SubscriptionIDs) != 0 {
			p.Props.Reset()
		}
	}
	p.Payload = b[i:len(b):len(b)]
	return n, nil
}

// publishLen returns the remaining length of p and its property size
// (0 below 5.0).
func publishLen(v Version, p *Publish) (rl, ps int) {
	rl = publishBaseLen(p)
	if v == V5 {
		rl, ps = publishPropsLen(p, rl)
	}
	return rl, ps
}

// publishBaseLen returns the remaining length of p without properties. It
// is small enough to inline into appendPublish; publishLen is not.
func publishBaseLen(p *Publish) int {
	rl := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		rl += 2
	}
	return rl
}

// publishPropsLen adds the properties of p to the remaining length rl and
// returns it with the property size.
func publishPropsLen(p *Publish, rl int) (int, int) {
	ps := propsSize(&p.Props)
	return rl + sizeVarint(ps) + ps, ps
}

// SizePublish returns the number of bytes AppendPublish appends.
func SizePublish(v Version, p *Publish) int {
	rl, _ := publishLen(v, p)
	return 1 + sizeVarint(rl) + rl
}

// AppendPublish appends p as a PUBLISH packet of version v. The packet
// identifier is written only when p.QoS > 0; p.QoS must be 0, 1 or 2 and
// len(p.Topic) at most 65535.
//
// The 3.1/3.1.1 case is appendPublish written out again here, with no call
// but the two copies: the call and appendPublish's 5.0 branches are a
// visible share of a small encode (BenchmarkEncodePublish).
func AppendPublish(dst []byte, v Version, p *Publish) []byte {
	if v == V5 {
		return appendPublish(dst, v, p, true)
	}
	rl := publishBaseLen(p)
	dst = grow(dst, 5+rl)
	off := len(dst)
	b := dst[off:cap(dst)]
	_ = b[4] // One bounds check for the fixed header.
	b[0] = byte(TypePublish)<<4 | publishFlags(p)
	i := 1
	for ; rl >= 0x80; i++ {
		b[i] = byte(rl) | 0x80
		rl >>= 7
	}
	tl := len(p.Topic)
	b[i], b[i+1], b[i+2] = byte(rl), byte(tl>>8), byte(tl)
	i += 3 + copy(b[i+3:], p.Topic)
	if p.QoS > 0 {
		b[i], b[i+1] = byte(p.PacketID>>8), byte(p.PacketID)
		i += 2
	}
	i += copy(b[i:], p.Payload)
	return dst[:off+i]
}

// AppendPublishHeader appends p as a PUBLISH packet without its payload
// bytes, which the caller writes right after (for example with a vectored
// write that shares one payload among many subscribers). The remaining length
// counts len(p.Payload).
func AppendPublishHeader(dst []byte, v Version, p *Publish) []byte {
	return appendPublish(dst, v, p, false)
}

// appendPublish is AppendPublish, or AppendPublishHeader when payload is
// false. The fixed header, topic, packet identifier and (in 3.1/3.1.1) the
// payload are written by index into room made once, in this one function:
// appends per field, or a call to a separate header writer, would be a large
// share of the cost of a small 3.1.1 PUBLISH (BenchmarkPublishRatio,
// op=encode).
func appendPublish(dst []byte, v Version, p *Publish, payload bool) []byte {
	rl, ps := publishBaseLen(p), 0
	if v == V5 {
		rl, ps = publishPropsLen(p, rl)
	}
	room := 5 + rl
	if !payload {
		room -= len(p.Payload)
	}
	dst = grow(dst, room)
	off := len(dst)
	b := dst[off:cap(dst)]
	_ = b[4] // room >= 5: one bounds check for the fixed header.
	b[0] = byte(TypePublish)<<4 | publishFlags(p)
	i := 1
	for ; rl >= 0x80; i++ {
		b[i] = byte(rl) | 0x80
		rl >>= 7
	}
	tl := len(p.Topic)
	b[i], b[i+1], b[i+2] = byte(rl), byte(tl>>8), byte(tl)
	i += 3 + copy(b[i+3:], p.Topic)
	if p.QoS > 0 {
		b[i], b[i+1] = byte(p.PacketID>>8), byte(p.PacketID)
		i += 2
	}
	if v == V5 {
		dst = appendProps(dst[:off+i], &p.Props, ps)
		if payload {
			dst = append(dst, p.Payload...)
		}
		return dst
	}
	if payload {
		i += copy(b[i:], p.Payload)
	}
	return dst[:off+i]
}

// publishFlags returns the low nibble of a PUBLISH's first byte.
func publishFlags(p *Publish) byte {
	flags := (p.QoS & 3) << 1
	if p.Dup {
		flags |= pubDup
	}
	if p.Retain {
		flags |= pubRetain
	}
	return flags
}

// SetPublishPacketID overwrites, in place, the packet identifier of the
// encoded PUBLISH packet at the start of pkt, so one encoding can be reused
// for many subscribers. It reports false, changing nothing, when pkt does not
// start with a whole QoS 1 or 2 PUBLISH.
func SetPublishPacketID(pkt []byte, id uint16) bool {
	t, flags, n, err := PacketLen(pkt, 0)
	if err != nil || t != TypePublish || flags&pubQoS == 0 {
		return false
	}
	i := 2
	for pkt[i-1] >= 0x80 {
		i++
	}
	if i+2 > n {
		return false
	}
	i += 2 + (int(pkt[i])<<8 | int(pkt[i+1]))
	if i+2 > n {
		return false
	}
	pkt[i], pkt[i+1] = byte(id>>8), byte(id)
	return true
}
