package engine

import (
	"sync/atomic"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/trie"
)

// A message record shared by every session it is delivered to, and one
// session's entry for it.

// message is one application message that outlives the OnTraffic call that
// received it: a QoS 1/2 delivery, a queued message, a retained message or a
// will. It is immutable once built and shared by reference among every
// session it is delivered to.
type message struct {
	topic   []byte
	payload []byte
	qos     byte
	retain  bool
	// expireAt is the v5 Message Expiry deadline in unix nanoseconds; 0 means
	// never.
	expireAt int64
	// props are the v5 PUBLISH properties forwarded to v5 subscribers; their
	// byte slices point into the message's own buffer. hasProps is false for
	// a message without any (the common case).
	props    codec.Properties
	hasProps bool
	// delay is a will's v5 Will Delay Interval in seconds (will.go).
	delay uint32
	// did is the id of the message's record in the durable store, 0 if it
	// has none; drefs counts the stored deliveries naming it, and the
	// record goes when the last one does (durqueue.go). did is set by the
	// loop that stores the message before any other loop can see it.
	did   uint64
	drefs atomic.Int32
	// stored says where the record is: nowhere yet, a record of its own,
	// or inside its only delivery's record (storedInline). Written by the
	// loop holding the route or the only reference (durqueue.go).
	stored uint8
}

// message.stored values.
const (
	storedNone     uint8 = iota
	storedSeparate       // a persist.Message record
	storedInline         // in its delivery's record (persist.Delivery.Message)
)

// expired reports whether m's v5 Message Expiry has passed at now (unix
// nanoseconds); such a message is not delivered (MQTT 5 3.3.2.3.3).
func (m *message) expired(now int64) bool {
	return m.expireAt != 0 && now > m.expireAt
}

// size is m's topic, payload and properties in bytes: what the retained,
// queued-bytes and delayed-will limits count (limits.go).
func (m *message) size() int {
	n := len(m.topic) + len(m.payload)
	if m.hasProps {
		n += propsSize(&m.props)
	}
	return n
}

// clone returns a copy of m without a durable record, sharing m's
// immutable bytes.
func (m *message) clone() *message {
	return &message{topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, expireAt: m.expireAt,
		props: m.props, hasProps: m.hasProps, delay: m.delay}
}

// newMessage copies topic and payload into one allocation.
func newMessage(topic, payload []byte, qos byte, retain bool) *message {
	buf := make([]byte, len(topic)+len(payload))
	copy(buf, topic)
	copy(buf[len(topic):], payload)
	return &message{
		topic:   buf[:len(topic):len(topic)],
		payload: buf[len(topic):],
		qos:     qos,
		retain:  retain,
	}
}

// newMessageProps is newMessage for a message with v5 properties pr (nil:
// none), received at now (unix nanoseconds): the properties are copied
// into the same buffer (the User Property list is one more allocation) and
// a Message Expiry Interval becomes the deadline expireAt.
func newMessageProps(topic, payload []byte, qos byte, retain bool, pr *codec.Properties, now int64) *message {
	if pr == nil {
		return newMessage(topic, payload, qos, retain)
	}
	n := len(topic) + len(payload) + len(pr.ContentType) + len(pr.ResponseTopic) + len(pr.CorrelationData)
	for _, u := range pr.User {
		n += len(u.Key) + len(u.Value)
	}
	buf := make([]byte, 0, n)
	take := func(b []byte) []byte { // b's copy in buf, capacity clipped
		if b == nil {
			return nil
		}
		buf = append(buf, b...)
		return buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	m := &message{topic: take(topic), qos: qos, retain: retain, hasProps: true}
	m.payload = take(payload)
	if m.payload == nil {
		m.payload = buf[len(buf):len(buf):len(buf)]
	}
	m.props = codec.Properties{
		Present:         pr.Present,
		PayloadFormat:   pr.PayloadFormat,
		MessageExpiry:   pr.MessageExpiry,
		ContentType:     take(pr.ContentType),
		ResponseTopic:   take(pr.ResponseTopic),
		CorrelationData: take(pr.CorrelationData),
	}
	if len(pr.User) > 0 {
		m.props.User = make([]codec.UserProperty, len(pr.User))
		for i, u := range pr.User {
			m.props.User[i] = codec.UserProperty{Key: take(u.Key), Value: take(u.Value)} // [MQTT-3.3.2-18]
		}
	}
	if pr.Has(codec.PropMessageExpiry) {
		m.expireAt = now + int64(pr.MessageExpiry)*1e9
	}
	return m
}

// outState is the stage of one outbound QoS 1/2 delivery.
type outState byte

const (
	outPublished outState = iota // PUBLISH sent, waiting for PUBACK/PUBREC.
	outReleased                  // PUBREL sent, waiting for PUBCOMP.
)

// outMsg is one outbound QoS 1/2 delivery in a session's window or queue.
type outMsg struct {
	m      *message
	qos    byte
	pid    uint16
	state  outState
	retain bool // RETAIN set: sent because of a new subscription [MQTT-3.3.1-8], or as published [MQTT-3.3.1-13]
	// dup is set on a QoS 1 delivery recovered from the store, which may
	// have been sent before the broker stopped: it goes with DUP
	// [MQTT-3.3.1-1].
	dup bool
	// subIDs are the v5 Subscription Identifiers of the matching
	// subscriptions [MQTT-3.3.4-3]; an immutable slice of a cached match
	// result, nil for none.
	subIDs []uint32
	// group is the shared subscription the message came through, nil for
	// a non-shared one; unacknowledged, it goes to another member when
	// this one leaves (shared.go).
	group *trie.Group
	// dseq is the sequence number of the delivery's record in the durable
	// store, 0 if it has none (durqueue.go).
	dseq uint64
}
