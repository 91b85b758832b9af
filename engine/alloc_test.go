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

// TestAllocsQoS0ReadChecked: deliveries through subscriptions the ACL
// granted with a read check (a/# and a/+/c beside a deny of a/secret)
// allocate nothing once the loop's cache holds the decision, and the
// denied topic is withheld.
func TestAllocsQoS0ReadChecked(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	file := writeACLFile(t, "topic readwrite a/#\ntopic deny a/secret\n")
	hs := newHarness(t, 2, func(c *Config) { c.ACLFile = file })
	pub := hs.conn(0, "pub")
	same := hs.conn(0, "same")
	other := hs.conn(1, "other")
	hs.subscribe(same, "a/+/c", 0)
	hs.subscribe(other, "a/#", 0)
	secret := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/secret"), Payload: make([]byte, 64)})
	o0 := other.written
	hs.send(pub, secret)
	hs.pump()
	if other.written != o0 {
		t.Fatal("a/secret delivered through a/#")
	}
	pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/b/c"), Payload: make([]byte, 64)})
	run := func() {
		hs.send(pub, pkt)
		hs.pump()
	}
	for i := 0; i < 100; i++ {
		run()
	}
	s0, o0 := same.written, other.written
	allocs := testing.AllocsPerRun(1000, run)
	if same.written == s0 || other.written == o0 {
		t.Fatalf("no delivery: same %d->%d, other %d->%d", s0, same.written, o0, other.written)
	}
	if allocs != 0 {
		t.Fatalf("read-checked QoS 0 publish path: %v allocs per message, want 0", allocs)
	}
}

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
// other forwarded properties) at most once per message.
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

// TestAllocsV5QoS1UserProperties guards the allocation budget of the QoS 1
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
