package engine

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// TestHandOverMixedVersions routes QoS 0 messages to v3.1.1 and v5
// subscribers that alternate on another loop, so one hand-over batch holds
// both wire forms of each message: every subscriber must get exactly the
// PUBLISH of its own version [MQTT-3.3.1-9] [MQTT-4.6.0-6].
func TestHandOverMixedVersions(t *testing.T) {
	hs := newHarness(t, 2)
	pub := hs.conn(0, "pub")
	var subs []*fakeConn
	var vers []codec.Version
	for i := range 6 {
		id := fmt.Sprintf("sub%d", i)
		if i%2 == 0 {
			f := hs.conn(1, id)
			hs.subscribe(f, "mix/#", 0)
			subs, vers = append(subs, f), append(vers, codec.V311)
		} else {
			f := hs.connV5(1, id)
			hs.subscribeV5(f, "mix/#", 0)
			subs, vers = append(subs, f), append(vers, codec.V5)
		}
	}
	hs.pump()
	for _, f := range subs {
		f.keep, f.out = true, nil
	}
	var msgs []byte // several messages in one read: one batch per round
	for i := range 3 {
		msgs = codec.AppendPublish(msgs, codec.V311, &codec.Publish{Topic: []byte("mix/t"), Payload: []byte(fmt.Sprint("m", i))})
	}
	hs.send(pub, msgs)
	hs.pump()
	for i, f := range subs {
		var want []byte
		for j := range 3 {
			want = codec.AppendPublish(want, vers[i], &codec.Publish{Topic: []byte("mix/t"), Payload: []byte(fmt.Sprint("m", j))})
		}
		if !bytes.Equal(f.out, want) {
			t.Errorf("subscriber %d (version %d) got %x, want %x", i, vers[i], f.out, want)
		}
	}
}

// TestHandOverOrderAcrossMove publishes a QoS 1 message to a persistent
// subscriber on another loop and, while that hand-over is still on its way,
// the subscriber goes offline (or comes back on the publisher's loop) and a
// second message follows: the second must not overtake the first
// [MQTT-4.6.0-6].
func TestHandOverOrderAcrossMove(t *testing.T) {
	for _, moved := range []bool{false, true} {
		t.Run(map[bool]string{false: "offline", true: "moved"}[moved], func(t *testing.T) {
			hs := newHarness(t, 2)
			persistent := func(i int) *fakeConn {
				f := &fakeConn{el: hs.loops[i], keep: true}
				hs.h.OnOpen(f)
				hs.send(f, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
					ClientID: []byte("psub"), KeepAlive: 30}))
				return f
			}
			sub := persistent(1)
			hs.subscribe(sub, "o/#", 1)
			pub := hs.conn(0, "pub")
			hs.pump()
			pubAt := func(pid uint16, payload string) {
				hs.send(pub, codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("o/t"), QoS: 1, PacketID: pid, Payload: []byte(payload)}))
			}
			pubAt(1, "0") // handed over to loop 1, not yet applied
			hs.send(sub, codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
			var back *fakeConn
			if moved {
				back = persistent(0)
			}
			pubAt(2, "1")
			hs.pump()
			if !moved {
				back = persistent(0)
			}
			for range 3 { // hand-overs that pass another on
				hs.pump()
			}
			var got []string
			for off := 0; off < len(back.out); {
				typ, _, n, err := codec.PacketLen(back.out[off:], 0)
				if err != nil {
					t.Fatal(err)
				}
				if typ == codec.TypePublish {
					var p codec.Publish
					if _, err := codec.DecodePublish(back.out[off:off+n], codec.V311, &p); err != nil {
						t.Fatal(err)
					}
					got = append(got, string(p.Payload))
				}
				off += n
			}
			if fmt.Sprint(got) != "[0 1]" {
				t.Fatalf("the returning subscriber got %v, want [0 1]", got)
			}
		})
	}
}
