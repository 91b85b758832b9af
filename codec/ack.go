package codec

// DecodeAck decodes a PUBACK, PUBREC, PUBREL or PUBCOMP packet of protocol
// version v at the start of src into p; p.Type says which it was. In 5.0 a
// missing reason code means ReasonSuccess. The reason string and user
// properties alias src and are valid until src is reused.
func DecodeAck(src []byte, v Version, p *Ack) (n int, err error) {
	if len(src) < 2 {
		return 0, ErrIncomplete
	}
	t := Type(src[0] >> 4)
	if t < TypePuback || t > TypePubcomp {
		return 0, ErrUnexpectedType
	}
	var b []byte
	if rl, hdr := shortLen(src); hdr > 0 {
		n = hdr + rl
		if len(src) < n {
			return 0, ErrIncomplete
		}
		b = src[hdr:n:n]
	} else if _, b, n, err = header(src, t); err != nil {
		return 0, err
	}
	want := byte(0)
	if t == TypePubrel {
		want = 0x02 // [MQTT-3.6.1-1]
	}
	if src[0]&0x0F != want {
		return 0, ErrReservedFlags // [MQTT-2.2.2-1] v311, [MQTT-2.1.3-1] v5
	}
	if len(b) < 2 {
		return 0, ErrMalformed
	}
	p.Type = t
	p.PacketID = uint16(b[0])<<8 | uint16(b[1])
	if p.PacketID == 0 {
		return 0, ErrPacketIDZero // [MQTT-2.3.1-6] v311, [MQTT-2.2.1-5] v5: echoes a non-zero id.
	}
	p.ReasonCode = ReasonSuccess
	if v != V5 {
		if len(b) != 2 {
			return 0, ErrTrailingData
		}
		if !p.Props.Empty() {
			p.Props.Reset()
		}
		return n, nil
	}
	if len(b) == 2 { // 5.0 3.4.2.1: no reason code means 0x00 and no properties.
		if !p.Props.Empty() {
			p.Props.Reset()
		}
		return n, nil
	}
	p.ReasonCode = ReasonCode(b[2])
	if !ValidReason(t, p.ReasonCode) {
		return 0, ErrInvalidReasonCode // [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]
	}
	if len(b) == 3 { // 5.0 3.4.2.2.1: no Property Length means no properties.
		p.Props.Reset()
		return n, nil
	}
	i, err := decodeProps(b, 3, &p.Props, propsAck)
	if err != nil {
		return 0, err
	}
	if i != len(b) {
		return 0, ErrTrailingData
	}
	return n, nil
}

// ackLen returns the remaining length of p and its property size; in 5.0
// the reason code and property length are left out when they can be.
func ackLen(v Version, p *Ack) (rl, ps int) {
	if v != V5 {
		return 2, 0
	}
	ps = propsSize(&p.Props)
	switch {
	case ps > 0:
		return 3 + sizeVarint(ps) + ps, ps
	case p.ReasonCode != ReasonSuccess:
		return 3, 0
	}
	return 2, 0
}

// SizeAck returns the number of bytes AppendAck appends.
func SizeAck(v Version, p *Ack) int {
	rl, _ := ackLen(v, p)
	return 1 + sizeVarint(rl) + rl
}

// AppendAck appends p as a PUBACK, PUBREC, PUBREL or PUBCOMP packet
// (p.Type) of version v. PUBREL gets its required flags 0b0010.
func AppendAck(dst []byte, v Version, p *Ack) []byte {
	rl, ps := ackLen(v, p)
	var flags byte
	if p.Type == TypePubrel {
		flags = 0x02 // [MQTT-3.6.1-1]
	}
	dst = appendHeader(dst, p.Type, flags, rl)
	dst = append(dst, byte(p.PacketID>>8), byte(p.PacketID))
	if rl > 2 {
		dst = append(dst, byte(p.ReasonCode))
		if rl > 3 {
			dst = appendProps(dst, &p.Props, ps)
		}
	}
	return dst
}
