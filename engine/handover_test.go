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
