package codec

// Protocol names of CONNECT.
var (
	protocolMQTT   = []byte("MQTT")
	protocolMQIsdp = []byte("MQIsdp")
)

// CONNECT flag bits (3.1.2.3 of 3.1.1, 3.1.2.3 of 5.0).
const (
	connReserved   = 0x01
	connCleanStart = 0x02
	connWill       = 0x04
	connWillQoS    = 0x18
	connWillRetain = 0x20
	connPassword   = 0x40
	connUsername   = 0x80
)

// DecodeConnect decodes a CONNECT packet of any protocol level at the start
// of src into p. The protocol level decides the wire form: 3 with "MQIsdp"
// (3.1), 4 with "MQTT" (3.1.1), 5 with "MQTT" (5.0). p.Version and
// p.ProtocolName are set as soon as they are read, so on a later error the
// caller knows which version to answer in. Byte-slice fields alias src and
// are valid until src is reused. Other CONNECT-time rules that need broker
// state (client identifier policy, authentication) are the caller's.
func DecodeConnect(src []byte, p *Connect) (n int, err error) {
	flags, b, n, err := header(src, TypeConnect)
	if err != nil {
		return 0, err
	}
	p.Version = 0
	if flags != 0 {
		return 0, ErrReservedFlags // [MQTT-2.2.2-1] [MQTT-2.1.3-1]
	}
	name, i, err := readString(b, 0)
	if err != nil {
		return 0, err
	}
	p.ProtocolName = name
	if i >= len(b) {
		return 0, ErrMalformed
	}
	p.Version = Version(b[i])
	i++
	if err = checkProtocol(name, p.Version); err != nil {
		return 0, err
	}
	if i >= len(b) {
		return 0, ErrMalformed
	}
	cf := b[i]
	i++
	if err = decodeConnectFlags(cf, p); err != nil {
		return 0, err
	}
	if p.KeepAlive, i, err = readUint16(b, i); err != nil {
		return 0, err
	}
	if p.Version == V5 {
		if i, err = decodeProps(b, i, &p.Props, propsConnect); err != nil {
			return 0, err
		}
		if p.Props.Present&(1<<PropAuthData|1<<PropAuthMethod) == 1<<PropAuthData {
			return 0, ErrPropertyValue // 5.0 3.1.2.11.10: Authentication Data without a method.
		}
	} else {
		p.Props.Reset()
	}
	if i, err = decodeConnectPayload(b, i, p); err != nil {
		return 0, err
	}
	if i != len(b) {
		return 0, ErrTrailingData
	}
	return n, nil
}

// checkProtocol checks the protocol name and level pair.
func checkProtocol(name []byte, v Version) error {
	switch string(name) {
	case "MQTT":
		if v == V311 || v == V5 {
			return nil
		}
	case "MQIsdp":
		if v == V31 {
			return nil
		}
	default:
		return ErrProtocolName // [MQTT-3.1.2-1]
	}
	return ErrUnsupportedVersion // [MQTT-3.1.2-2]
}

// decodeConnectFlags checks and stores the CONNECT flags byte.
func decodeConnectFlags(cf byte, p *Connect) error {
	if cf&connReserved != 0 {
		return ErrConnectReservedFlag // [MQTT-3.1.2-3]
	}
	p.CleanStart = cf&connCleanStart != 0
	p.WillFlag = cf&connWill != 0
	p.WillQoS = (cf & connWillQoS) >> 3
	p.WillRetain = cf&connWillRetain != 0
	p.UsernameFlag = cf&connUsername != 0
	p.PasswordFlag = cf&connPassword != 0
	if !p.WillFlag && (p.WillQoS != 0 || p.WillRetain) {
		return ErrWillFlags // [MQTT-3.1.2-13] [MQTT-3.1.2-15] v311, [MQTT-3.1.2-11] [MQTT-3.1.2-13] v5
	}
	if p.WillQoS == 3 {
		return ErrWillQoS // [MQTT-3.1.2-14] v311, [MQTT-3.1.2-12] v5
	}
	if p.Version != V5 && p.PasswordFlag && !p.UsernameFlag {
		return ErrPasswordWithoutUsername // [MQTT-3.1.2-22] v311
	}
	return nil
}

// decodeConnectPayload reads the payload fields, in the order of
// [MQTT-3.1.3-1], that the flags say are present.
func decodeConnectPayload(b []byte, i int, p *Connect) (int, error) {
	var err error
	// [MQTT-3.1.3-3] [MQTT-3.1.3-4] the client identifier comes first.
	if p.ClientID, i, err = readString(b, i); err != nil {
		return 0, err
	}
	if len(p.ClientID) == 0 && !p.CleanStart && p.Version != V5 {
		return 0, ErrClientIDRejected // [MQTT-3.1.3-8] v311
	}
	p.WillProps.Reset()
	p.WillTopic, p.WillPayload, p.Username, p.Password = nil, nil, nil, nil
	if p.WillFlag { // [MQTT-3.1.2-9]
		if p.Version == V5 {
			if i, err = decodeProps(b, i, &p.WillProps, propsWill); err != nil {
				return 0, err
			}
		}
		if p.WillTopic, i, err = readString(b, i); err != nil { // [MQTT-3.1.3-10] v311, [MQTT-3.1.3-11] v5
			return 0, err
		}
		if len(p.WillTopic) == 0 {
			return 0, ErrTopicEmpty // [MQTT-4.7.3-1]
		}
		if err = checkTopic(p.WillTopic); err != nil {
			return 0, err
		}
		if p.WillPayload, i, err = readBinary(b, i); err != nil {
			return 0, err
		}
	}
	if p.UsernameFlag { // [MQTT-3.1.2-19] v311, [MQTT-3.1.2-17] v5
		if p.Username, i, err = readString(b, i); err != nil {
			return 0, err
		}
	}
	if p.PasswordFlag { // [MQTT-3.1.2-21] v311, [MQTT-3.1.2-19] v5
		if p.Password, i, err = readBinary(b, i); err != nil {
			return 0, err
		}
	}
	return i, nil
}

// SizeConnect returns the number of bytes AppendConnect appends for p.
func SizeConnect(p *Connect) int {
	rl, _, _ := connectLen(p)
	return 1 + sizeVarint(rl) + rl
}

// connectLen returns the remaining length and the two property sizes.
func connectLen(p *Connect) (rl, ps, ws int) {
	name := connectName(p)
	rl = 2 + len(name) + 1 + 1 + 2 + 2 + len(p.ClientID)
	if p.Version == V5 {
		ps = propsSize(&p.Props)
		rl += sizeVarint(ps) + ps
	}
	if p.WillFlag {
		if p.Version == V5 {
			ws = propsSize(&p.WillProps)
			rl += sizeVarint(ws) + ws
		}
		rl += 4 + len(p.WillTopic) + len(p.WillPayload)
	}
	if p.UsernameFlag {
		rl += 2 + len(p.Username)
	}
	if p.PasswordFlag {
		rl += 2 + len(p.Password)
	}
	return rl, ps, ws
}

// connectName returns p.ProtocolName, or the standard name for p.Version
// when it is empty.
func connectName(p *Connect) []byte {
	switch {
	case len(p.ProtocolName) > 0:
		return p.ProtocolName
	case p.Version == V31:
		return protocolMQIsdp
	}
	return protocolMQTT
}

// AppendConnect appends p as a CONNECT packet; p.Version selects the wire
// form and an empty p.ProtocolName means the standard name for it. Fields
// are written as the flags say (WillFlag, UsernameFlag, PasswordFlag); the
// encoder does not validate them.
func AppendConnect(dst []byte, p *Connect) []byte {
	rl, ps, ws := connectLen(p)
	dst = grow(dst, 1+sizeVarint(rl)+rl)
	dst = appendHeader(dst, TypeConnect, 0, rl)
	dst = appendBinary(dst, connectName(p))
	var cf byte
	if p.CleanStart {
		cf |= connCleanStart
	}
	if p.WillFlag {
		cf |= connWill | (p.WillQoS&3)<<3
		if p.WillRetain {
			cf |= connWillRetain
		}
	}
	if p.UsernameFlag {
		cf |= connUsername
	}
	if p.PasswordFlag {
		cf |= connPassword
	}
	dst = append(dst, byte(p.Version), cf)
	dst = appendUint16(dst, p.KeepAlive)
	if p.Version == V5 {
		dst = appendProps(dst, &p.Props, ps)
	}
	dst = appendBinary(dst, p.ClientID)
	if p.WillFlag {
		if p.Version == V5 {
			dst = appendProps(dst, &p.WillProps, ws)
		}
		dst = appendBinary(dst, p.WillTopic)
		dst = appendBinary(dst, p.WillPayload)
	}
	if p.UsernameFlag {
		dst = appendBinary(dst, p.Username)
	}
	if p.PasswordFlag {
		dst = appendBinary(dst, p.Password)
	}
	return dst
}

// DecodeConnack decodes a CONNACK packet of protocol version v at the start
// of src into p. Byte-slice properties alias src and are valid until src is
// reused.
func DecodeConnack(src []byte, v Version, p *Connack) (n int, err error) {
	flags, b, n, err := header(src, TypeConnack)
	if err != nil {
		return 0, err
	}
	if flags != 0 {
		return 0, ErrReservedFlags // [MQTT-2.2.2-1] [MQTT-2.1.3-1]
	}
	if len(b) < 2 {
		return 0, ErrMalformed
	}
	if b[0]&^1 != 0 {
		return 0, ErrConnackFlags // [MQTT-3.2.2-1] v5; reserved in 3.1.1 too.
	}
	p.SessionPresent = b[0] == 1
	p.ReasonCode = ReasonCode(b[1])
	if p.SessionPresent && p.ReasonCode != ReasonSuccess {
		return 0, ErrSessionPresentRefused // [MQTT-3.2.2-4] v311, [MQTT-3.2.2-6] v5
	}
	if v != V5 {
		p.Props.Reset()
		if len(b) != 2 {
			return 0, ErrTrailingData
		}
		if p.ReasonCode > ReasonCode(ConnackNotAuthorized) {
			return 0, ErrInvalidReasonCode
		}
		return n, nil
	}
	if !connackReasons.has(p.ReasonCode) {
		return 0, ErrInvalidReasonCode // [MQTT-3.2.2-8]
	}
	i, err := decodeProps(b, 2, &p.Props, propsConnack) // [MQTT-2.2.2-1] length required.
	if err != nil {
		return 0, err
	}
	if i != len(b) {
		return 0, ErrTrailingData
	}
	return n, nil
}

// SizeConnack returns the number of bytes AppendConnack appends.
func SizeConnack(v Version, p *Connack) int {
	rl := 2
	if v == V5 {
		ps := propsSize(&p.Props)
		rl += sizeVarint(ps) + ps
	}
	return 1 + sizeVarint(rl) + rl
}

// AppendConnack appends p as a CONNACK packet of version v.
func AppendConnack(dst []byte, v Version, p *Connack) []byte {
	rl, ps := 2, 0
	if v == V5 {
		ps = propsSize(&p.Props)
		rl += sizeVarint(ps) + ps
	}
	dst = appendHeader(dst, TypeConnack, 0, rl)
	var sp byte
	if p.SessionPresent {
		sp = 1
	}
	dst = append(dst, sp, byte(p.ReasonCode))
	if v == V5 {
		dst = appendProps(dst, &p.Props, ps)
	}
	return dst
}
