package engine

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/gust-mqtt/gust/codec"
)

// dialPahoV5NoAck connects a paho.golang v5 client that acknowledges
// nothing (manual acknowledgement, never given), for a shared member that
// dies with messages in flight. Its net.Conn is returned so the test can
// cut the connection without a DISCONNECT.
func dialPahoV5NoAck(t testing.TB, b *Broker, id string, cp *paho.Connect) (*pahoV5, net.Conn) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	noErr(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	pc := &pahoV5{msgs: make(chan *paho.Publish, 1024)}
	pc.c = paho.NewClient(paho.ClientConfig{
		Conn:                       nc,
		EnableManualAcknowledgment: true,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			pc.msgs <- pr.Packet
			return true, nil
		}},
		OnClientError: func(error) {},
	})
	cp.ClientID = id
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pc.ack, err = pc.c.Connect(ctx, cp)
	noErr(t, err, "paho connect")
	return pc, nc
}

// subscribeID subscribes pc to filter at qos with Subscription Identifier
// id (0: none) and checks the grant.
func (pc *pahoV5) subscribeID(t testing.TB, filter string, qos byte, id int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}
	if id != 0 {
		s.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: ptr(id)}
	}
	sa, err := pc.c.Subscribe(ctx, s)
	noErr(t, err, "paho subscribe")
	equal(t, sa.Reasons[0], qos)
}

// collect reads n PUBLISHes from pc within d and returns them.
func (pc *pahoV5) collect(t testing.TB, n int, d time.Duration) []*paho.Publish {
	t.Helper()
	out := make([]*paho.Publish, 0, n)
	deadline := time.After(d)
	for len(out) < n {
		select {
		case p := <-pc.msgs:
			out = append(out, p)
		case <-deadline:
			t.Fatalf("got %d PUBLISHes, want %d", len(out), n)
		}
	}
	return out
}

// TestInteropPahoV5SharedRedelivery: two paho.golang members share
// $share/g/sr/#; A never acknowledges its QoS 1 messages and its connection
// drops. B then receives every one of A's messages, once, with its own
// Subscription Identifier [MQTT-3.3.4-3] and at its granted QoS
// [MQTT-4.8.2-3]; nothing is lost and nothing else is duplicated. A's
// persistent session, resumed, gets none of them again.
func TestInteropPahoV5SharedRedelivery(t *testing.T) {
	b := startBroker(t, nil)
	const n = 16 // within MaxInflight: all of A's are in flight
	a, anc := dialPahoV5NoAck(t, b, "sr-a", &paho.Connect{CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(60))}})
	a.subscribeID(t, "$share/g/sr/#", 1, 5)
	bm := dialPahoV5(t, b, "sr-b", nil) // the other loop
	bm.subscribeID(t, "$share/g/sr/#", 1, 9)
	pub := dialPahoV5(t, b, "sr-pub", nil)
	for i := range n {
		pub.publish(t, &paho.Publish{Topic: "sr/x", QoS: 1, Payload: []byte(strconv.Itoa(i))})
	}
	gotA := a.collect(t, n/2, 5*time.Second) // round robin: one each in turn
	gotB := bm.collect(t, n/2, 5*time.Second)
	for _, p := range gotA {
		check(t, p.Properties != nil && p.Properties.SubscriptionIdentifier != nil && *p.Properties.SubscriptionIdentifier == 5,
			"A's identifier on its shared delivery")
	}
	_ = anc.Close() // no PUBACK, no DISCONNECT
	gotB = append(gotB, bm.collect(t, n/2, 5*time.Second)...)
	seen := map[string]int{}
	for _, p := range gotB {
		seen[string(p.Payload)]++
		equal(t, p.QoS, byte(1))
		check(t, p.Properties != nil && p.Properties.SubscriptionIdentifier != nil && *p.Properties.SubscriptionIdentifier == 9,
			"B's own identifier", p.Payload)
	}
	for i := range n {
		equal(t, seen[strconv.Itoa(i)], 1, "message", i, "received once by B")
	}
	for _, p := range gotA {
		equal(t, seen[string(p.Payload)], 1, "A's unacknowledged message handed to B")
	}
	bm.quiet(t, 200*time.Millisecond, "B got more than the published messages:")

	raw := dialRaw(t, b)
	ack := raw.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("sr-a")})
	check(t, ack.SessionPresent, "A's session kept")
	if pkt, err := raw.read(300 * time.Millisecond); err == nil {
		t.Fatalf("A got a handed-over message again: %x", pkt)
	}
}

// TestInteropPahoSharedRedeliveryV311: the same with 3.1.1 clients using
// $share: member A is a raw socket that never sends PUBACK, member B a
// paho.mqtt.golang client; once A's connection drops, B has every message
// exactly once.
func TestInteropPahoSharedRedeliveryV311(t *testing.T) {
	b := startBroker(t, nil)
	const n = 12
	a := dialRaw(t, b)
	a.connect(&codec.Connect{ClientID: []byte("sr3-a"), CleanStart: true})
	a.subscribe(1, "$share/g/sr3/#", 1)
	col := newCollector()
	bm := pahoClient(t, b, "sr3-b", nil)
	subscribe(t, bm, "$share/g/sr3/#", 1, col)
	pub := pahoClient(t, b, "sr3-pub", nil)
	for i := range n {
		publish(t, pub, "sr3/x", 1, false, strconv.Itoa(i))
	}
	gotA := map[string]bool{}
	for range n / 2 {
		p := decodePublish(t, a.mustRead(codec.TypePublish))
		gotA[string(p.Payload)] = true
	}
	col.wait(t, n/2, 5*time.Second)
	_ = a.nc.Close()
	msgs := col.wait(t, n, 5*time.Second)
	seen := map[string]int{}
	for _, m := range msgs {
		seen[string(m.Payload())]++
	}
	for i := range n {
		equal(t, seen[strconv.Itoa(i)], 1, "message", i, "received once by B")
	}
	for p := range gotA {
		equal(t, seen[p], 1, "A's unacknowledged message handed to B")
	}
	time.Sleep(200 * time.Millisecond)
	equal(t, col.count(), n, "no duplicate after the hand-over")
}

// waitOffline waits until the broker has released client id's session.
func waitOffline(t testing.TB, b *Broker, id string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b.sessions.mu.Lock()
		s := b.sessions.get(id)
		off := s == nil || s.owner.Load() == nil
		b.sessions.mu.Unlock()
		if off {
			return
		}
	}
	t.Fatal("client still online:", id)
}

// TestSharedNoLiveMember: with no other live member, a persistent member's
// unacknowledged shared message stays with it and is re-sent with DUP when
// it returns [MQTT-4.4.0-1]; a clean member's is dropped and counted. A
// QoS 2 message already sent stays with its session even while another
// member is live [MQTT-4.8.2-4] [MQTT-4.8.2-5].
func TestSharedNoLiveMember(t *testing.T) {
	b := startBroker(t, nil)
	pub := pahoClient(t, b, "nl-pub", nil)
	other := dialRaw(t, b) // joins the groups once the test needs a live member
	other.connect(&codec.Connect{ClientID: []byte("nl-other"), CleanStart: true})

	a := dialRaw(t, b)
	a.connect(&codec.Connect{ClientID: []byte("nl-a"), CleanStart: false})
	a.subscribe(1, "$share/g/nl1", 1)
	a.subscribe(2, "$share/q/nl2", 2)
	publish(t, pub, "nl1", 1, false, "one")
	p1 := decodePublish(t, a.mustRead(codec.TypePublish))
	_ = a.nc.Close()
	waitOffline(t, b, "nl-a")
	other.subscribe(1, "$share/g/nl1", 1)
	a2 := dialRaw(t, b)
	check(t, a2.connect(&codec.Connect{ClientID: []byte("nl-a"), CleanStart: false}).SessionPresent)
	q1 := decodePublish(t, a2.mustRead(codec.TypePublish))
	check(t, q1.Dup, "re-sent with DUP")
	equal(t, q1.PacketID, p1.PacketID)
	equal(t, string(q1.Payload), "one")
	a2.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: q1.PacketID}))

	// QoS 2: A alone receives it, another member joins, A leaves without
	// PUBREC: the other gets nothing, A's session gets it again.
	publish(t, pub, "nl2", 2, false, "two")
	p2 := decodePublish(t, a2.mustRead(codec.TypePublish))
	equal(t, p2.QoS, byte(2))
	other.subscribe(2, "$share/q/nl2", 2)
	_ = a2.nc.Close()
	waitOffline(t, b, "nl-a")
	if pkt, err := other.read(300 * time.Millisecond); err == nil {
		t.Fatalf("QoS 2 message sent to another member: %x", pkt)
	}
	a3 := dialRaw(t, b)
	a3.connect(&codec.Connect{ClientID: []byte("nl-a"), CleanStart: false})
	q2 := decodePublish(t, a3.mustRead(codec.TypePublish))
	check(t, q2.Dup && q2.PacketID == p2.PacketID && string(q2.Payload) == "two", "QoS 2 re-sent to its own session")

	// A clean member alone: its unacknowledged message is dropped, counted.
	c := dialRaw(t, b)
	c.connect(&codec.Connect{ClientID: []byte("nl-clean"), CleanStart: true})
	c.subscribe(1, "$share/h/nl3", 1)
	publish(t, pub, "nl3", 1, false, "three")
	c.mustRead(codec.TypePublish)
	before := b.Stats().PublishDropped
	_ = c.nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for b.Stats().PublishDropped == before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	check(t, b.Stats().PublishDropped > before, "dropped message counted")
}

// TestInteropPahoV5RetainedSubscriptionID: retained messages sent because
// of a SUBSCRIBE carry that SUBSCRIBE's Subscription Identifier
// [MQTT-3.3.4-3], at QoS 0 and 1; a SUBSCRIBE without one gets none.
func TestInteropPahoV5RetainedSubscriptionID(t *testing.T) {
	b := startBroker(t, nil)
	pub := dialPahoV5(t, b, "rsid-pub", nil)
	for i, qos := range []byte{0, 1} {
		pub.publish(t, &paho.Publish{Topic: fmt.Sprintf("rsid/%d", i), QoS: qos, Retain: true, Payload: []byte("r")})
	}
	for _, sc := range []struct {
		name string
		qos  byte
		id   int
	}{
		{name: "qos0", qos: 0, id: 41},
		{name: "qos1", qos: 1, id: 42},
		{name: "none", qos: 1, id: 0},
	} {
		t.Run(sc.name, func(t *testing.T) {
			s := dialPahoV5(t, b, "rsid-"+sc.name, nil)
			s.subscribeID(t, "rsid/#", sc.qos, sc.id)
			for _, p := range s.collect(t, 2, 5*time.Second) {
				check(t, p.Retain, "retained flag")
				if sc.id == 0 {
					check(t, p.Properties == nil || p.Properties.SubscriptionIdentifier == nil, "no identifier")
					continue
				}
				check(t, p.Properties != nil && p.Properties.SubscriptionIdentifier != nil &&
					*p.Properties.SubscriptionIdentifier == sc.id, "identifier of the SUBSCRIBE", p.Topic)
			}
		})
	}
}

// TestInteropPahoV5SharedSubscriptionIDQoS0: a QoS 0 shared delivery
// carries the chosen member's own Subscription Identifier [MQTT-3.3.4-3].
func TestInteropPahoV5SharedSubscriptionIDQoS0(t *testing.T) {
	b := startBroker(t, nil)
	m1 := dialPahoV5(t, b, "ssid-1", nil)
	m1.subscribeID(t, "$share/g/ssid", 0, 11)
	m2 := dialPahoV5(t, b, "ssid-2", nil)
	m2.subscribeID(t, "$share/g/ssid", 0, 12)
	pub := dialPahoV5(t, b, "ssid-pub", nil)
	for range 4 {
		pub.publish(t, &paho.Publish{Topic: "ssid", Payload: []byte("m")})
	}
	for _, m := range []struct {
		c  *pahoV5
		id int
	}{{c: m1, id: 11}, {c: m2, id: 12}} {
		for _, p := range m.c.collect(t, 2, 5*time.Second) {
			check(t, p.Properties != nil && p.Properties.SubscriptionIdentifier != nil &&
				*p.Properties.SubscriptionIdentifier == m.id, "member's own identifier")
		}
	}
}

// TestInteropPahoV5FeaturesUnavailable: with wildcard, shared and
// Subscription Identifier support switched off, MQTT 5 CONNACK says so
// (MQTT 5 3.2.2.3.11-13), a wildcard filter gets SUBACK 0xA2, a shared one
// 0x9E (3.1.1: 0x80 for both [MQTT-3.8.3-2] [MQTT-3.9.3-2]), a plain one is
// granted, and a SUBSCRIBE with a Subscription Identifier closes the
// connection with DISCONNECT 0xA1.
func TestInteropPahoV5FeaturesUnavailable(t *testing.T) {
	b := startBroker(t, func(c *Config) {
		c.WildcardSubAvailable = false
		c.SubIDAvailable = false
		c.SharedSubAvailable = false
	})
	pc := dialPahoV5(t, b, "fu-v5", nil)
	pr := pc.ack.Properties
	check(t, pr != nil && !pr.WildcardSubAvailable && !pr.SharedSubAvailable && !pr.SubIDAvailable,
		"CONNACK availability flags", pr)
	// paho.golang itself refuses to send what CONNACK ruled out, so the
	// broker's side is checked with a raw v5 client.
	raw := dialRaw(t, b)
	raw.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("fu-raw"), CleanStart: true})
	sub := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("fu/+"), QoS: 1},
		{Filter: []byte("$share/g/fu"), QoS: 1}, {Filter: []byte("fu/#")}, {Filter: []byte("fu/a"), QoS: 1}}}
	raw.write(codec.AppendSubscribe(nil, codec.V5, &sub))
	var sa codec.Suback
	_, err := codec.DecodeSuback(raw.mustRead(codec.TypeSuback), codec.V5, &sa)
	noErr(t, err)
	equal(t, len(sa.ReasonCodes), 4)
	equal(t, sa.ReasonCodes[0], codec.ReasonWildcardSubscriptionsNotSupported)
	equal(t, sa.ReasonCodes[1], codec.ReasonSharedSubscriptionsNotSupported)
	equal(t, sa.ReasonCodes[2], codec.ReasonWildcardSubscriptionsNotSupported)
	equal(t, sa.ReasonCodes[3], codec.ReasonCode(1))

	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("fu-v3"), CleanStart: true})
	for i, f := range []string{"fu/#", "$share/g/fu"} {
		ack := v3.subscribe(uint16(i+1), f, 1)
		equal(t, ack.ReasonCodes[0], codec.ReasonCode(codec.SubackFailureV3), f)
	}
	equal(t, v3.subscribe(3, "fu/a", 1).ReasonCodes[0], codec.ReasonCode(1))

	raw = dialRaw(t, b)
	raw.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("fu-sid"), CleanStart: true})
	s := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("fu/a"), QoS: 1}}}
	s.Props.SubscriptionIDs = []uint32{3}
	raw.write(codec.AppendSubscribe(nil, codec.V5, &s))
	var d codec.Disconnect
	_, err = codec.DecodeDisconnect(raw.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonSubscriptionIDsNotSupported)
	raw.expectClosed(5 * time.Second)

	// The defaults announce all three.
	b2 := startBroker(t, nil)
	pr = dialPahoV5(t, b2, "fu-default", nil).ack.Properties
	check(t, pr.WildcardSubAvailable && pr.SharedSubAvailable && pr.SubIDAvailable, "available by default")
}

// TestSharedOrphansOnSessionEnd: a shared message left with a persistent
// member for lack of a live one goes to a live member when that member's
// session ends, by expiry or by a Clean Start reconnection (4.8.2: "If the
// Client's Session terminates before the Client reconnects, the Server
// SHOULD send the Application Message to another Client").
func TestSharedOrphansOnSessionEnd(t *testing.T) {
	b := startBroker(t, nil)
	pub := pahoClient(t, b, "so-pub", nil)
	member := func(id string, clean bool, expiry uint32) *rawConn {
		r := dialRaw(t, b)
		cp := &codec.Connect{Version: codec.V5, ClientID: []byte(id), CleanStart: clean}
		cp.Props.SessionExpiry = expiry
		cp.Props.Set(codec.PropSessionExpiry)
		r.connect(cp)
		r.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1,
			Filters: []codec.Subscription{{Filter: []byte("$share/g/so"), QoS: 1}}}))
		r.mustRead(codec.TypeSuback)
		return r
	}
	payloadOf := func(pkt []byte) string {
		var p codec.Publish
		_, err := codec.DecodePublish(pkt, codec.V5, &p)
		noErr(t, err)
		return string(p.Payload)
	}

	// Expiry: A holds "one" unacknowledged, alone; B joins; A's session
	// expires after 1 s and B gets "one".
	a := member("so-a", true, 1)
	publish(t, pub, "so", 1, false, "one")
	equal(t, payloadOf(a.mustRead(codec.TypePublish)), "one")
	_ = a.nc.Close()
	waitOffline(t, b, "so-a") // before B joins
	bm := member("so-b", true, 0)
	equal(t, payloadOf(bm.mustRead(codec.TypePublish)), "one", "after A's session expired")
	_ = bm.nc.Close()

	// Clean Start: A2 holds "two", B2 joins, A2 comes back with Clean Start.
	waitOffline(t, b, "so-b") // B gone: A2 will be the only member
	a2 := member("so-a2", true, 60)
	publish(t, pub, "so", 1, false, "two")
	equal(t, payloadOf(a2.mustRead(codec.TypePublish)), "two")
	_ = a2.nc.Close()
	waitOffline(t, b, "so-a2")
	b2 := member("so-b2", true, 0)
	if pkt, err := b2.read(300 * time.Millisecond); err == nil {
		t.Fatalf("B2 got a message while A2's session lives: %x", pkt)
	}
	a3 := dialRaw(t, b)
	check(t, !a3.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("so-a2"), CleanStart: true}).SessionPresent)
	equal(t, payloadOf(b2.mustRead(codec.TypePublish)), "two", "after A2's session was discarded")
}

// TestSharedFailedAckNotRedelivered: a member that answers a shared
// message with a PUBACK reason code of 0x80 or more has it discarded; it
// is not offered to another member, not even when that member leaves
// [MQTT-4.8.2-6].
func TestSharedFailedAckNotRedelivered(t *testing.T) {
	b := startBroker(t, nil)
	member := func(id string) *rawConn {
		r := dialRaw(t, b)
		r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte(id), CleanStart: true})
		r.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1,
			Filters: []codec.Subscription{{Filter: []byte("$share/g/fa"), QoS: 1}}}))
		r.mustRead(codec.TypeSuback)
		return r
	}
	a, bm := member("fa-a"), member("fa-b")
	pub := pahoClient(t, b, "fa-pub", nil)
	publish(t, pub, "fa", 1, false, "one")
	publish(t, pub, "fa", 1, false, "two")
	var pa, pb codec.Publish // round robin: one each
	_, err := codec.DecodePublish(a.mustRead(codec.TypePublish), codec.V5, &pa)
	noErr(t, err)
	_, err = codec.DecodePublish(bm.mustRead(codec.TypePublish), codec.V5, &pb)
	noErr(t, err)
	a.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: pa.PacketID,
		ReasonCode: codec.ReasonUnspecifiedError}))
	bm.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: pb.PacketID}))
	_ = a.nc.Close()
	waitOffline(t, b, "fa-a")
	if pkt, err := bm.read(300 * time.Millisecond); err == nil {
		t.Fatalf("a message refused with PUBACK 0x80 went to another member: %x", pkt)
	}
}
