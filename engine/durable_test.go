package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
)

// TestRetainedAckWaitsForCommit holds the store's commits: the PUBACK of
// a retained QoS 1 PUBLISH, and what is sent to that client after it,
// arrive only once the commit completes; a PUBACK for a message that is
// not retained does not wait.
func TestRetainedAckWaitsForCommit(t *testing.T) {
	mem := persist.NewMem()
	t.Cleanup(func() { _ = mem.Close() })
	b := startBroker(t, func(c *Config) { c.Persist = mem })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("held"), CleanStart: true})

	r.publish(&codec.Publish{Topic: []byte("plain"), Payload: []byte("x"), QoS: 1, PacketID: 1})
	if a := r.readAck(codec.TypePuback); a.PacketID != 1 {
		t.Fatalf("PUBACK for %d", a.PacketID)
	}

	mem.Hold()
	r.publish(&codec.Publish{Topic: []byte("kept"), Payload: []byte("v1"), QoS: 1, PacketID: 2, Retain: true})
	r.write([]byte{0xC0, 0}) // PINGREQ: its PINGRESP goes after the PUBACK
	if pkt, err := r.read(300 * time.Millisecond); err == nil {
		t.Fatalf("%x before the commit completed", pkt)
	}
	mem.Release()
	if a := r.readAck(codec.TypePuback); a.PacketID != 2 {
		t.Fatalf("PUBACK for %d", a.PacketID)
	}
	r.mustRead(codec.TypePingresp)
	if mem.Len() != 1 {
		t.Fatalf("%d records stored, want 1", mem.Len())
	}
}

// TestRetainedSurvivesRestart stores retained messages (with MQTT 5
// properties and an expiry), replaces and clears some, stops the broker
// and starts another on the same data directory: it has exactly the last
// ones.
func TestRetainedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	disk := func(c *Config) { c.Store = StoreDisk; c.DataDir = dir }
	b := startBrokerNoCleanup(t, disk)
	p := dialV5(t, b, "pub", nil)
	var props codec.Properties
	props.ContentType = []byte("text/plain")
	props.Set(codec.PropContentType)
	props.MessageExpiry = 3600
	props.Set(codec.PropMessageExpiry)
	props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}
	pubs := []codec.Publish{
		{Topic: []byte("r/a"), Payload: []byte("first"), QoS: 1, PacketID: 1, Retain: true},
		{Topic: []byte("r/a"), Payload: []byte("second"), QoS: 1, PacketID: 2, Retain: true, Props: props},
		{Topic: []byte("r/b"), Payload: []byte("zero"), QoS: 0, Retain: true},
		{Topic: []byte("r/c"), Payload: []byte("gone"), QoS: 1, PacketID: 3, Retain: true},
		{Topic: []byte("r/c"), QoS: 1, PacketID: 4, Retain: true}, // clears r/c
	}
	for i := range pubs {
		p.write(codec.AppendPublish(nil, codec.V5, &pubs[i]))
		if pubs[i].QoS == 1 {
			p.readAck(codec.TypePuback)
		}
	}
	// The QoS 0 one has no acknowledgement: wait until it is retained.
	waitFor(t, "r/b retained", func() bool { _, ok := b.retained.Get("r/b"); return ok })
	shutdown(t, b)

	b = startBroker(t, disk)
	s := dialV5(t, b, "sub", nil)
	s.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 9,
		Filters: []codec.Subscription{{Filter: []byte("r/#"), QoS: 1}}}))
	s.mustRead(codec.TypeSuback)
	got := map[string]*codec.Publish{}
	for range 2 {
		var m codec.Publish
		if _, err := codec.DecodePublish(s.mustRead(codec.TypePublish), codec.V5, &m); err != nil {
			t.Fatal(err)
		}
		got[string(m.Topic)] = &m
	}
	if pkt, err := s.read(300 * time.Millisecond); err == nil {
		t.Fatalf("a third retained message: %x", pkt)
	}
	a, bb := got["r/a"], got["r/b"]
	if a == nil || string(a.Payload) != "second" || string(a.Props.ContentType) != "text/plain" ||
		len(a.Props.User) != 1 || a.Props.MessageExpiry == 0 || a.Props.MessageExpiry > 3600 {
		t.Fatalf("r/a after restart: %+v", a)
	}
	if bb == nil || string(bb.Payload) != "zero" {
		t.Fatalf("r/b after restart: %+v", bb)
	}
}

// TestStoreLockedRefusesStart: a second broker on a data directory in
// use does not start, and says which directory.
func TestStoreLockedRefusesStart(t *testing.T) {
	dir := t.TempDir()
	startBroker(t, func(c *Config) { c.Store = StoreDisk; c.DataDir = dir })
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store, cfg.DataDir = StoreDisk, dir
	cfg.Logger = slog.New(slog.DiscardHandler)
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Start()
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second broker on %s: %v", dir, err)
	}
}

// failingStore fails every commit, as a store whose writes fail does.
type failingStore struct{ *persist.Mem }

func (failingStore) Commit(_ *persist.Batch, done func(error)) {
	go done(errors.New("injected write error"))
}

// TestRetainedCommitFailureClosesPublisher: when the commit a PUBACK
// waits for fails, the PUBACK is never sent and the publisher is closed
// (MQTT 5: DISCONNECT 0x80); other clients are untouched.
func TestRetainedCommitFailureClosesPublisher(t *testing.T) {
	st := failingStore{persist.NewMem()}
	t.Cleanup(func() { _ = st.Close() })
	b := startBroker(t, func(c *Config) { c.Persist = st })
	other := dialRaw(t, b)
	other.connect(&codec.Connect{ClientID: []byte("other"), CleanStart: true})
	p := dialV5(t, b, "pub", nil)
	p.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("t"), Payload: []byte("x"), QoS: 1, PacketID: 1, Retain: true}))
	if d := p.disconnect(); d.ReasonCode != codec.ReasonUnspecifiedError {
		t.Fatalf("DISCONNECT %v, want 0x80", d.ReasonCode)
	}
	p.expectEOF(5 * time.Second)
	other.write([]byte{0xC0, 0})
	other.mustRead(codec.TypePingresp)
}

// fullStore is a store out of disk space.
type fullStore struct{ *persist.Mem }

func (fullStore) Full() bool { return true }

// TestStoreFullRefusesRetained: while the store is full a retained QoS 1
// PUBLISH is refused (MQTT 5: PUBACK 0x97; 3.1.1: closed), and a message
// that is not retained goes through.
func TestStoreFullRefusesRetained(t *testing.T) {
	st := fullStore{persist.NewMem()}
	t.Cleanup(func() { _ = st.Close() })
	b := startBroker(t, func(c *Config) { c.Persist = st })
	p := dialV5(t, b, "pub5", nil)
	p.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("t"), Payload: []byte("x"), QoS: 1, PacketID: 1, Retain: true}))
	if a := p.readAck(codec.TypePuback); a.ReasonCode != codec.ReasonQuotaExceeded {
		t.Fatalf("PUBACK %v, want 0x97", a.ReasonCode)
	}
	p.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("t"), Payload: []byte("x"), QoS: 1, PacketID: 2}))
	if a := p.readAck(codec.TypePuback); a.ReasonCode != codec.ReasonSuccess {
		t.Fatalf("PUBACK %v for a message not retained", a.ReasonCode)
	}
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("pub3"), CleanStart: true})
	r.publish(&codec.Publish{Topic: []byte("t"), Payload: []byte("x"), QoS: 1, PacketID: 1, Retain: true})
	r.expectEOF(5 * time.Second)
}

func shutdown(t *testing.T, b *Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSessionSurvivesRestart: persistent sessions (3.1.1 and MQTT 5) and
// their subscriptions, options included, are there after a restart on the
// same data directory; a clean session and an unsubscribed filter are not.
func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	disk := func(c *Config) { c.Store = StoreDisk; c.DataDir = dir }
	b := startBrokerNoCleanup(t, disk)
	p1 := dialRaw(t, b)
	p1.connect(&codec.Connect{ClientID: []byte("p1"), KeepAlive: 60})
	p1.subscribe(1, "a/+", 1)
	p1.subscribe(2, "gone/#", 1)
	p1.write(codec.AppendUnsubscribe(nil, codec.V311, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{[]byte("gone/#")}}))
	p1.mustRead(codec.TypeUnsuback)
	p5 := dialV5(t, b, "p5", func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 3600
		cp.Props.Set(codec.PropSessionExpiry)
	})
	sub := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("v5/t"), QoS: 1, NoLocal: true}}}
	sub.Props.SubscriptionIDs = []uint32{7}
	p5.write(codec.AppendSubscribe(nil, codec.V5, &sub))
	p5.mustRead(codec.TypeSuback)
	cl := dialRaw(t, b)
	cl.connect(&codec.Connect{ClientID: []byte("clean"), CleanStart: true})
	cl.subscribe(1, "a/+", 0)
	shutdown(t, b)

	b = startBroker(t, disk)
	r1 := dialRaw(t, b)
	if !r1.connect(&codec.Connect{ClientID: []byte("p1"), KeepAlive: 60}).SessionPresent {
		t.Fatal("3.1.1 session not present after restart")
	}
	r5 := dialRaw(t, b)
	ack := r5.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("p5")})
	if !ack.SessionPresent {
		t.Fatal("MQTT 5 session not present after restart")
	}
	rc := dialRaw(t, b)
	if rc.connect(&codec.Connect{ClientID: []byte("clean")}).SessionPresent {
		t.Fatal("a clean session came back")
	}
	pub := dialV5(t, b, "pub", nil)
	for i, topic := range []string{"gone/x", "a/x", "v5/t"} {
		pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte(topic), Payload: []byte("m"), QoS: 1, PacketID: uint16(i + 1)}))
		pub.readAck(codec.TypePuback)
	}
	m1 := decodePublish(t, r1.mustRead(codec.TypePublish))
	if string(m1.Topic) != "a/x" || m1.QoS != 1 {
		t.Fatalf("p1 got %s at QoS %d", m1.Topic, m1.QoS)
	}
	var m5 codec.Publish
	if _, err := codec.DecodePublish(r5.mustRead(codec.TypePublish), codec.V5, &m5); err != nil {
		t.Fatal(err)
	}
	if string(m5.Topic) != "v5/t" || len(m5.Props.SubscriptionIDs) != 1 || m5.Props.SubscriptionIDs[0] != 7 {
		t.Fatalf("p5 got %s with subscription ids %v", m5.Topic, m5.Props.SubscriptionIDs)
	}
	if pkt, err := r1.read(300 * time.Millisecond); err == nil {
		t.Fatalf("p1 got %x: the unsubscribed filter came back", pkt)
	}
}

// TestSubackWaitsForCommit: a persistent session's SUBACK waits for the
// store; a clean session's does not.
func TestSubackWaitsForCommit(t *testing.T) {
	mem := persist.NewMem()
	t.Cleanup(func() { _ = mem.Close() })
	b := startBroker(t, func(c *Config) { c.Persist = mem })
	clean := dialRaw(t, b)
	clean.connect(&codec.Connect{ClientID: []byte("clean"), CleanStart: true})
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("kept")})
	mem.Hold()
	clean.subscribe(1, "t", 1) // not held
	p.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte("t"), QoS: 1}}}))
	if pkt, err := p.read(300 * time.Millisecond); err == nil {
		t.Fatalf("%x before the commit completed", pkt)
	}
	mem.Release()
	p.mustRead(codec.TypeSuback)
}

// TestInQoS2SurvivesRestart: a persistent session's inbound QoS 2 id is
// kept across a restart, so the PUBLISH sent again after it (DUP) gets its
// PUBREC without being delivered twice; PUBREL then frees the id.
func TestInQoS2SurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	disk := func(c *Config) { c.Store = StoreDisk; c.DataDir = dir }
	b := startBrokerNoCleanup(t, disk)
	sub := dialRaw(t, b)
	sub.connect(&codec.Connect{ClientID: []byte("sub"), KeepAlive: 60})
	sub.subscribe(1, "q2", 0)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("pub"), KeepAlive: 60})
	msg := codec.Publish{Topic: []byte("q2"), Payload: []byte("once"), QoS: 2, PacketID: 5}
	pub.publish(&msg)
	pub.mustRead(codec.TypePubrec)
	sub.mustRead(codec.TypePublish)
	shutdown(t, b)

	b = startBroker(t, disk)
	sub = dialRaw(t, b)
	sub.connect(&codec.Connect{ClientID: []byte("sub"), KeepAlive: 60})
	pub = dialRaw(t, b)
	if !pub.connect(&codec.Connect{ClientID: []byte("pub"), KeepAlive: 60}).SessionPresent {
		t.Fatal("publisher's session not present")
	}
	msg.Dup = true
	pub.publish(&msg) // its PUBREC was "lost": sent again [MQTT-4.3.3-2]
	pub.mustRead(codec.TypePubrec)
	if pkt, err := sub.read(300 * time.Millisecond); err == nil {
		t.Fatalf("delivered again after the restart: %x", pkt)
	}
	pub.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePubrel, PacketID: 5}))
	pub.mustRead(codec.TypePubcomp)
	msg.Dup, msg.Payload = false, []byte("new") // the id is free: a new message
	pub.publish(&msg)
	pub.mustRead(codec.TypePubrec)
	if m := decodePublish(t, sub.mustRead(codec.TypePublish)); string(m.Payload) != "new" {
		t.Fatalf("got %q", m.Payload)
	}
}

// TestDelayedWillSurvivesRestart: a will waiting for its delay when the
// broker stops is published once its delay has passed after the restart,
// and only once: a second restart does not publish it again.
func TestDelayedWillSurvivesRestart(t *testing.T) {
	mem := persist.NewMem()
	t.Cleanup(func() { _ = mem.Close() })
	st := func(c *Config) { c.Persist = mem }
	b := startBrokerNoCleanup(t, st)
	w := dialV5(t, b, "w", func(cp *codec.Connect) {
		v5Expiry(cp)
		cp.WillFlag, cp.WillTopic, cp.WillPayload, cp.WillQoS = true, []byte("will/w"), []byte("gone"), 1
		cp.WillProps.WillDelay = 1
		cp.WillProps.Set(codec.PropWillDelay)
	})
	left := time.Now() // the broker sees it go after this
	_ = w.nc.Close()   // no DISCONNECT: the will waits for its delay
	waitOffline(t, b, "w")
	shutdown(t, b)

	b = startBrokerNoCleanup(t, st)
	s := dialRaw(t, b)
	s.connect(&codec.Connect{ClientID: []byte("s"), CleanStart: true})
	s.subscribe(1, "will/#", 1)
	m := decodePublish(t, s.mustRead(codec.TypePublish))
	if string(m.Payload) != "gone" {
		t.Fatalf("will %q", m.Payload)
	}
	if waited := time.Since(left); waited < time.Second {
		t.Fatalf("will published %v after its client went, before its 1s delay", waited)
	}
	shutdown(t, b)

	b = startBroker(t, st)
	s = dialRaw(t, b)
	s.connect(&codec.Connect{ClientID: []byte("s2"), CleanStart: true})
	s.subscribe(1, "will/#", 1)
	if pkt, err := s.read(1500 * time.Millisecond); err == nil {
		t.Fatalf("will published again after the second restart: %x", pkt)
	}
}

// stepStore completes commits only when the test says so.
type stepStore struct {
	*persist.Mem
	mu   sync.Mutex
	done []func(error)
}

func (s *stepStore) Commit(_ *persist.Batch, done func(error)) {
	s.mu.Lock()
	s.done = append(s.done, done)
	s.mu.Unlock()
}

func (s *stepStore) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.done)
}

// complete completes the oldest queued commit.
func (s *stepStore) complete() {
	s.mu.Lock()
	d := s.done[0]
	s.done = s.done[1:]
	s.mu.Unlock()
	d(nil)
}

// TestHeldAcksReleasedPerCommit: a client whose acknowledgements wait for
// several commits gets each one as soon as its own commit completes, not
// only once the last does.
func TestHeldAcksReleasedPerCommit(t *testing.T) {
	st := &stepStore{Mem: persist.NewMem()}
	t.Cleanup(func() {
		for st.queued() > 0 {
			st.complete()
		}
		_ = st.Mem.Close()
	})
	b := startBroker(t, func(c *Config) { c.Persist = st })
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("p"), CleanStart: true})
	p.publish(&codec.Publish{Topic: []byte("r/1"), Payload: []byte("x"), QoS: 1, PacketID: 1, Retain: true})
	waitFor(t, "the first commit", func() bool { return st.queued() == 1 })
	p.publish(&codec.Publish{Topic: []byte("r/2"), Payload: []byte("x"), QoS: 1, PacketID: 2, Retain: true})
	waitFor(t, "the second commit", func() bool { return st.queued() == 2 })
	st.complete()
	if a := p.readAck(codec.TypePuback); a.PacketID != 1 {
		t.Fatalf("PUBACK %d, want 1", a.PacketID)
	}
	if pkt, err := p.read(300 * time.Millisecond); err == nil {
		t.Fatalf("%x before its commit completed", pkt)
	}
	st.complete()
	if a := p.readAck(codec.TypePuback); a.PacketID != 2 {
		t.Fatalf("PUBACK %d, want 2", a.PacketID)
	}
}
