package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// connV5 opens an MQTT 5 client on loop i of the harness.
func (hs *harness) connV5(i int, id string) *fakeConn {
	f := &fakeConn{el: hs.loops[i]}
	hs.h.OnOpen(f)
	hs.send(f, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5,
		CleanStart: true, ClientID: []byte(id)}))
	return f
}

// subscribeV5 subscribes an MQTT 5 client of the harness.
func (hs *harness) subscribeV5(f *fakeConn, filter string, qos byte) {
	hs.send(f, codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}))
}

// v5Allocs measures the allocations per message of a v5 QoS 0 PUBLISH
// fanned out to v5 subscribers on the publisher's loop and another loop.
func v5Allocs(t *testing.T, p *codec.Publish) float64 {
	t.Helper()
	hs := newHarness(t, 2)
	pub := hs.connV5(0, "pub")
	same := hs.connV5(0, "same")
	other := hs.connV5(1, "other")
	hs.subscribeV5(same, "a/+/c", 0)
	hs.subscribeV5(other, "a/#", 0)
	pkt := codec.AppendPublish(nil, codec.V5, p)
	run := func() {
		hs.send(pub, pkt)
		hs.pump()
	}
	for i := 0; i < 100; i++ { // warm up caches, buffers and batch pools
		run()
	}
	s0, o0 := same.written, other.written
	allocs := testing.AllocsPerRun(1000, run)
	if same.written == s0 || other.written == o0 {
		t.Fatalf("no delivery: same %d->%d, other %d->%d", s0, same.written, o0, other.written)
	}
	return allocs
}

// TestAllocsV5QoS0PublishPath checks the MQTT 5 QoS 0 path: without
// properties it allocates nothing per message; with User Properties (and
// other forwarded properties) at most once, as issue 5 allows.
func TestAllocsV5QoS0PublishPath(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	plain := &codec.Publish{Topic: []byte("a/b/c"), Payload: make([]byte, 64)}
	if a := v5Allocs(t, plain); a != 0 {
		t.Fatalf("v5 QoS 0 without properties: %v allocs per message, want 0", a)
	}
	withProps := &codec.Publish{Topic: []byte("a/b/c"), Payload: make([]byte, 64)}
	withProps.Props.User = []codec.UserProperty{{Key: []byte("k1"), Value: []byte("v1")},
		{Key: []byte("k2"), Value: []byte("v2")}, {Key: []byte("k1"), Value: []byte("v3")}}
	withProps.Props.ContentType = []byte("application/json")
	withProps.Props.Set(codec.PropContentType)
	a := v5Allocs(t, withProps)
	t.Logf("v5 QoS 0 with 3 user properties and a content type: %v allocs per message", a)
	if a > 1 {
		t.Fatalf("v5 QoS 0 with user properties: %v allocs per message, want <= 1", a)
	}
}
