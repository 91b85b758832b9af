package codec

// DecodePing decodes a PINGREQ or PINGRESP at the start of src and returns
// which one it was. Both have zero flags and an empty body.
func DecodePing(src []byte) (t Type, n int, err error) {
	if len(src) < 2 {
		return 0, 0, ErrIncomplete
	}
	t = Type(src[0] >> 4)
	if t != TypePingreq && t != TypePingresp {
		return 0, 0, ErrUnexpectedType
	}
	if src[0]&0x0F != 0 {
		return 0, 0, ErrReservedFlags // [MQTT-2.2.2-1] v311, [MQTT-2.1.3-1] v5
	}
	if src[1] != 0 {
		if _, _, _, err = PacketLen(src, 0); err != nil && err != ErrIncomplete {
			return 0, 0, err
		}
		return 0, 0, ErrTrailingData
	}
	return t, 2, nil
}

// AppendPingreq appends a PINGREQ packet.
func AppendPingreq(dst []byte) []byte { return append(dst, byte(TypePingreq)<<4, 0) }

// AppendPingresp appends a PINGRESP packet.
func AppendPingresp(dst []byte) []byte { return append(dst, byte(TypePingresp)<<4, 0) }

// SizePingreq returns the size of a PINGREQ packet, 2.
func SizePingreq() int { return 2 }

// SizePingresp returns the size of a PINGRESP packet, 2.
func SizePingresp() int { return 2 }

// decodeReasonProps decodes the body shared by DISCONNECT and AUTH in 5.0:
// an optional reason code (absent means 0x00) and optional properties.
func decodeReasonProps(b []byte, t Type, rc *ReasonCode, props *Properties, allowed uint64) error {
	*rc = ReasonSuccess
	if len(b) == 0 {
		props.Reset()
		return nil
	}
	*rc = ReasonCode(b[0])
	if !ValidReason(t, *rc) {
		return ErrInvalidReasonCode // [MQTT-3.14.2-1] [MQTT-3.15.2-1]
	}
	if len(b) == 1 {
		props.Reset()
		return nil
	}
	i, err := decodeProps(b, 1, props, allowed)
	if err != nil {
		return err
	}
	if i != len(b) {
		return ErrTrailingData
	}
	return nil
}

// DecodeDisconnect decodes a DISCONNECT packet of version v at the start of
// src into p. Properties alias src and are valid until src is reused.
func DecodeDisconnect(src []byte, v Version, p *Disconnect) (n int, err error) {
	flags, b, n, err := header(src, TypeDisconnect)
	if err != nil {
		return 0, err
	}
	if flags != 0 {
		return 0, ErrReservedFlags // [MQTT-3.14.1-1]
	}
	if v != V5 {
		p.ReasonCode = ReasonSuccess
		p.Props.Reset()
		if len(b) != 0 {
			return 0, ErrTrailingData
		}
		return n, nil
	}
	if err = decodeReasonProps(b, TypeDisconnect, &p.ReasonCode, &p.Props, propsDisconnect); err != nil {
		return 0, err
	}
	return n, nil
}

// reasonPropsLen returns the remaining length of a DISCONNECT or AUTH body,
// leaving out what 5.0 allows to leave out.
func reasonPropsLen(rc ReasonCode, props *Properties) (rl, ps int) {
	ps = propsSize(props)
	switch {
	case ps > 0:
		return 1 + sizeVarint(ps) + ps, ps
	case rc != ReasonSuccess:
		return 1, 0
	}
	return 0, 0
}

func appendReasonProps(dst []byte, t Type, rc ReasonCode, props *Properties) []byte {
	rl, ps := reasonPropsLen(rc, props)
	dst = appendHeader(dst, t, 0, rl)
	if rl > 0 {
		dst = append(dst, byte(rc))
		if rl > 1 {
			dst = appendProps(dst, props, ps)
		}
	}
	return dst
}

// SizeDisconnect returns the number of bytes AppendDisconnect appends.
func SizeDisconnect(v Version, p *Disconnect) int {
	if v != V5 {
		return 2
	}
	rl, _ := reasonPropsLen(p.ReasonCode, &p.Props)
	return 1 + sizeVarint(rl) + rl
}

// AppendDisconnect appends p as a DISCONNECT packet of version v. In
// 3.1/3.1.1 it is the two bytes E0 00.
func AppendDisconnect(dst []byte, v Version, p *Disconnect) []byte {
	if v != V5 {
		return append(dst, byte(TypeDisconnect)<<4, 0)
	}
	return appendReasonProps(dst, TypeDisconnect, p.ReasonCode, &p.Props)
}

// DecodeAuth decodes an AUTH packet (5.0 only) at the start of src into p.
// Properties alias src and are valid until src is reused.
func DecodeAuth(src []byte, p *Auth) (n int, err error) {
	flags, b, n, err := header(src, TypeAuth)
	if err != nil {
		return 0, err
	}
	if flags != 0 {
		return 0, ErrReservedFlags // [MQTT-3.15.1-1]
	}
	if err = decodeReasonProps(b, TypeAuth, &p.ReasonCode, &p.Props, propsAuth); err != nil {
		return 0, err
	}
	return n, nil
}

// SizeAuth returns the number of bytes AppendAuth appends.
func SizeAuth(p *Auth) int {
	rl, _ := reasonPropsLen(p.ReasonCode, &p.Props)
	return 1 + sizeVarint(rl) + rl
}

// AppendAuth appends p as an AUTH packet.
func AppendAuth(dst []byte, p *Auth) []byte {
	return appendReasonProps(dst, TypeAuth, p.ReasonCode, &p.Props)
}
