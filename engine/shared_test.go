package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestSharedRedirectInFlight: QoS 1 shared messages already handed to the
// member's loop in a batch when the member leaves are redirected to the
// other live member when the batch is applied, each exactly once.
func TestSharedRedirectInFlight(t *testing.T) {
	hs := newHarness(t, 2)
	a := hs.conn(0, "a")
	hs.subscribe(a, "$share/g/rd", 1)
	bm := hs.conn(1, "b")
	hs.subscribe(bm, "$share/g/rd", 1)
	pub := hs.conn(1, "pub")
	hs.pump()
	bm.keep, bm.out = true, nil
	const n = 6
	var msgs []byte // one read: A's share goes to loop 0 in one batch
	for i := range n {
		msgs = codec.AppendPublish(msgs, codec.V311, &codec.Publish{Topic: []byte("rd"), QoS: 1,
			PacketID: uint16(i + 1), Payload: []byte(fmt.Sprint(i))})
	}
	hs.send(pub, msgs)
	_ = hs.loops[0].Close(a) // before loop 0 applies the batch
	hs.pump()
	seen := map[string]int{}
	for buf := bm.out; len(buf) > 0; {
		_, _, m, err := codec.PacketLen(buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		var p codec.Publish
		_, err = codec.DecodePublish(buf[:m], codec.V311, &p)
		if err != nil {
			t.Fatal(err)
		}
		seen[string(p.Payload)]++
		buf = buf[m:]
	}
	for i := range n {
		if got := seen[fmt.Sprint(i)]; got != 1 {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("message", i), got, 1)
		}
	}
}

// TestAllocsSharedQoS0PublishPath: a QoS 0 message to a shared group whose
// v5 members (one on the publisher's loop, one on another) carry their own
// Subscription Identifiers [MQTT-3.3.4-3] allocates nothing per message.
func TestAllocsSharedQoS0PublishPath(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	hs := newHarness(t, 2)
	pub := hs.connV5(0, "pub")
	same := hs.connV5(0, "same")
	other := hs.connV5(1, "other")
	for i, f := range []*fakeConn{same, other} {
		s := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("$share/g/a/#")}}}
		s.Props.SubscriptionIDs = []uint32{uint32(i + 1)}
		hs.send(f, codec.AppendSubscribe(nil, codec.V5, &s))
	}
	same.keep, other.keep = true, true
	pkt := codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("a/b"), Payload: make([]byte, 64)})
	run := func() {
		hs.send(pub, pkt)
		hs.pump()
	}
	for range 100 {
		run()
	}
	for i, f := range []*fakeConn{same, other} {
		buf := f.out[len(f.out):] // becomes the last PUBLISH received
		for rest := f.out; len(rest) > 0; {
			_, _, n, err := codec.PacketLen(rest, 0)
			if err != nil {
				t.Fatal(err)
			}
			buf, rest = rest[:n], rest[n:]
		}
		var p codec.Publish
		_, err := codec.DecodePublish(buf, codec.V5, &p)
		if err != nil {
			t.Fatal(err)
		}
		if !(len(p.Props.SubscriptionIDs) == 1 && p.Props.SubscriptionIDs[0] == uint32(i+1)) {
			t.Fatal("member's identifier", i)
		}
		f.keep, f.out = false, nil
	}
	s0, o0 := same.written, other.written
	allocs := testing.AllocsPerRun(1000, run)
	if !(same.written > s0 && other.written > o0) {
		t.Fatal("both members served")
	}
	if allocs != 0.0 {
		t.Fatalf("allocs per shared QoS 0 message: got %v, want %v", allocs, 0.0)
	}
}

// TestSharedPicksUncongestedMember: a shared QoS 1 message goes to a member
// whose session is not congested while one is [MQTT-4.8.2-3] (exactly one
// member each), so one slow member does not throttle the publisher while
// the others have room; with every member congested, messages still go to
// an online member rather than nowhere.
func TestSharedPicksUncongestedMember(t *testing.T) {
	hs := newHarness(t, 2)
	a := hs.conn(0, "a")
	hs.subscribe(a, "$share/g/up", 1)
	bm := hs.conn(1, "b")
	hs.subscribe(bm, "$share/g/up", 1)
	pub := hs.conn(1, "pub")
	hs.pump()
	a.keep, a.out, bm.keep, bm.out = true, nil, true, nil
	sa := a.ctx.(*client).sess
	sb := bm.ctx.(*client).sess
	publish := func(first, n int) {
		var msgs []byte
		for i := first; i < first+n; i++ {
			msgs = codec.AppendPublish(msgs, codec.V311, &codec.Publish{Topic: []byte("up"), QoS: 1,
				PacketID: uint16(i + 1), Payload: []byte(fmt.Sprint(i))})
		}
		hs.send(pub, msgs)
		hs.pump()
	}
	count := func(f *fakeConn) int {
		n := 0
		for buf := f.out; len(buf) > 0; n++ {
			_, _, m, err := codec.PacketLen(buf, 0)
			if err != nil {
				t.Fatal(err)
			}
			buf = buf[m:]
		}
		f.out = nil
		return n
	}
	sa.subscriber().thr.congested.Store(1)
	publish(0, 8)
	if got := count(a); got != 0 {
		t.Fatalf("messages to the congested member: got %v, want %v", got, 0)
	}
	if got := count(bm); got != 8 {
		t.Fatalf("messages to the member with room: got %v, want %v", got, 8)
	}
	sb.subscriber().thr.congested.Store(1)
	publish(8, 8)
	if got := count(a) + count(bm); got != 8 {
		t.Fatalf("messages with every member congested: got %v, want %v", got, 8)
	}
	sa.subscriber().thr.congested.Store(0)
	sb.subscriber().thr.congested.Store(0)
	publish(16, 8)
	na, nb := count(a), count(bm)
	if (na + nb) != 8 {
		t.Fatalf("messages after congestion: got %v, want %v", na+nb, 8)
	}
	if na == 0 || nb == 0 {
		t.Fatalf("round robin after congestion: a got %d, b got %d", na, nb)
	}
}

// TestSharedWillNotLostToDyingMember: a QoS 1 will published into a shared
// group of which its own (closing) client is a member goes to a live member
// [MQTT-3.1.2-8], not into the closing connection where it is lost. The
// picker saw the dying member as online: its session is detached only
// after the will is published.
func TestSharedWillNotLostToDyingMember(t *testing.T) {
	hs := newHarness(t, 1)
	bm := hs.conn(0, "b")
	hs.subscribe(bm, "$share/g/wl/#", 1)
	bm.keep, bm.out = true, nil
	const n = 4
	for i := range n {
		a := &fakeConn{el: hs.loops[0]}
		hs.h.OnOpen(a)
		id := []byte{'a', byte('0' + i)}
		hs.send(a, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
			CleanStart: true, ClientID: id, WillFlag: true, WillQoS: 1,
			WillTopic: append([]byte("wl/"), id...), WillPayload: id}))
		hs.subscribe(a, "$share/g/wl/#", 1)
		_ = hs.loops[0].Close(a) // no DISCONNECT: the will goes out
		hs.pump()
	}
	got := 0
	for buf := bm.out; len(buf) > 0; {
		_, _, m, err := codec.PacketLen(buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		if codec.Type(buf[0]>>4) == codec.TypePublish {
			got++
		}
		buf = buf[m:]
	}
	if got != n {
		t.Fatalf("wills received by the live member: got %v, want %v", got, n)
	}
}

// countPublishes counts the PUBLISH packets in out.
func countPublishes(t *testing.T, out []byte) int {
	t.Helper()
	n := 0
	for buf := out; len(buf) > 0; {
		_, _, m, err := codec.PacketLen(buf, 0)
		if err != nil {
			t.Fatal(err)
		}
		if codec.Type(buf[0]>>4) == codec.TypePublish {
			n++
		}
		buf = buf[m:]
	}
	return n
}

// TestSharedCongestionNotStale: a member marked congested by a burst
// handed to its loop whose messages never reach its window (here they
// expire on the way [MQTT-3.3.2-5]) is not left congested for good: the
// congestion-aware pick would pass it over as long as another member has
// room, so it would get no shared message again. Housekeeping clears it.
func TestSharedCongestionNotStale(t *testing.T) {
	hs := newHarness(t, 2)
	a := hs.connV5(0, "a")
	hs.subscribeV5(a, "$share/g/cs", 1)
	bm := hs.connV5(1, "b")
	hs.subscribeV5(bm, "$share/g/cs", 1)
	pub := hs.connV5(1, "pub")
	hs.pump()
	var msgs []byte
	for i := range 2*hs.b.baseCongestAt() + 4 {
		p := codec.Publish{Topic: []byte("cs"), QoS: 1, PacketID: uint16(i + 1), Payload: []byte("x")}
		p.Props.MessageExpiry = 1
		p.Props.Set(codec.PropMessageExpiry)
		msgs = codec.AppendPublish(msgs, codec.V5, &p)
	}
	hs.send(pub, msgs) // one read: a's share waits in one batch for loop 0
	sa := hs.b.table.get(hs.loop(0).clients[0].sess.subID())
	if !(sa != nil && sa.clientID == "a" && sa.congestedSince() != 0) {
		t.Fatal("a is congested by the hand-over")
	}
	hs.b.clock.Add(3e9) // a's messages expire before loop 0 applies them
	hs.pump()
	for _, el := range hs.loops {
		hs.loop(el.idx).housekeeping()
	}
	hs.pump()
	a.keep, a.out = true, nil
	pub2 := hs.connV5(1, "pub2")
	msgs = msgs[:0]
	for i := range 10 {
		msgs = codec.AppendPublish(msgs, codec.V5, &codec.Publish{Topic: []byte("cs"), QoS: 1,
			PacketID: uint16(i + 1), Payload: []byte("y")})
	}
	hs.send(pub2, msgs)
	hs.pump()
	if countPublishes(t, a.out) <= 0 {
		t.Fatal("a gets shared messages again")
	}
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
	if !a2.connect(&codec.Connect{ClientID: []byte("nl-a"), CleanStart: false}).SessionPresent {
		t.Fatal("a2.connect(&codec.Connect{ClientID: []byte(\"nl-a\"), CleanStart: false}).SessionPresent is false")
	}
	q1 := decodePublish(t, a2.mustRead(codec.TypePublish))
	if !q1.Dup {
		t.Fatal("re-sent with DUP")
	}
	if q1.PacketID != p1.PacketID {
		t.Fatalf("got %v, want %v", q1.PacketID, p1.PacketID)
	}
	if string(q1.Payload) != "one" {
		t.Fatalf("got %v, want %v", string(q1.Payload), "one")
	}
	a2.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: q1.PacketID}))

	// QoS 2: A alone receives it, another member joins, A leaves without
	// PUBREC: the other gets nothing, A's session gets it again.
	publish(t, pub, "nl2", 2, false, "two")
	p2 := decodePublish(t, a2.mustRead(codec.TypePublish))
	if p2.QoS != byte(2) {
		t.Fatalf("got %v, want %v", p2.QoS, byte(2))
	}
	other.subscribe(2, "$share/q/nl2", 2)
	_ = a2.nc.Close()
	waitOffline(t, b, "nl-a")
	if pkt, err := other.read(300 * time.Millisecond); err == nil {
		t.Fatalf("QoS 2 message sent to another member: %x", pkt)
	}
	a3 := dialRaw(t, b)
	a3.connect(&codec.Connect{ClientID: []byte("nl-a"), CleanStart: false})
	q2 := decodePublish(t, a3.mustRead(codec.TypePublish))
	if !(q2.Dup && q2.PacketID == p2.PacketID && string(q2.Payload) == "two") {
		t.Fatal("QoS 2 re-sent to its own session")
	}

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
	if b.Stats().PublishDropped <= before {
		t.Fatal("dropped message counted")
	}
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
		if err != nil {
			t.Fatal(err)
		}
		return string(p.Payload)
	}

	// Expiry: A holds "one" unacknowledged, alone; B joins; A's session
	// expires after 1 s and B gets "one".
	a := member("so-a", true, 1)
	publish(t, pub, "so", 1, false, "one")
	if got := payloadOf(a.mustRead(codec.TypePublish)); got != "one" {
		t.Fatalf("got %v, want %v", got, "one")
	}
	_ = a.nc.Close()
	waitOffline(t, b, "so-a") // before B joins
	bm := member("so-b", true, 0)
	if got := payloadOf(bm.mustRead(codec.TypePublish)); got != "one" {
		t.Fatalf("after A's session expired: got %v, want %v", got, "one")
	}
	_ = bm.nc.Close()

	// Clean Start: A2 holds "two", B2 joins, A2 comes back with Clean Start.
	waitOffline(t, b, "so-b") // B gone: A2 will be the only member
	a2 := member("so-a2", true, 60)
	publish(t, pub, "so", 1, false, "two")
	if got := payloadOf(a2.mustRead(codec.TypePublish)); got != "two" {
		t.Fatalf("got %v, want %v", got, "two")
	}
	_ = a2.nc.Close()
	waitOffline(t, b, "so-a2")
	b2 := member("so-b2", true, 0)
	if pkt, err := b2.read(300 * time.Millisecond); err == nil {
		t.Fatalf("B2 got a message while A2's session lives: %x", pkt)
	}
	a3 := dialRaw(t, b)
	if a3.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("so-a2"), CleanStart: true}).SessionPresent {
		t.Fatal("!a3.connect(&codec.Connect{Version: codec.V5, ClientID: []byte(\"so-a2\"), CleanStart: true}).SessionPresent is false")
	}
	if got := payloadOf(b2.mustRead(codec.TypePublish)); got != "two" {
		t.Fatalf("after A2's session was discarded: got %v, want %v", got, "two")
	}
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
	if err != nil {
		t.Fatal(err)
	}
	_, err = codec.DecodePublish(bm.mustRead(codec.TypePublish), codec.V5, &pb)
	if err != nil {
		t.Fatal(err)
	}
	a.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: pa.PacketID,
		ReasonCode: codec.ReasonUnspecifiedError}))
	bm.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: pb.PacketID}))
	_ = a.nc.Close()
	waitOffline(t, b, "fa-a")
	if pkt, err := bm.read(300 * time.Millisecond); err == nil {
		t.Fatalf("a message refused with PUBACK 0x80 went to another member: %x", pkt)
	}
}

// TestSharedSubscription delivers each message to exactly one member of a
// $share group [MQTT-4.8.2-3] while plain subscribers get all of them.
func TestSharedSubscription(t *testing.T) {
	b := startBroker(t, nil)
	members := make([]*rawConn, 3)
	for i := range members {
		members[i] = dialRaw(t, b)
		members[i].connect(&codec.Connect{ClientID: []byte(fmt.Sprint("m", i)), CleanStart: true})
		members[i].subscribe(1, "$share/g/s/+", 0)
	}
	plain := dialRaw(t, b)
	plain.connect(&codec.Connect{ClientID: []byte("plain"), CleanStart: true})
	plain.subscribe(1, "s/+", 0)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("spub"), CleanStart: true})
	const n = 30
	for i := 0; i < n; i++ {
		pub.publish(&codec.Publish{Topic: []byte("s/x"), Payload: []byte(fmt.Sprint(i))})
	}
	for i := 0; i < n; i++ {
		plain.mustRead(codec.TypePublish)
	}
	total := 0
	for _, m := range members {
		for {
			if _, err := m.read(300 * time.Millisecond); err != nil {
				break
			}
			total++
		}
	}
	if total != n {
		t.Fatalf("each message to one member: got %v, want %v", total, n)
	}
}

// TestSharedAllOfflineQueued: with every member of a shared subscription
// offline, a QoS 1 message is queued for one persistent member and
// delivered when it returns, not acknowledged and dropped.
func TestSharedAllOfflineQueued(t *testing.T) {
	b := startBroker(t, nil)
	m := dialRaw(t, b)
	m.connect(&codec.Connect{ClientID: []byte("member"), KeepAlive: 60})
	m.subscribe(1, "$share/g/all/off", 1)
	m.write([]byte{0xE0, 0})
	waitOffline(t, b, "member")
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("p"), CleanStart: true})
	p.publish(&codec.Publish{Topic: []byte("all/off"), Payload: []byte("kept"), QoS: 1, PacketID: 1})
	p.mustRead(codec.TypePuback)
	m = dialRaw(t, b)
	m.connect(&codec.Connect{ClientID: []byte("member"), KeepAlive: 60})
	if got := decodePublish(t, m.mustRead(codec.TypePublish)); string(got.Payload) != "kept" {
		t.Fatalf("got %q", got.Payload)
	}
}
