package codec

// sharePrefix starts a Shared Subscription filter (5.0 4.8.2).
const sharePrefix = "$share/"

// decodeIDProps reads the start that SUBSCRIBE, UNSUBSCRIBE, SUBACK and
// UNSUBACK share: the fixed header of type t with flags wantFlags
// ([MQTT-3.8.1-1] [MQTT-3.10.1-1] 0x02; [MQTT-2.2.2-1] v311, [MQTT-2.1.3-1]
// v5 0 for the acks), a non-zero packet identifier ([MQTT-2.3.1-1] v311,
// [MQTT-2.2.1-3] v5; the acks echo it, [MQTT-2.3.1-7] v311, [MQTT-2.2.1-6]
// v5), then in 5.0 the properties allowed by allowed (in 3.1/3.1.1 props is
// reset). It returns the body b, the index i after those fields and n, the
// whole packet length.
func decodeIDProps(src []byte, t Type, wantFlags byte, v Version, pid *uint16, props *Properties,
	allowed uint64) (b []byte, i, n int, err error) {
	flags, b, n, err := header(src, t)
	if err != nil {
		return nil, 0, 0, err
	}
	if flags != wantFlags {
		return nil, 0, 0, ErrReservedFlags
	}
	if *pid, i, err = readUint16(b, 0); err != nil {
		return nil, 0, 0, err
	}
	if *pid == 0 {
		return nil, 0, 0, ErrPacketIDZero
	}
	if v == V5 {
		if i, err = decodeProps(b, i, props, allowed); err != nil {
			return nil, 0, 0, err
		}
	} else if !props.Empty() {
		props.Reset()
	}
	return b, i, n, nil
}

// DecodeSubscribe decodes a SUBSCRIBE packet of protocol version v at the
// start of src into p. p.Filters is truncated and appended to, so a reused p
// stops allocating. Filter bytes alias src and are valid until src is
// reused. Filters are checked as UTF-8 strings of at least one byte; their
// wildcard syntax is checked by the caller (package trie).
func DecodeSubscribe(src []byte, v Version, p *Subscribe) (n int, err error) {
	p.Filters = p.Filters[:0]
	b, i, n, err := decodeIDProps(src, TypeSubscribe, 0x02, v, &p.PacketID, &p.Props, propsSubscribe)
	if err != nil {
		return 0, err
	}
	if i == len(b) {
		return 0, ErrNoFilters // [MQTT-3.8.3-3] v311, [MQTT-3.8.3-2] v5
	}
	for i < len(b) {
		var s Subscription
		if s.Filter, i, err = readString(b, i); err != nil { // [MQTT-3.8.3-1]
			return 0, err
		}
		if len(s.Filter) == 0 {
			return 0, ErrTopicEmpty // [MQTT-4.7.3-1]
		}
		if i >= len(b) {
			return 0, ErrMalformed
		}
		if err = decodeSubOptions(b[i], v, &s); err != nil {
			return 0, err
		}
		i++
		p.Filters = append(p.Filters, s)
	}
	return n, nil
}

// decodeSubOptions checks and stores one Subscription Options byte.
func decodeSubOptions(o byte, v Version, s *Subscription) error {
	s.QoS = o & 0x03
	if v != V5 {
		if o&0xFC != 0 || s.QoS == 3 {
			return ErrSubscriptionOptions // [MQTT-3.8.3-4] v311
		}
		return nil
	}
	if o&0xC0 != 0 || s.QoS == 3 {
		return ErrSubscriptionOptions // [MQTT-3.8.3-5] v5; QoS 3 is malformed (3.8.3.1).
	}
	s.NoLocal = o&0x04 != 0
	s.RetainAsPublished = o&0x08 != 0
	s.RetainHandling = (o >> 4) & 0x03
	if s.RetainHandling == 3 {
		return ErrRetainHandling // 5.0 3.8.3.1: Retain Handling 3 is a Protocol Error.
	}
	if s.NoLocal && len(s.Filter) >= len(sharePrefix) && string(s.Filter[:len(sharePrefix)]) == sharePrefix {
		return ErrNoLocalShared // [MQTT-3.8.3-4] v5
	}
	return nil
}

// subOptions encodes the Subscription Options byte of s for version v.
func subOptions(v Version, s *Subscription) byte {
	o := s.QoS & 0x03
	if v == V5 {
		if s.NoLocal {
			o |= 0x04
		}
		if s.RetainAsPublished {
			o |= 0x08
		}
		o |= (s.RetainHandling & 0x03) << 4
	}
	return o
}

func subscribeLen(v Version, p *Subscribe) (rl, ps int) {
	rl = 2
	if v == V5 {
		ps = propsSize(&p.Props)
		rl += sizeVarint(ps) + ps
	}
	for i := range p.Filters {
		rl += 3 + len(p.Filters[i].Filter)
	}
	return rl, ps
}

// SizeSubscribe returns the number of bytes AppendSubscribe appends.
func SizeSubscribe(v Version, p *Subscribe) int {
	rl, _ := subscribeLen(v, p)
	return 1 + sizeVarint(rl) + rl
}

// AppendSubscribe appends p as a SUBSCRIBE packet of version v.
func AppendSubscribe(dst []byte, v Version, p *Subscribe) []byte {
	rl, ps := subscribeLen(v, p)
	dst = grow(dst, 5+rl)
	dst = appendHeader(dst, TypeSubscribe, 0x02, rl) // [MQTT-3.8.1-1]
	dst = appendUint16(dst, p.PacketID)
	if v == V5 {
		dst = appendProps(dst, &p.Props, ps)
	}
	for i := range p.Filters {
		s := &p.Filters[i]
		dst = appendBinary(dst, s.Filter)
		dst = append(dst, subOptions(v, s))
	}
	return dst
}

// decodeCodes reads the acknowledgement header shared by SUBACK and
// UNSUBACK: packet id, 5.0 properties, then one reason code per remaining
// byte appended to *codes after checking it against set.
func decodeCodes(src []byte, t Type, v Version, pid *uint16, props *Properties,
	codes *[]ReasonCode, set *reasonSet) (n int, err error) {
	*codes = (*codes)[:0]
	b, i, n, err := decodeIDProps(src, t, 0, v, pid, props, propsAck)
	if err != nil {
		return 0, err
	}
	if set == nil { // 3.1.1 UNSUBACK: packet id only.
		if i != len(b) {
			return 0, ErrTrailingData
		}
		return n, nil
	}
	if i == len(b) {
		return 0, ErrNoReasonCodes // [MQTT-3.8.4-5] v311, [MQTT-3.8.4-6] v5
	}
	for ; i < len(b); i++ {
		rc := ReasonCode(b[i])
		if !set.has(rc) {
			return 0, ErrInvalidReasonCode // [MQTT-3.9.3-2] [MQTT-3.11.3-2]
		}
		*codes = append(*codes, rc)
	}
	return n, nil
}

// DecodeSuback decodes a SUBACK packet of version v at the start of src into
// p. p.ReasonCodes is truncated and appended to. Properties alias src and are
// valid until src is reused.
func DecodeSuback(src []byte, v Version, p *Suback) (n int, err error) {
	set := &subackReasons
	if v != V5 {
		set = &subackReasonsV3
	}
	return decodeCodes(src, TypeSuback, v, &p.PacketID, &p.Props, &p.ReasonCodes, set)
}

// DecodeUnsuback decodes an UNSUBACK packet of version v at the start of src
// into p. In 3.1/3.1.1 it has no reason codes and no properties.
func DecodeUnsuback(src []byte, v Version, p *Unsuback) (n int, err error) {
	var set *reasonSet
	if v == V5 {
		set = &unsubackReasons
	}
	return decodeCodes(src, TypeUnsuback, v, &p.PacketID, &p.Props, &p.ReasonCodes, set)
}

func codesLen(v Version, props *Properties, codes int) (rl, ps int) {
	rl = 2
	if v == V5 {
		ps = propsSize(props)
		rl += sizeVarint(ps) + ps
	}
	return rl + codes, ps
}

func appendCodes(dst []byte, t Type, v Version, pid uint16, props *Properties, codes []ReasonCode) []byte {
	rl, ps := codesLen(v, props, len(codes))
	dst = appendHeader(dst, t, 0, rl)
	dst = appendUint16(dst, pid)
	if v == V5 {
		dst = appendProps(dst, props, ps)
	}
	for _, c := range codes {
		dst = append(dst, byte(c))
	}
	return dst
}

// SizeSuback returns the number of bytes AppendSuback appends.
func SizeSuback(v Version, p *Suback) int {
	rl, _ := codesLen(v, &p.Props, len(p.ReasonCodes))
	return 1 + sizeVarint(rl) + rl
}

// AppendSuback appends p as a SUBACK packet of version v.
func AppendSuback(dst []byte, v Version, p *Suback) []byte {
	return appendCodes(dst, TypeSuback, v, p.PacketID, &p.Props, p.ReasonCodes)
}

// SizeUnsuback returns the number of bytes AppendUnsuback appends.
func SizeUnsuback(v Version, p *Unsuback) int {
	if v != V5 {
		return 4
	}
	rl, _ := codesLen(v, &p.Props, len(p.ReasonCodes))
	return 1 + sizeVarint(rl) + rl
}

// AppendUnsuback appends p as an UNSUBACK packet of version v; in 3.1/3.1.1
// only the packet identifier is written.
func AppendUnsuback(dst []byte, v Version, p *Unsuback) []byte {
	if v != V5 {
		return appendUint16(append(dst, byte(TypeUnsuback)<<4, 2), p.PacketID)
	}
	return appendCodes(dst, TypeUnsuback, v, p.PacketID, &p.Props, p.ReasonCodes)
}

// DecodeUnsubscribe decodes an UNSUBSCRIBE packet of version v at the start
// of src into p. p.Filters is truncated and appended to; the filters alias
// src and are valid until src is reused.
func DecodeUnsubscribe(src []byte, v Version, p *Unsubscribe) (n int, err error) {
	p.Filters = p.Filters[:0]
	b, i, n, err := decodeIDProps(src, TypeUnsubscribe, 0x02, v, &p.PacketID, &p.Props, propsUnsubscribe)
	if err != nil {
		return 0, err
	}
	if i == len(b) {
		return 0, ErrNoFilters // [MQTT-3.10.3-2]
	}
	for i < len(b) {
		var f []byte
		if f, i, err = readString(b, i); err != nil { // [MQTT-3.10.3-1]
			return 0, err
		}
		if len(f) == 0 {
			return 0, ErrTopicEmpty // [MQTT-4.7.3-1]
		}
		p.Filters = append(p.Filters, f)
	}
	return n, nil
}

func unsubscribeLen(v Version, p *Unsubscribe) (rl, ps int) {
	rl = 2
	if v == V5 {
		ps = propsSize(&p.Props)
		rl += sizeVarint(ps) + ps
	}
	for _, f := range p.Filters {
		rl += 2 + len(f)
	}
	return rl, ps
}

// SizeUnsubscribe returns the number of bytes AppendUnsubscribe appends.
func SizeUnsubscribe(v Version, p *Unsubscribe) int {
	rl, _ := unsubscribeLen(v, p)
	return 1 + sizeVarint(rl) + rl
}

// AppendUnsubscribe appends p as an UNSUBSCRIBE packet of version v.
func AppendUnsubscribe(dst []byte, v Version, p *Unsubscribe) []byte {
	rl, ps := unsubscribeLen(v, p)
	dst = grow(dst, 5+rl)
	dst = appendHeader(dst, TypeUnsubscribe, 0x02, rl) // [MQTT-3.10.1-1]
	dst = appendUint16(dst, p.PacketID)
	if v == V5 {
		dst = appendProps(dst, &p.Props, ps)
	}
	for _, f := range p.Filters {
		dst = appendBinary(dst, f)
	}
	return dst
}
