package persist

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Message is a QoS 1/2 message owed to one or more sessions.
type Message struct {
	ID       uint64
	Topic    []byte
	Payload  []byte
	Props    []byte // MQTT 5 properties in wire form, without their length
	QoS      byte
	ExpireAt int64 // unix nanoseconds, 0 never
}

// Retained is the retained message of a topic.
type Retained struct {
	Topic    []byte
	Payload  []byte
	Props    []byte
	QoS      byte
	ExpireAt int64
}

// Will is a session's will message.
type Will struct {
	Topic   []byte
	Payload []byte
	Props   []byte
	QoS     byte
	Retain  bool
	Delay   uint32 // Will Delay Interval, seconds
}

// Session is a persistent session.
type Session struct {
	ClientID string
	Version  byte   // protocol level of the last CONNECT
	Expiry   uint32 // Session Expiry Interval in seconds; 0xFFFFFFFF never
	// OfflineAt is when the session went offline (unix nanoseconds), 0
	// while its client is connected.
	OfflineAt int64
	Will      *Will // nil if none
}

// Subscription is one filter of a session, with its options.
type Subscription struct {
	ClientID          string
	Filter            []byte // as subscribed, $share/group/ included
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32 // Subscription Identifier, 0 none
}

// Delivery states.
const (
	Queued    byte = iota // not sent yet
	Published             // sent, not acknowledged (QoS 1: PUBACK, QoS 2: PUBREC)
	Released              // QoS 2: PUBREC received, PUBREL sent, PUBCOMP awaited
)

// Delivery is a message owed to one session, in its order (Seq).
type Delivery struct {
	ClientID  string
	Seq       uint64
	MessageID uint64
	QoS       byte
	PacketID  uint16 // 0 while Queued
	State     byte
	Retain    bool     // RETAIN flag to send (Retain As Published)
	SubIDs    []uint32 // Subscription Identifiers to send
	Group     []byte   // shared subscription it came through ($share/g/f), nil if none
	// Message, if not nil, is the message itself, held in this record
	// (the only delivery naming it): no Message record of MessageID
	// exists, and the message goes with the delivery.
	Message *Message
}

// Key kinds (the first byte) and per-client kinds (after the client id).
const (
	kindMessage  = 0x01
	kindRetained = 0x02
	kindClient   = 0x03

	clientSession = 0x01
	clientSub     = 0x02
	clientDeliver = 0x03
	clientInQoS2  = 0x04
)

// valueVersion starts every value: the encoding's version.
const valueVersion = 1

var errCorrupt = errors.New("persist: malformed record")

func messageKey(dst []byte, id uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, kindMessage), id)
}

func retainedKey(dst []byte, topic []byte) []byte {
	return append(append(dst, kindRetained), topic...)
}

// clientKey is the prefix of every key of clientID's session.
func clientKey(dst []byte, clientID string) []byte {
	dst = append(dst, kindClient)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	return append(dst, clientID...)
}

func sessionKey(dst []byte, clientID string) []byte {
	return append(clientKey(dst, clientID), clientSession)
}

func subKey(dst []byte, clientID string, filter []byte) []byte {
	return append(append(clientKey(dst, clientID), clientSub), filter...)
}

func deliveryKey(dst []byte, clientID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(clientKey(dst, clientID), clientDeliver), seq)
}

func inQoS2Key(dst []byte, clientID string, pid uint16) []byte {
	return binary.BigEndian.AppendUint16(append(clientKey(dst, clientID), clientInQoS2), pid)
}

// appendBytes appends a length-prefixed byte string.
func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

func encodeMessage(dst []byte, m *Message) []byte {
	dst = append(dst, valueVersion, m.QoS)
	dst = binary.AppendVarint(dst, m.ExpireAt)
	dst = appendBytes(dst, m.Topic)
	dst = appendBytes(dst, m.Props)
	return appendBytes(dst, m.Payload)
}

func encodeRetained(dst []byte, r *Retained) []byte {
	dst = append(dst, valueVersion, r.QoS)
	dst = binary.AppendVarint(dst, r.ExpireAt)
	dst = appendBytes(dst, r.Props)
	return appendBytes(dst, r.Payload)
}

func encodeSession(dst []byte, s *Session) []byte {
	dst = append(dst, valueVersion, s.Version)
	dst = binary.BigEndian.AppendUint32(dst, s.Expiry)
	dst = binary.AppendVarint(dst, s.OfflineAt)
	if s.Will == nil {
		return append(dst, 0)
	}
	w := s.Will
	flags := byte(1)
	if w.Retain {
		flags |= 2
	}
	dst = append(dst, flags, w.QoS)
	dst = binary.BigEndian.AppendUint32(dst, w.Delay)
	dst = appendBytes(dst, w.Topic)
	dst = appendBytes(dst, w.Props)
	return appendBytes(dst, w.Payload)
}

func encodeSubscription(dst []byte, s *Subscription) []byte {
	var flags byte
	if s.NoLocal {
		flags |= 1
	}
	if s.RetainAsPublished {
		flags |= 2
	}
	dst = append(dst, valueVersion, s.QoS, flags, s.RetainHandling)
	return binary.AppendUvarint(dst, uint64(s.ID))
}

func encodeDelivery(dst []byte, d *Delivery) []byte {
	var flags byte
	if d.Retain {
		flags |= 1
	}
	if d.Message != nil {
		flags |= 2
	}
	dst = append(dst, valueVersion, d.QoS, d.State, flags)
	dst = binary.BigEndian.AppendUint16(dst, d.PacketID)
	dst = binary.BigEndian.AppendUint64(dst, d.MessageID)
	dst = binary.AppendUvarint(dst, uint64(len(d.SubIDs)))
	for _, id := range d.SubIDs {
		dst = binary.AppendUvarint(dst, uint64(id))
	}
	dst = appendBytes(dst, d.Group)
	if m := d.Message; m != nil {
		dst = append(dst, m.QoS)
		dst = binary.AppendVarint(dst, m.ExpireAt)
		dst = appendBytes(dst, m.Topic)
		dst = appendBytes(dst, m.Props)
		dst = appendBytes(dst, m.Payload)
	}
	return dst
}

// reader decodes a value; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

// take consumes the next n bytes; nil if there are fewer.
func (r *reader) take(n int) []byte {
	if len(r.b) < n {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte1() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// version checks the value's leading version byte.
func (r *reader) version() {
	if v := r.byte1(); r.err == nil && v != valueVersion {
		r.err = fmt.Errorf("persist: record of format %d, this build reads %d", v, valueVersion)
	}
}

// done reports the first error, or trailing bytes as corruption.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		return errCorrupt
	}
	return r.err
}

// visit decodes one key/value pair and hands it to rec.
func visit(key, val []byte, rec Recoverer) error {
	v := visitor{rec: rec}
	return v.visit(key, val)
}

// visitor decodes the records of one Recover. It hands the Recoverer the
// same record values each time, and the same client id string for the
// consecutive records of one client, so that reading a record allocates
// nothing the Recoverer does not keep.
type visitor struct {
	rec    Recoverer
	id     string // client id of the last client record
	m      Message
	rt     Retained
	s      Session
	w      Will
	sub    Subscription
	d      Delivery
	subIDs []uint32
}

// clientID returns the client id b as a string, the previous one if equal.
func (v *visitor) clientID(b []byte) string {
	if string(b) != v.id {
		v.id = string(b)
	}
	return v.id
}

// visit decodes one key/value pair and hands it to v.rec.
func (v *visitor) visit(key, val []byte) error {
	if len(key) == 0 {
		return errCorrupt
	}
	r := reader{b: val}
	r.version()
	switch key[0] {
	case kindMessage:
		if len(key) != 9 {
			return errCorrupt
		}
		m := &v.m
		*m = Message{ID: binary.BigEndian.Uint64(key[1:])}
		m.QoS = r.byte1()
		m.ExpireAt = r.varint()
		m.Topic = r.bytes()
		m.Props = r.bytes()
		m.Payload = r.bytes()
		if err := r.done(); err != nil {
			return err
		}
		return v.rec.Message(m)
	case kindRetained:
		rt := &v.rt
		*rt = Retained{Topic: key[1:]}
		rt.QoS = r.byte1()
		rt.ExpireAt = r.varint()
		rt.Props = r.bytes()
		rt.Payload = r.bytes()
		if err := r.done(); err != nil {
			return err
		}
		return v.rec.Retained(rt)
	case kindClient:
		return v.visitClient(key, &r)
	}
	return errCorrupt
}

func (v *visitor) visitClient(key []byte, r *reader) error {
	if len(key) < 4 {
		return errCorrupt
	}
	n := int(binary.BigEndian.Uint16(key[1:]))
	if len(key) < 4+n {
		return errCorrupt
	}
	id := v.clientID(key[3 : 3+n])
	rest := key[3+n:]
	switch rest[0] {
	case clientSession:
		if len(rest) != 1 {
			return errCorrupt
		}
		s := &v.s
		*s = Session{ClientID: id}
		s.Version = r.byte1()
		s.Expiry = r.u32()
		s.OfflineAt = r.varint()
		if flags := r.byte1(); flags&1 != 0 {
			w := &v.w
			*w = Will{Retain: flags&2 != 0}
			w.QoS = r.byte1()
			w.Delay = r.u32()
			w.Topic = r.bytes()
			w.Props = r.bytes()
			w.Payload = r.bytes()
			s.Will = w
		}
		if err := r.done(); err != nil {
			return err
		}
		return v.rec.Session(s)
	case clientSub:
		s := &v.sub
		*s = Subscription{ClientID: id, Filter: rest[1:]}
		s.QoS = r.byte1()
		flags := r.byte1()
		s.NoLocal, s.RetainAsPublished = flags&1 != 0, flags&2 != 0
		s.RetainHandling = r.byte1()
		s.ID = uint32(r.uvarint())
		if err := r.done(); err != nil {
			return err
		}
		return v.rec.Subscription(s)
	case clientDeliver:
		if len(rest) != 9 {
			return errCorrupt
		}
		d := &v.d
		*d = Delivery{ClientID: id, Seq: binary.BigEndian.Uint64(rest[1:])}
		d.QoS = r.byte1()
		d.State = r.byte1()
		flags := r.byte1()
		d.Retain = flags&1 != 0
		d.PacketID = r.u16()
		d.MessageID = r.u64()
		if k := r.uvarint(); k > 0 && k <= uint64(len(r.b)) {
			v.subIDs = v.subIDs[:0]
			for range k {
				v.subIDs = append(v.subIDs, uint32(r.uvarint()))
			}
			d.SubIDs = v.subIDs
		} else if k > 0 {
			r.fail()
		}
		if g := r.bytes(); len(g) > 0 {
			d.Group = g
		}
		if flags&2 != 0 {
			m := &v.m
			*m = Message{ID: d.MessageID}
			m.QoS = r.byte1()
			m.ExpireAt = r.varint()
			m.Topic = r.bytes()
			m.Props = r.bytes()
			m.Payload = r.bytes()
			d.Message = m
		}
		if err := r.done(); err != nil {
			return err
		}
		return v.rec.Delivery(d)
	case clientInQoS2:
		if len(rest) != 3 {
			return errCorrupt
		}
		if err := r.done(); err != nil {
			return err
		}
		return v.rec.InQoS2(id, binary.BigEndian.Uint16(rest[1:]))
	}
	return errCorrupt
}
