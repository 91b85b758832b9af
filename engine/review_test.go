package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

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
		noErr(t, err)
		if codec.Type(buf[0]>>4) == codec.TypePublish {
			got++
		}
		buf = buf[m:]
	}
	equal(t, got, n, "wills received by the live member")
}

// countPublishes counts the PUBLISH packets in out.
func countPublishes(t *testing.T, out []byte) int {
	t.Helper()
	n := 0
	for buf := out; len(buf) > 0; {
		_, _, m, err := codec.PacketLen(buf, 0)
		noErr(t, err)
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
	check(t, sa != nil && sa.clientID == "a" && sa.congestedSince() != 0, "a is congested by the hand-over")
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
	check(t, countPublishes(t, a.out) > 0, "a gets shared messages again")
}
