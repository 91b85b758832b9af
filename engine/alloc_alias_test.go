package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// aliasAllocs measures the allocations per QoS 0 message from a v5
// publisher on loop 0 to one v5 subscriber on loop subLoop whose CONNECT
// allows Topic Aliases, and checks the later copies go by alias alone.
func aliasAllocs(t *testing.T, subLoop int) float64 {
	t.Helper()
	hs := newHarness(t, 2)
	pub := hs.connV5(0, "pub")
	sub := &fakeConn{el: hs.loops[subLoop]}
	hs.h.OnOpen(sub)
	cp := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, CleanStart: true, ClientID: []byte("sub")}
	cp.Props.TopicAliasMaximum = 4
	cp.Props.Set(codec.PropTopicAliasMaximum)
	hs.send(sub, codec.AppendConnect(nil, &cp))
	hs.subscribeV5(sub, "a/#", 0)
	pkt := codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("a/b/c"), Payload: make([]byte, 64)})
	run := func() {
		hs.send(pub, pkt)
		hs.pump()
	}
	for i := 0; i < 100; i++ {
		run()
	}
	w0 := sub.written
	allocs := testing.AllocsPerRun(1000, run)
	if sub.written == w0 {
		t.Fatal("no delivery")
	}
	return allocs
}

// TestAllocsV5AliasQoS0PublishPath: a subscriber that takes broker-assigned
// Topic Aliases [MQTT-3.3.2-11] gets its own encoding without allocating
// when it is on the publisher's loop; from another loop the message goes
// as a shared record (its subscriber's loop owns the alias mapping), which
// costs the record's allocations once per message, not per subscriber.
func TestAllocsV5AliasQoS0PublishPath(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	if a := aliasAllocs(t, 0); a != 0 {
		t.Fatalf("aliasing subscriber on the same loop: %v allocs per message, want 0", a)
	}
	a := aliasAllocs(t, 1)
	t.Logf("aliasing subscriber on another loop: %v allocs per message", a)
	if a > 2 {
		t.Fatalf("aliasing subscriber on another loop: %v allocs per message, want at most 2", a)
	}
}
