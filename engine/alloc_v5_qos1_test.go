package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// v5QoS1Allocs measures the allocations per message of a v5 QoS 1 PUBLISH
// to a v5 subscriber on the publisher's loop and one on another loop, both
// acknowledging (the loop of BenchmarkPublishV5).
func v5QoS1Allocs(t *testing.T, user []codec.UserProperty) float64 {
	t.Helper()
	hs := newHarness(t, 2)
	pub := hs.connV5(0, "pub")
	subs := []*fakeConn{hs.connV5(0, "s0"), hs.connV5(1, "s1")}
	for _, s := range subs {
		s.keep = true
		hs.subscribeV5(s, "v5/+", 1)
	}
	p := codec.Publish{Topic: []byte("v5/t"), QoS: 1, PacketID: 1, Payload: make([]byte, 64)}
	p.Props.User = user
	pkt := codec.AppendPublish(nil, codec.V5, &p)
	var scratch []byte
	var dec codec.Publish
	acked := 0
	step := func() {
		hs.send(pub, pkt)
		hs.pump()
		for _, s := range subs {
			scratch = hs.ackAllV5(s, scratch, &dec)
			acked += len(scratch)
		}
		hs.pump()
	}
	for range 100 {
		step()
	}
	acked = 0
	a := testing.AllocsPerRun(1000, step)
	if acked == 0 {
		t.Fatal("no QoS 1 delivery was acknowledged")
	}
	return a
}

// TestAllocsV5QoS1UserProperties guards issue 5's budget on the QoS 1
// path: User Properties cost at most one allocation per message on top of
// the message record (BenchmarkPublishV5/qos=1).
func TestAllocsV5QoS1UserProperties(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	plain := v5QoS1Allocs(t, nil)
	user := v5QoS1Allocs(t, []codec.UserProperty{{Key: []byte("k1"), Value: []byte("v1")},
		{Key: []byte("k2"), Value: []byte("v2")}, {Key: []byte("k1"), Value: []byte("v3")}})
	t.Logf("v5 QoS 1: %v allocs per message without properties, %v with 3 user properties", plain, user)
	if user > plain+1 {
		t.Fatalf("v5 QoS 1 user properties cost %v allocs per message, want <= 1", user-plain)
	}
}
