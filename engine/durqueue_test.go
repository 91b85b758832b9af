package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
)

// leave sends DISCONNECT and waits until the broker has the session of id
// offline.
func (r *rawConn) leave(b *Broker, id string) {
	r.t.Helper()
	r.write([]byte{0xE0, 0})
	waitOffline(r.t, b, id)
}

// v5Expiry is a dialV5 modifier for a session that outlives its
// connection.
func v5Expiry(cp *codec.Connect) {
	cp.CleanStart = false
	cp.Props.SessionExpiry = 3600
	cp.Props.Set(codec.PropSessionExpiry)
}

// publishQoS2 sends a QoS 2 PUBLISH and completes its flow.
func (r *rawConn) publishQoS2(ver codec.Version, p *codec.Publish) {
	r.t.Helper()
	r.write(codec.AppendPublish(nil, ver, p))
	r.mustRead(codec.TypePubrec)
	r.write(codec.AppendAck(nil, ver, &codec.Ack{Type: codec.TypePubrel, PacketID: p.PacketID}))
	r.mustRead(codec.TypePubcomp)
}

// readPublish reads a PUBLISH of a client of version ver.
func (r *rawConn) readPublish(ver codec.Version) *codec.Publish {
	r.t.Helper()
	var p codec.Publish
	if _, err := codec.DecodePublish(r.mustRead(codec.TypePublish), ver, &p); err != nil {
		r.t.Fatal(err)
	}
	return &p
}

// ackPublish finishes the receiver's side of p's flow.
func (r *rawConn) ackPublish(ver codec.Version, p *codec.Publish) {
	r.t.Helper()
	switch p.QoS {
	case 1:
		r.write(codec.AppendAck(nil, ver, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
	case 2:
		r.write(codec.AppendAck(nil, ver, &codec.Ack{Type: codec.TypePubrec, PacketID: p.PacketID}))
		r.mustRead(codec.TypePubrel)
		r.write(codec.AppendAck(nil, ver, &codec.Ack{Type: codec.TypePubcomp, PacketID: p.PacketID}))
	}
}

// drain reads n PUBLISHes as a receiver of version ver, acknowledging
// each (and answering PUBRELs), until every flow is complete; it returns
// them in arrival order.
func (r *rawConn) drain(ver codec.Version, n int) []*codec.Publish {
	r.t.Helper()
	var got []*codec.Publish
	open := 0 // QoS 2 flows waiting for their PUBREL
	for len(got) < n || open > 0 {
		pkt, err := r.read(5 * time.Second)
		if err != nil {
			r.t.Fatalf("after %d of %d messages: %v", len(got), n, err)
		}
		switch codec.Type(pkt[0] >> 4) {
		case codec.TypePublish:
			var p codec.Publish
			if _, err := codec.DecodePublish(pkt, ver, &p); err != nil {
				r.t.Fatal(err)
			}
			got = append(got, &p)
			switch p.QoS {
			case 1:
				r.write(codec.AppendAck(nil, ver, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
			case 2:
				open++
				r.write(codec.AppendAck(nil, ver, &codec.Ack{Type: codec.TypePubrec, PacketID: p.PacketID}))
			}
		case codec.TypePubrel:
			var a codec.Ack
			if _, err := codec.DecodeAck(pkt, ver, &a); err != nil {
				r.t.Fatal(err)
			}
			open--
			r.write(codec.AppendAck(nil, ver, &codec.Ack{Type: codec.TypePubcomp, PacketID: a.PacketID}))
		default:
			r.t.Fatalf("unexpected packet %x", pkt)
		}
	}
	r.write([]byte{0xC0, 0}) // PINGREQ: its PINGRESP follows the last acknowledgement's handling
	r.mustRead(codec.TypePingresp)
	return got
}

// TestQueuedSurvivesRestart: QoS 1 and 2 messages queued for offline
// persistent sessions (3.1.1 and MQTT 5) are delivered after a restart on
// the same data directory, in order, at the granted QoS, with their
// properties and Subscription Identifiers; once acknowledged, they are
// not delivered again after another restart.
func TestQueuedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	disk := func(c *Config) { c.Store = StoreDisk; c.DataDir = dir }
	b := startBrokerNoCleanup(t, disk)
	s3 := dialRaw(t, b)
	s3.connect(&codec.Connect{ClientID: []byte("s3"), KeepAlive: 60})
	s3.subscribe(1, "q/#", 1)
	s5 := dialV5(t, b, "s5", v5Expiry)
	sub := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("q/#"), QoS: 2}}}
	sub.Props.SubscriptionIDs = []uint32{9}
	s5.write(codec.AppendSubscribe(nil, codec.V5, &sub))
	s5.mustRead(codec.TypeSuback)
	s3.leave(b, "s3")
	s5.leave(b, "s5")

	p := dialV5(t, b, "pub", nil)
	const n = 20
	for i := range n {
		m := codec.Publish{Topic: []byte("q/a"), Payload: fmt.Appendf(nil, "m%02d", i), QoS: byte(1 + i%2), PacketID: uint16(i + 1)}
		if i == 3 {
			m.Props.ContentType = []byte("text/plain")
			m.Props.Set(codec.PropContentType)
			m.Props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
		}
		if m.QoS == 1 {
			p.write(codec.AppendPublish(nil, codec.V5, &m))
			p.readAck(codec.TypePuback)
		} else {
			p.publishQoS2(codec.V5, &m)
		}
	}
	shutdown(t, b)

	for round := range 2 {
		b = startBrokerNoCleanup(t, disk)
		r3 := dialRaw(t, b)
		r3.connect(&codec.Connect{ClientID: []byte("s3"), KeepAlive: 60})
		r5 := dialRaw(t, b)
		r5.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("s5")})
		if round == 1 {
			for _, r := range []*rawConn{r3, r5} {
				if pkt, err := r.read(300 * time.Millisecond); err == nil {
					t.Fatalf("delivered again after the second restart: %x", pkt)
				}
			}
			shutdown(t, b)
			break
		}
		for i, m3 := range r3.drain(codec.V311, n) {
			// A QoS 1 delivery's record does not say whether it was
			// sent: after a restart it goes with DUP.
			if string(m3.Payload) != fmt.Sprintf("m%02d", i) || m3.QoS != 1 || !m3.Dup {
				t.Fatalf("3.1.1 message %d: %q at QoS %d dup %v", i, m3.Payload, m3.QoS, m3.Dup)
			}
		}
		for i, m5 := range r5.drain(codec.V5, n) {
			if string(m5.Payload) != fmt.Sprintf("m%02d", i) || m5.QoS != byte(1+i%2) ||
				len(m5.Props.SubscriptionIDs) != 1 || m5.Props.SubscriptionIDs[0] != 9 {
				t.Fatalf("MQTT 5 message %d: %q at QoS %d ids %v", i, m5.Payload, m5.QoS, m5.Props.SubscriptionIDs)
			}
			if i == 3 && (string(m5.Props.ContentType) != "text/plain" || len(m5.Props.User) != 1) {
				t.Fatalf("properties lost: %+v", m5.Props)
			}
		}
		shutdown(t, b)
	}
}

// TestInflightResumesAfterRestart: a QoS 1 and a QoS 2 PUBLISH sent but
// not acknowledged are sent again after a restart with DUP and, for QoS
// 2, the same packet id [MQTT-4.4.0-1]; a QoS 2 delivery past PUBREC
// resumes with its PUBREL, and its message is not sent again.
func TestInflightResumesAfterRestart(t *testing.T) {
	mem := persist.NewMem()
	t.Cleanup(func() { _ = mem.Close() })
	st := func(c *Config) { c.Persist = mem }
	b := startBrokerNoCleanup(t, st)
	s := dialRaw(t, b)
	s.connect(&codec.Connect{ClientID: []byte("s"), KeepAlive: 60})
	s.subscribe(1, "i/#", 2)
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("p"), CleanStart: true})
	p.publish(&codec.Publish{Topic: []byte("i/1"), Payload: []byte("one"), QoS: 1, PacketID: 1})
	p.mustRead(codec.TypePuback)
	q1 := s.readPublish(codec.V311)
	p.publishQoS2(codec.V311, &codec.Publish{Topic: []byte("i/2"), Payload: []byte("two"), QoS: 2, PacketID: 2})
	q2 := s.readPublish(codec.V311)
	p.publishQoS2(codec.V311, &codec.Publish{Topic: []byte("i/3"), Payload: []byte("three"), QoS: 2, PacketID: 3})
	q3 := s.readPublish(codec.V311)
	s.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePubrec, PacketID: q3.PacketID}))
	s.mustRead(codec.TypePubrel) // PUBCOMP never sent
	shutdown(t, b)

	b = startBroker(t, st)
	s = dialRaw(t, b)
	if !s.connect(&codec.Connect{ClientID: []byte("s"), KeepAlive: 60}).SessionPresent {
		t.Fatal("session not present")
	}
	// The QoS 2 window first, as it was (same packet ids), then the QoS 1
	// message, queued again.
	r2 := s.readPublish(codec.V311)
	if string(r2.Payload) != "two" || !r2.Dup || r2.PacketID != q2.PacketID {
		t.Fatalf("QoS 2 resent as %q dup %v id %d, want id %d", r2.Payload, r2.Dup, r2.PacketID, q2.PacketID)
	}
	var rel codec.Ack
	if _, err := codec.DecodeAck(s.mustRead(codec.TypePubrel), codec.V311, &rel); err != nil || rel.PacketID != q3.PacketID {
		t.Fatalf("PUBREL %d (%v), want %d", rel.PacketID, err, q3.PacketID)
	}
	r1 := s.readPublish(codec.V311)
	if string(r1.Payload) != string(q1.Payload) || !r1.Dup || r1.QoS != 1 {
		t.Fatalf("QoS 1 resent as %q dup %v qos %d", r1.Payload, r1.Dup, r1.QoS)
	}
	s.ackPublish(codec.V311, r1)
	s.ackPublish(codec.V311, r2)
	s.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePubcomp, PacketID: q3.PacketID}))
	s.write([]byte{0xC0, 0})
	s.mustRead(codec.TypePingresp)
	waitFor(t, "only the session's own records left", func() bool { return mem.Len() == 2 }) // session, subscription
}

// TestPubackWaitsForQueued holds the store's commits: the PUBACK of a
// QoS 1 message routed to a persistent session, online or not, waits for
// the commit that stores it; one routed only to clean sessions does not.
// A QoS 2 PUBLISH to a persistent session waits too (its packet id is
// stored first).
func TestPubackWaitsForQueued(t *testing.T) {
	mem := persist.NewMem()
	t.Cleanup(func() { _ = mem.Close() })
	b := startBroker(t, func(c *Config) { c.Persist = mem })
	off := dialRaw(t, b)
	off.connect(&codec.Connect{ClientID: []byte("off"), KeepAlive: 60})
	off.subscribe(1, "kept", 1)
	off.leave(b, "off")
	on := dialRaw(t, b)
	on.connect(&codec.Connect{ClientID: []byte("on"), KeepAlive: 60})
	on.subscribe(1, "q2", 2)
	clean := dialRaw(t, b)
	clean.connect(&codec.Connect{ClientID: []byte("clean"), CleanStart: true})
	clean.subscribe(1, "plain", 1)
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("p"), CleanStart: true})
	base := mem.Len()

	mem.Hold()
	p.publish(&codec.Publish{Topic: []byte("plain"), Payload: []byte("x"), QoS: 1, PacketID: 1})
	if a := p.readAck(codec.TypePuback); a.PacketID != 1 {
		t.Fatalf("PUBACK for %d", a.PacketID)
	}
	clean.mustRead(codec.TypePublish)
	p.publish(&codec.Publish{Topic: []byte("kept"), Payload: []byte("x"), QoS: 1, PacketID: 2})
	if pkt, err := p.read(300 * time.Millisecond); err == nil {
		t.Fatalf("%x before the commit completed", pkt)
	}
	mem.Release()
	if a := p.readAck(codec.TypePuback); a.PacketID != 2 {
		t.Fatalf("PUBACK for %d", a.PacketID)
	}
	if got := mem.Len(); got != base+1 { // its delivery, the message inside it
		t.Fatalf("%d records, want %d", got, base+1)
	}

	mem.Hold()
	p.publish(&codec.Publish{Topic: []byte("q2"), Payload: []byte("y"), QoS: 2, PacketID: 3})
	if pkt, err := on.read(300 * time.Millisecond); err == nil {
		t.Fatalf("QoS 2 PUBLISH %x before its id was stored", pkt)
	}
	mem.Release()
	p.readAck(codec.TypePubrec)
	m := on.readPublish(codec.V311)
	if m.QoS != 2 {
		t.Fatalf("delivered at QoS %d", m.QoS)
	}
	on.ackPublish(codec.V311, m)
}

// TestQueuedStoredOnce: a message routed to several persistent sessions
// is stored once, with a delivery record per session; the records go as
// each session acknowledges it, the message with the last.
func TestQueuedStoredOnce(t *testing.T) {
	mem := persist.NewMem()
	t.Cleanup(func() { _ = mem.Close() })
	b := startBroker(t, func(c *Config) { c.Persist = mem })
	var subs []*rawConn
	for i := range 3 {
		r := dialRaw(t, b)
		r.connect(&codec.Connect{ClientID: fmt.Appendf(nil, "s%d", i), KeepAlive: 60})
		r.subscribe(1, "fan", 1)
		subs = append(subs, r)
	}
	base := mem.Len()
	subs[2].leave(b, "s2")
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("p"), CleanStart: true})
	p.publish(&codec.Publish{Topic: []byte("fan"), Payload: []byte("x"), QoS: 1, PacketID: 1})
	p.mustRead(codec.TypePuback)
	if got := mem.Len(); got != base+4 {
		t.Fatalf("%d records after the publish, want %d (one message, three deliveries)", got, base+4)
	}
	for i, r := range subs[:2] {
		r.ackPublish(codec.V311, r.readPublish(codec.V311))
		want := base + 4 - (i + 1)
		waitFor(t, fmt.Sprintf("%d records", want), func() bool { return mem.Len() == want })
	}
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("s2"), KeepAlive: 60})
	r.ackPublish(codec.V311, r.readPublish(codec.V311))
	waitFor(t, "the message deleted with its last delivery", func() bool { return mem.Len() == base })
}

// TestSharedInflightSurvivesRestart: messages in flight to a persistent
// member of a shared subscription come back after a restart still linked
// to their group: sent again to the member, and when it leaves without
// acknowledging them they go to the other member, each once.
func TestSharedInflightSurvivesRestart(t *testing.T) {
	mem := persist.NewMem()
	t.Cleanup(func() { _ = mem.Close() })
	st := func(c *Config) { c.Persist = mem }
	b := startBrokerNoCleanup(t, st)
	ra := dialRaw(t, b)
	ra.connect(&codec.Connect{ClientID: []byte("a"), KeepAlive: 60})
	ra.subscribe(1, "$share/g/sh", 1)
	ra.leave(b, "a")
	rb := dialRaw(t, b)
	rb.connect(&codec.Connect{ClientID: []byte("b"), KeepAlive: 60})
	rb.subscribe(1, "$share/g/sh", 1)
	base := mem.Len()
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("p"), CleanStart: true})
	const n = 10
	for i := range n {
		p.publish(&codec.Publish{Topic: []byte("sh"), Payload: fmt.Appendf(nil, "%d", i), QoS: 1, PacketID: uint16(i + 1)})
		p.mustRead(codec.TypePuback)
		rb.readPublish(codec.V311) // not acknowledged
	}
	shutdown(t, b)

	b = startBroker(t, st)
	ra = dialRaw(t, b)
	ra.connect(&codec.Connect{ClientID: []byte("a"), KeepAlive: 60})
	rb = dialRaw(t, b)
	rb.connect(&codec.Connect{ClientID: []byte("b"), KeepAlive: 60})
	for i := range n {
		if m := rb.readPublish(codec.V311); !m.Dup || string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("resent %q dup %v, want %d with DUP", m.Payload, m.Dup, i)
		}
	}
	rb.leave(b, "b")
	got := map[string]int{}
	for range n {
		m := ra.readPublish(codec.V311)
		got[string(m.Payload)]++
		ra.ackPublish(codec.V311, m)
	}
	if pkt, err := ra.read(300 * time.Millisecond); err == nil {
		t.Fatalf("more than %d messages: %x", n, pkt)
	}
	for i := range n {
		if got[fmt.Sprint(i)] != 1 {
			t.Fatalf("message %d delivered %d times to the other member", i, got[fmt.Sprint(i)])
		}
	}
	waitFor(t, "the deliveries and messages deleted", func() bool { return mem.Len() == base })
}
