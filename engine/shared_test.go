package engine

import (
	"fmt"
	"testing"

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
		noErr(t, err)
		var p codec.Publish
		_, err = codec.DecodePublish(buf[:m], codec.V311, &p)
		noErr(t, err)
		seen[string(p.Payload)]++
		buf = buf[m:]
	}
	for i := range n {
		equal(t, seen[fmt.Sprint(i)], 1, "message", i)
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
			noErr(t, err)
			buf, rest = rest[:n], rest[n:]
		}
		var p codec.Publish
		_, err := codec.DecodePublish(buf, codec.V5, &p)
		noErr(t, err)
		check(t, len(p.Props.SubscriptionIDs) == 1 && p.Props.SubscriptionIDs[0] == uint32(i+1), "member's identifier", i)
		f.keep, f.out = false, nil
	}
	s0, o0 := same.written, other.written
	allocs := testing.AllocsPerRun(1000, run)
	check(t, same.written > s0 && other.written > o0, "both members served")
	equal(t, allocs, 0.0, "allocs per shared QoS 0 message")
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
			noErr(t, err)
			buf = buf[m:]
		}
		f.out = nil
		return n
	}
	sa.subscriber().congested.Store(1)
	publish(0, 8)
	equal(t, count(a), 0, "messages to the congested member")
	equal(t, count(bm), 8, "messages to the member with room")
	sb.subscriber().congested.Store(1)
	publish(8, 8)
	equal(t, count(a)+count(bm), 8, "messages with every member congested")
	sa.subscriber().congested.Store(0)
	sb.subscriber().congested.Store(0)
	publish(16, 8)
	na, nb := count(a), count(bm)
	equal(t, na+nb, 8, "messages after congestion")
	if na == 0 || nb == 0 {
		t.Fatalf("round robin after congestion: a got %d, b got %d", na, nb)
	}
}
