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
