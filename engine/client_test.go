package engine

import (
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestV5RawDisconnectSessionExpiryAfterZero: a DISCONNECT with a non-zero
// Session Expiry Interval after a CONNECT with 0 is not a valid DISCONNECT
// (MQTT 5 section 3.14.2.2.2): the broker answers DISCONNECT 0x82 and the
// will is published, as for any close without a valid DISCONNECT
// [MQTT-3.1.2-8].
func TestV5RawDisconnectSessionExpiryAfterZero(t *testing.T) {
	b := startBroker(t, nil)
	watch := dialV5(t, b, "v5-dse-watch", nil)
	watch.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("dse/#"), QoS: 0}}}))
	watch.mustRead(codec.TypeSuback)
	r := dialV5(t, b, "v5-dse", func(cp *codec.Connect) {
		cp.WillFlag, cp.WillTopic, cp.WillPayload = true, []byte("dse/will"), []byte("w")
	})
	d := codec.Disconnect{}
	d.Props.SessionExpiry = 60
	d.Props.Set(codec.PropSessionExpiry)
	r.write(codec.AppendDisconnect(nil, codec.V5, &d))
	if got := r.disconnect().ReasonCode; got != codec.ReasonProtocolError {
		t.Fatalf("got %v, want %v", got, codec.ReasonProtocolError)
	}
	r.expectClosed(3 * time.Second)
	var p codec.Publish
	_, err := codec.DecodePublish(watch.mustRead(codec.TypePublish), codec.V5, &p)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Topic) != "dse/will" {
		t.Fatalf("will after an invalid DISCONNECT: got %v, want %v", string(p.Topic), "dse/will")
	}
}

// TestV5SlowConsumerDisconnect0x97: a v5 subscriber whose outbound stays
// stuck over the budget past SlowConsumerTimeout is told DISCONNECT 0x97
// Quota exceeded before the broker closes it [MQTT-4.13.1-1]
// [MQTT-3.14.2-1]; while it still drains (under a quarter of the budget) it
// is left alone. A real client never sees this DISCONNECT (it sits behind
// the bytes the client did not read, and the close resets), so the fake
// connection reports the stuck outbound here.
func TestV5SlowConsumerDisconnect0x97(t *testing.T) {
	hs := newHarness(t, 1)
	f := hs.connV5(0, "stuck")
	f.keep, f.out = true, nil
	c := f.ctx.(*client)
	budget := hs.b.cfg.MaxOutboundBytes
	timeout := int64(hs.b.cfg.SlowConsumerTimeout)

	f.outBuffered = budget / 8 // draining: no clock
	c.checkSlow()
	hs.b.clock.Add(2 * timeout)
	c.checkSlow()
	if f.closed {
		t.Fatal("closed a subscriber whose outbound is under a quarter of the budget")
	}

	f.outBuffered = budget // stuck: the clock starts
	c.checkSlow()
	hs.b.clock.Add(timeout / 2)
	c.checkSlow()
	if f.closed {
		t.Fatal("closed before SlowConsumerTimeout")
	}
	hs.b.clock.Add(timeout)
	c.checkSlow()
	if !f.closed {
		t.Fatal("stuck subscriber not closed after SlowConsumerTimeout")
	}
	if f.linger == nil || *f.linger != 0 {
		t.Fatal("a slow consumer's unread bytes are not discarded with linger 0")
	}
	if got := hs.b.slowClosed.Load(); got != uint64(1) {
		t.Fatalf("slow consumers closed: got %v, want %v", got, uint64(1))
	}
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(f.out, codec.V5, &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonQuotaExceeded {
		t.Fatalf("DISCONNECT reason: got %v, want %v", d.ReasonCode, codec.ReasonQuotaExceeded)
	}
}
