package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// TestAllocsQoS0PublishPath checks that the steady-state QoS 0 publish path
// (decode, cached match, fan-out to a subscriber on the publisher's loop and
// one on another loop through the hand-over batch and doorbell, encode,
// flush) allocates nothing per message (STYLE.md §5).
func TestAllocsQoS0PublishPath(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	hs := newHarness(t, 2)
	pub := hs.conn(0, "pub")
	same := hs.conn(0, "same")
	other := hs.conn(1, "other")
	hs.subscribe(same, "a/+/c", 0)
	hs.subscribe(other, "a/#", 0)
	pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/b/c"), Payload: make([]byte, 64)})
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
	if allocs != 0 {
		t.Fatalf("QoS 0 publish path: %v allocs per message, want 0", allocs)
	}
}
