package engine

import (
	"fmt"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/codec"
)

// TestStuckSubscriberBoundedStall floods QoS 1 to a subscriber that never
// acknowledges and to a healthy one: the stuck one's drops are counted, and
// the publisher and the healthy subscriber are held up at most about
// throttleMax (a subscriber that never made progress throttles nobody;
// TestThrottleLapsesWhenSubscriberStops covers one that stops later).
func TestStuckSubscriberBoundedStall(t *testing.T) {
	const n = 2000
	// A queue bound under n, so the stuck subscriber drops, with room for
	// the healthy one to pause on a loaded machine or under -race without
	// dropping: a pause past throttleMax ends the throttle, and the
	// publisher's excess then queues up to this bound.
	b := startBroker(t, func(c *Config) { c.MaxQueuedMessages = 1500 })
	defer func() {
		if t.Failed() {
			t.Logf("broker dropped %d messages", b.Stats().PublishDropped)
		}
	}()
	col := newCollector()
	healthy := pahoClient(t, b, "healthy", func(o *mqtt.ClientOptions) { o.SetOrderMatters(false) })
	subscribe(t, healthy, "st", 1, col)
	pub := pahoClient(t, b, "stpub", func(o *mqtt.ClientOptions) { o.SetMaxResumePubInFlight(64) })
	run := func(from int) time.Duration {
		start := time.Now()
		toks := make([]mqtt.Token, 0, n)
		for i := 0; i < n; i++ {
			toks = append(toks, pub.Publish("st", 1, false, fmt.Sprint(from+i)))
		}
		for _, tok := range toks {
			if !tok.WaitTimeout(10 * time.Second) {
				t.Fatal("publish stalled")
			}
			if err := tok.Error(); err != nil {
				t.Fatal(err)
			}
		}
		col.wait(t, from+n, 10*time.Second)
		return time.Since(start)
	}
	base := run(0) // the same flow with no stuck subscriber: what this machine takes
	stuck := dialRaw(t, b)
	stuck.connect(&codec.Connect{ClientID: []byte("stuck1"), CleanStart: true})
	stuck.subscribe(1, "st", 1)
	el := run(n)
	t.Logf("%d messages through in %v (%v without the stuck subscriber), %d dropped for the stuck subscriber",
		n, el, base, b.Stats().PublishDropped)
	if el-base >= 3*throttleMax+time.Second {
		t.Fatal("stalled too long", el)
	}
	if b.Stats().PublishDropped <= 0 {
		t.Fatal("the stuck subscriber's excess is dropped and counted")
	}
}

// TestThrottleBoundsSlowSubscriberQueue floods QoS 1 to one slow but
// live subscriber with a queue limit too large to matter. The throttle
// engages on the absolute bound (baseCongestAt: the subscriber is too slow
// for its rate to raise it) and keeps holding the
// publisher while the subscriber makes progress, even when draining the
// queue to the resume mark takes longer than throttleMax: the session's
// backlog stays bounded. Then the subscriber speeds up and every message
// the broker acknowledged arrives, in order [MQTT-4.3.2-4] [MQTT-4.6.0-2].
// It holds on every transport: TLS and WebSocket Layers write through
// the same outbound path, so the throttle sees the same backlog.
func TestThrottleBoundsSlowSubscriberQueue(t *testing.T) {
	const window = 4
	overTransports(t, func(c *Config) { c.MaxInflight = window; c.MaxQueuedMessages = 100_000_000 },
		func(t *testing.T, b *Broker, dial func() *rawConn) {
			throttleBoundsSlowSubscriberQueue(t, b, dial, window)
		})
}

func throttleBoundsSlowSubscriberQueue(t *testing.T, b *Broker, dial func() *rawConn, window int) {
	const (
		n    = 3000
		slow = 2500 * time.Millisecond // 40 msg/s: 48 messages take 1.2 s
	)
	sub := dial()
	sub.connect(&codec.Connect{ClientID: []byte("slowsub"), CleanStart: true})
	sub.subscribe(1, "fl", 1)
	pub := dial()
	pub.connect(&codec.Connect{ClientID: []byte("floodpub"), CleanStart: true})
	go func() { // drain PUBACKs so the publisher's socket never blocks
		for {
			if _, err := pub.read(30 * time.Second); err != nil {
				return
			}
		}
	}()
	peak := make(chan int, 1)
	stop := make(chan struct{})
	go func() { peak <- sampleBacklog(b, "slowsub", stop) }()
	var all []byte
	for i := 0; i < n; i++ {
		all = codec.AppendPublish(all, codec.V311, &codec.Publish{Topic: []byte("fl"), QoS: 1,
			PacketID: uint16(i%60000 + 1), Payload: []byte(fmt.Sprint(i))})
	}
	start := time.Now()
	pub.write(all)
	var acks []byte
	slowMax, slowN := -1, 0
	for i := 0; i < n; i++ {
		pkt, err := sub.read(10 * time.Second)
		if err != nil {
			t.Fatal(err, "message", i)
		}
		p := decodePublish(t, pkt)
		if want := fmt.Sprint(i); string(p.Payload) != want {
			t.Fatalf("order: got %v, want %v", string(p.Payload), want)
		}
		acks = codec.AppendAck(acks, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})
		if time.Since(start) > slow {
			if slowMax < 0 {
				stop <- struct{}{} // end of the slow phase
				slowMax, slowN = <-peak, i
			}
			sub.write(acks)
			acks = acks[:0]
		} else if i%window == window-1 {
			sub.write(acks)
			acks = acks[:0]
			time.Sleep(100 * time.Millisecond)
		}
	}
	close(stop)
	t.Logf("%d messages in %v, peak backlog %d in the slow phase (bound %d), %d received then",
		n, time.Since(start), slowMax, b.baseCongestAt(), slowN)
	if !(slowMax >= 0 && slowMax <= 2*b.baseCongestAt()+window) {
		t.Fatal("backlog not bounded by the throttle", slowMax)
	}
	if got := b.Stats().PublishDropped; got != uint64(0) {
		t.Fatalf("dropped: got %v, want %v", got, uint64(0))
	}
}

// sampleBacklog returns the largest queue plus hand-over backlog of the
// session id seen until stop is closed, read on the session's owner loop.
func sampleBacklog(b *Broker, id string, stop <-chan struct{}) int {
	peak := 0
	tk := time.NewTicker(2 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return peak
		case <-tk.C:
		}
		b.sessions.mu.Lock()
		s := b.sessions.get(id)
		b.sessions.mu.Unlock()
		owner := s.owner.Load()
		if owner == nil {
			continue
		}
		got := make(chan int, 1)
		err := owner.nl.Execute(func() {
			got <- s.queued() + int(uint32(s.subscriber().thr.transit.Load()))
		})
		if err != nil {
			continue
		}
		select {
		case v := <-got:
			peak = max(peak, v)
		case <-stop:
			return peak
		}
	}
}

// TestThrottleLapsesWhenSubscriberStops floods QoS 1 to a healthy
// subscriber and to one that first acknowledges slowly (so it throttles
// the publisher) and then stops reading: once it makes no progress for
// throttleMax, the publisher is read again and the healthy subscriber gets
// everything soon after; the stuck one's backlog is queued, not dropped.
func TestThrottleLapsesWhenSubscriberStops(t *testing.T) {
	const (
		n      = 3000
		window = 4
	)
	b := startBroker(t, func(c *Config) { c.MaxInflight = window; c.MaxQueuedMessages = 100_000_000 })
	stuck := dialRaw(t, b)
	stuck.connect(&codec.Connect{ClientID: []byte("laterstuck"), CleanStart: true})
	stuck.subscribe(1, "lp", 1)
	healthy := dialRaw(t, b)
	healthy.connect(&codec.Connect{ClientID: []byte("healthy2"), CleanStart: true})
	healthy.subscribe(1, "lp", 1)
	got := make(chan int, 1)
	go func() { // acknowledge at once, count
		i := 0
		for ; i < n; i++ {
			pkt, err := healthy.read(10 * time.Second)
			if err != nil {
				break
			}
			var p codec.Publish
			if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil {
				break
			}
			_ = healthy.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := healthy.nc.Write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})); err != nil {
				break
			}
		}
		got <- i
	}()
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("lppub"), CleanStart: true})
	go func() {
		for {
			if _, err := pub.read(30 * time.Second); err != nil {
				return
			}
		}
	}()
	var all []byte
	for i := 0; i < n; i++ {
		all = codec.AppendPublish(all, codec.V311, &codec.Publish{Topic: []byte("lp"), QoS: 1,
			PacketID: uint16(i%60000 + 1), Payload: []byte(fmt.Sprint(i))})
	}
	pub.write(all)
	for i := 0; i < 15*window; i++ { // slow progress: the publisher is throttled
		pkt, err := stuck.read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		p := decodePublish(t, pkt)
		stuck.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
		if i%window == window-1 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	select {
	case k := <-got:
		t.Fatalf("healthy subscriber done (%d) while the publisher should be throttled", k)
	default:
	}
	stopped := time.Now() // from here on the stuck subscriber reads nothing
	k := <-got
	el := time.Since(stopped)
	t.Logf("healthy got %d messages %v after the other stopped (throttleMax %v)", k, el, throttleMax)
	if k != n {
		t.Fatalf("healthy subscriber's messages: got %v, want %v", k, n)
	}
	if el >= throttleMax+2*time.Second {
		t.Fatal("the stuck subscriber held the others too long", el)
	}
	if got := b.Stats().PublishDropped; got != uint64(0) {
		t.Fatalf("dropped: got %v, want %v", got, uint64(0))
	}
}

// TestThrottleResumeIsFair has many publishers, each keeping a window of
// QoS 1 messages in flight as the bench's do, flood one subscriber that is
// already known to make progress (a warm-up burst congested its session and
// it acknowledged it): every resume round has room for a few publishers'
// messages only, so the order of the rounds decides who waits. When half of
// everything has been delivered, every publisher, on either loop, has had a
// fair part of its messages through.
func TestThrottleResumeIsFair(t *testing.T) {
	const (
		pubs     = 16
		each     = 1000
		inflight = 32
		window   = 8
	)
	b := startBroker(t, func(c *Config) { c.MaxInflight = window; c.MaxQueuedMessages = 100_000_000 })
	sub := dialRaw(t, b)
	sub.connect(&codec.Connect{ClientID: []byte("fairsub"), CleanStart: true})
	sub.subscribe(1, "fair/#", 1)
	warm := dialRaw(t, b)
	warm.connect(&codec.Connect{ClientID: []byte("fairwarm"), CleanStart: true})
	var burst []byte
	for i := range 200 {
		burst = codec.AppendPublish(burst, codec.V311, &codec.Publish{Topic: []byte("fair/warm"), QoS: 1,
			PacketID: uint16(i + 1), Payload: []byte{pubs}})
	}
	warm.write(burst)
	// take reads the subscriber's next message and acknowledges it with
	// its window's, all at once, as a client reading in batches does.
	var acks []byte
	n := 0
	take := func() *codec.Publish {
		pkt, err := sub.read(10 * time.Second)
		if err != nil {
			t.Fatal(err, "message", n)
		}
		m := decodePublish(t, pkt)
		acks = codec.AppendAck(acks, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: m.PacketID})
		if n++; n%window == 0 {
			sub.write(acks)
			acks = acks[:0]
		}
		return m
	}
	for range 200 {
		take()
	}
	for p := range pubs {
		r := dialRaw(t, b)
		r.connect(&codec.Connect{ClientID: fmt.Appendf(nil, "fairpub%d", p), CleanStart: true})
		topic := fmt.Appendf(nil, "fair/%d", p)
		msg := func(i int) []byte {
			return codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: topic, QoS: 1,
				PacketID: uint16(i + 1), Payload: []byte{byte(p)}})
		}
		go func() { // a window in flight: one more message for each PUBACK
			var first []byte
			for i := range inflight {
				first = append(first, msg(i)...)
			}
			r.write(first)
			for i := inflight; i < each; i++ {
				if _, err := r.read(30 * time.Second); err != nil {
					return
				}
				r.write(msg(i))
			}
		}()
	}
	got := make([]int, pubs)
	for i := 0; i < pubs*each; i++ {
		got[take().Payload[0]]++
		if i == pubs*each/2 {
			least := slices.Min(got)
			t.Logf("at the half-way mark each publisher had delivered %v of %d", got, each)
			if least < each/5 {
				t.Fatal("a publisher starved by the resume order", least)
			}
		}
	}
	if got := b.Stats().PublishDropped; got != uint64(0) {
		t.Fatalf("dropped: got %v, want %v", got, uint64(0))
	}
}

// TestQoS0Backpressure publishes QoS 0 to subscribers with over half of
// MaxOutboundBytes unsent (congested) or none: the publisher is held and
// its input no longer watched only when every subscriber of the message is
// congested and the setting is on, on the publisher's loop or another
// (where the subscriber's last write tells its congestion); the QoS 0
// resume timer reads it again.
func TestQoS0Backpressure(t *testing.T) {
	cases := []struct {
		name      string
		subLoops  []int  // a subscriber on each loop listed
		congested []bool // per subscriber
		off       bool   // QoS0Backpressure false
		want      bool   // publisher held
	}{
		{"one congested", []int{0}, []bool{true}, false, true},
		{"one congested, setting off", []int{0}, []bool{true}, true, false},
		{"one healthy", []int{0}, []bool{false}, false, false},
		{"one slow among healthy", []int{0, 0, 1}, []bool{true, false, false}, false, false},
		{"all congested, two loops", []int{0, 1}, []bool{true, true}, false, true},
		{"remote congested", []int{1}, []bool{true}, false, true},
		{"no subscriber", nil, nil, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, 2, func(c *Config) { c.QoS0Backpressure = !tc.off })
			budget := hs.b.cfg.MaxOutboundBytes
			pub := hs.conn(0, "pub")
			subs := make([]*fakeConn, len(tc.subLoops))
			for i, li := range tc.subLoops {
				subs[i] = hs.conn(li, fmt.Sprint("sub", i))
				hs.subscribe(subs[i], "q0/#", 0)
				if tc.congested[i] {
					subs[i].outBuffered = budget/2 + 1
				}
			}
			hs.pump()
			pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("q0/x"), Payload: make([]byte, 16)})
			// The first message tells the subscribers' loops about their
			// congestion (their write refreshes it), the second meets it.
			for i := 0; i < 2; i++ {
				hs.send(pub, pkt)
				hs.pump()
			}
			pc := pub.ctx.(*client)
			if pc.thr.held() != tc.want || pub.paused != tc.want {
				t.Fatalf("publisher held %v, paused %v; want %v", pc.thr.held(), pub.paused, tc.want)
			}
			if !tc.want {
				return
			}
			// Held: what it sends next waits, until the timer's round.
			before := hs.b.Stats().PublishReceived
			hs.send(pub, pkt)
			if got := hs.b.Stats().PublishReceived; got != before {
				t.Fatalf("held publisher read: %d messages received, want %d", got, before)
			}
			l := hs.loop(0)
			if !l.thr.armed {
				t.Fatal("no resume timer armed")
			}
			l.thr.fire()
			hs.pump()
			if got := hs.b.Stats().PublishReceived; got != before+1 {
				t.Fatalf("resume round read %d messages, want 1", got-before)
			}
			if !pc.thr.held() || !pub.paused {
				t.Fatal("still congested: the message read holds the publisher again")
			}
		})
	}
}
