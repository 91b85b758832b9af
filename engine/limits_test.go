package engine

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// startBrokerLogs is startBroker with the log lines kept for the test.
func startBrokerLogs(t *testing.T, mod func(*Config)) (*Broker, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	b := startBroker(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if mod != nil {
			mod(c)
		}
	})
	return b, logs
}

// hasLog checks that a log line contains every one of parts.
func hasLog(t *testing.T, logs *syncBuffer, parts ...string) {
	t.Helper()
	for _, line := range strings.Split(logs.String(), "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return
		}
	}
	t.Fatalf("no log line with %q in:\n%s", parts, logs.String())
}

// offlineSession leaves a persistent 3.1.1 session for id, subscribed to
// filter at QoS 1.
func offlineSession(t *testing.T, b *Broker, id, filter string) {
	t.Helper()
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte(id), CleanStart: false})
	r.subscribe(1, filter, 1)
	r.write(codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
	r.expectClosed(3 * time.Second)
	waitOffline(t, b, id)
}

// pingOK checks that r is still served: PINGREQ gets PINGRESP.
func pingOK(t *testing.T, r *rawConn) {
	t.Helper()
	r.write(codec.AppendPingreq(nil))
	r.mustRead(codec.TypePingresp)
}

// TestMaxSessionsEvictsOldestOffline: at MaxSessions a new session takes
// the place of the offline session that went offline longest ago (counted,
// logged), the younger offline session stays; when every session is
// online a new one is refused, CONNACK 0x03 (3.1.1) or 0x97 (v5), and the
// clients already connected are still served.
func TestMaxSessionsEvictsOldestOffline(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxSessions = 3 })
	offlineSession(t, b, "old", "ms/old")
	offlineSession(t, b, "young", "ms/young")
	live := dialRaw(t, b)
	live.connect(&codec.Connect{ClientID: []byte("live"), CleanStart: true})
	live.subscribe(1, "ms/live", 0)

	nw := dialRaw(t, b)
	equal(t, nw.connect(&codec.Connect{ClientID: []byte("new"), CleanStart: true}).ReasonCode, codec.ReasonSuccess)
	equal(t, b.Stats().SessionsEvicted, uint64(1), "evicted")
	hasLog(t, logs, "session limit", "max_sessions", "client=old")
	equal(t, b.sessions.len(), 3, "sessions")

	young := dialRaw(t, b)
	check(t, young.connect(&codec.Connect{ClientID: []byte("young"), CleanStart: false}).SessionPresent, "younger offline session kept")

	// All three online: nothing to discard.
	old := dialRaw(t, b)
	ack := old.connect(&codec.Connect{ClientID: []byte("old"), CleanStart: false})
	equal(t, ack.ReasonCode, codec.ReasonCode(codec.ConnackServerUnavailable), "3.1.1 refusal")
	old.expectClosed(3 * time.Second)
	v5 := dialRaw(t, b)
	equal(t, v5.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5"), CleanStart: true}).ReasonCode,
		codec.ReasonQuotaExceeded, "v5 refusal")
	v5.expectClosed(3 * time.Second)
	equal(t, b.Stats().SessionsRefused, uint64(2), "refused")
	hasLog(t, logs, "session limit: CONNECT refused", "client=old")
	check(t, !strings.Contains(logs.String(), "client=v5"), "a second refusal within a second is not logged")

	// The others are unaffected: a message still goes from new to live.
	nw.publish(&codec.Publish{Topic: []byte("ms/live"), Payload: []byte("hi")})
	equal(t, string(decodePublish(t, live.mustRead(codec.TypePublish)).Payload), "hi")
	pingOK(t, young)
	// An online client's own id still takes its session over.
	again := dialRaw(t, b)
	equal(t, again.connect(&codec.Connect{ClientID: []byte("live"), CleanStart: true}).ReasonCode, codec.ReasonSuccess, "takeover at the bound")
}

// TestMaxSubscriptionsPerClient: filters past the bound get SUBACK 0x97
// (v5) or 0x80 (3.1.1), counted and logged; replacing a subscription is
// still allowed, and another client subscribes freely.
func TestMaxSubscriptionsPerClient(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxSubscriptionsPerClient = 2 })
	r := dialV5(t, b, "subs-v5", nil)
	r.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 7, Filters: []codec.Subscription{
		{Filter: []byte("sl/a"), QoS: 1}, {Filter: []byte("sl/b"), QoS: 0}, {Filter: []byte("sl/c"), QoS: 0}, {Filter: []byte("sl/a"), QoS: 0}}}))
	var sa codec.Suback
	_, err := codec.DecodeSuback(r.mustRead(codec.TypeSuback), codec.V5, &sa)
	noErr(t, err)
	want := []codec.ReasonCode{codec.ReasonGrantedQoS1, codec.ReasonGrantedQoS0, codec.ReasonQuotaExceeded, codec.ReasonGrantedQoS0}
	equal(t, fmt.Sprint(sa.ReasonCodes), fmt.Sprint(want), "v5 codes (the last replaces sl/a)")

	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("subs-v3"), CleanStart: true})
	equal(t, v3.subscribe(1, "sl/x", 0).ReasonCodes[0], codec.ReasonCode(0))
	equal(t, v3.subscribe(2, "sl/y", 0).ReasonCodes[0], codec.ReasonCode(0))
	equal(t, v3.subscribe(3, "sl/z", 0).ReasonCodes[0], codec.ReasonCode(codec.SubackFailureV3), "3.1.1 code")
	equal(t, b.Stats().SubscriptionsRefused, uint64(2))
	equal(t, b.Stats().Subscriptions, int64(4))
	hasLog(t, logs, "subscription limit", "max_subscriptions_per_client", "client=subs-v5")

	other := dialRaw(t, b)
	other.connect(&codec.Connect{ClientID: []byte("subs-other"), CleanStart: true})
	equal(t, other.subscribe(1, "sl/c", 0).ReasonCodes[0], codec.ReasonCode(0), "another client")
	v3.publish(&codec.Publish{Topic: []byte("sl/c"), Payload: []byte("c")})
	equal(t, string(decodePublish(t, other.mustRead(codec.TypePublish)).Payload), "c")
}

// TestSubscriberIDsExhausted: when the session table has no id left, a
// new subscriber's SUBSCRIBE is refused (not a panic), counted and
// logged, and subscribers that have an id are unaffected.
func TestSubscriberIDsExhausted(t *testing.T) {
	b, logs := startBrokerLogs(t, nil)
	first := dialRaw(t, b)
	first.connect(&codec.Connect{ClientID: []byte("id-first"), CleanStart: true})
	equal(t, first.subscribe(1, "ids/a", 0).ReasonCodes[0], codec.ReasonCode(0))
	b.table.mu.Lock()
	b.table.limit = b.table.next // every id handed out
	b.table.mu.Unlock()

	late := dialRaw(t, b)
	late.connect(&codec.Connect{ClientID: []byte("id-late"), CleanStart: true})
	equal(t, late.subscribe(1, "ids/a", 0).ReasonCodes[0], codec.ReasonCode(codec.SubackFailureV3))
	late5 := dialV5(t, b, "id-late5", nil)
	late5.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("ids/a")}}}))
	var sa codec.Suback
	_, err := codec.DecodeSuback(late5.mustRead(codec.TypeSuback), codec.V5, &sa)
	noErr(t, err)
	equal(t, sa.ReasonCodes[0], codec.ReasonQuotaExceeded)
	equal(t, b.Stats().SubscriptionsRefused, uint64(2))
	hasLog(t, logs, "every SubscriberID is in use", "client=id-late")

	equal(t, first.subscribe(2, "ids/b", 0).ReasonCodes[0], codec.ReasonCode(0), "a subscriber with an id subscribes more")
	late.publish(&codec.Publish{Topic: []byte("ids/b"), Payload: []byte("b")})
	equal(t, string(decodePublish(t, first.mustRead(codec.TypePublish)).Payload), "b")
}

// TestSessionTableExhausted: add refuses past the table's ids instead of
// indexing past its chunks, and reuses a released id once quarantined.
func TestSessionTableExhausted(t *testing.T) {
	var tb sessionTable
	tb.limit = 3
	var ids []uint64
	for i := range 3 {
		id, ok := tb.add(&session{clientID: fmt.Sprint(i)})
		check(t, ok, "add", i)
		ids = append(ids, uint64(id))
	}
	equal(t, fmt.Sprint(ids), "[1 2 3]")
	_, ok := tb.add(&session{})
	check(t, !ok, "add past the limit")
	s := tb.get(2)
	tb.remove(s, 2)
	_, ok = tb.add(&session{})
	check(t, !ok, "a released id is quarantined")
	tb.free[0].at = time.Now().Add(-2 * idQuarantine)
	id, ok := tb.add(&session{clientID: "reused"})
	check(t, ok && id == 2 && tb.get(2).clientID == "reused", "released id reused", id)

	// The real capacity: the last chunk's last slot, then refusal.
	var full sessionTable
	full.next = maxSubscriberIDs - 2
	id, ok = full.add(&session{clientID: "last"})
	check(t, ok && id == maxSubscriberIDs-1 && full.get(id).clientID == "last", "last id", id)
	_, ok = full.add(&session{})
	check(t, !ok, "past 2^24 ids")
}

// v5Publish sends a v5 PUBLISH.
func v5Publish(r *rawConn, p *codec.Publish) {
	r.t.Helper()
	r.write(codec.AppendPublish(nil, codec.V5, p))
}

// TestMaxRetainedMessages: a retained message for a new topic past the
// count is refused to a v5 QoS 1 publisher (PUBACK 0x97, not delivered),
// delivered but not stored for a 3.1.1 one; replacing and clearing stay
// allowed; counted and logged; other traffic is unaffected.
func TestMaxRetainedMessages(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxRetainedMessages = 2 })
	watch := dialRaw(t, b)
	watch.connect(&codec.Connect{ClientID: []byte("rt-watch"), CleanStart: true})
	watch.subscribe(1, "rt/#", 0)
	pub := dialV5(t, b, "rt-pub", nil)
	for i, tp := range []string{"rt/a", "rt/b", "rt/c"} {
		v5Publish(pub, &codec.Publish{Topic: []byte(tp), Payload: []byte(tp), QoS: 1, PacketID: uint16(i + 1), Retain: true})
	}
	equal(t, pub.readAck(codec.TypePuback).ReasonCode, codec.ReasonSuccess)
	equal(t, pub.readAck(codec.TypePuback).ReasonCode, codec.ReasonSuccess)
	equal(t, pub.readAck(codec.TypePuback).ReasonCode, codec.ReasonQuotaExceeded, "third topic")
	equal(t, string(decodePublish(t, watch.mustRead(codec.TypePublish)).Topic), "rt/a")
	equal(t, string(decodePublish(t, watch.mustRead(codec.TypePublish)).Topic), "rt/b")
	if p, err := watch.read(300 * time.Millisecond); err == nil {
		t.Fatalf("refused PUBLISH delivered: %x", p)
	}
	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("rt-v3"), CleanStart: true})
	v3.publish(&codec.Publish{Topic: []byte("rt/d"), Payload: []byte("d"), Retain: true})
	equal(t, string(decodePublish(t, watch.mustRead(codec.TypePublish)).Topic), "rt/d", "3.1.1: delivered live")
	equal(t, b.Stats().Retained, int64(2))
	equal(t, b.Stats().RetainedRefused, uint64(2))
	hasLog(t, logs, "retained limit", "max_retained_messages")

	// Replace a (allowed at the bound), clear b, then c fits.
	v5Publish(pub, &codec.Publish{Topic: []byte("rt/a"), Payload: []byte("a2"), QoS: 1, PacketID: 9, Retain: true})
	equal(t, pub.readAck(codec.TypePuback).ReasonCode, codec.ReasonSuccess, "replace")
	v5Publish(pub, &codec.Publish{Topic: []byte("rt/b"), QoS: 1, PacketID: 10, Retain: true})
	equal(t, pub.readAck(codec.TypePuback).ReasonCode, codec.ReasonSuccess, "clear")
	v5Publish(pub, &codec.Publish{Topic: []byte("rt/c"), Payload: []byte("c"), QoS: 1, PacketID: 11, Retain: true})
	equal(t, pub.readAck(codec.TypePuback).ReasonCode, codec.ReasonSuccess, "room again")
	late := dialRaw(t, b)
	late.connect(&codec.Connect{ClientID: []byte("rt-late"), CleanStart: true})
	late.subscribe(1, "rt/#", 0)
	got := map[string]string{}
	for range 2 {
		p := decodePublish(t, late.mustRead(codec.TypePublish))
		got[string(p.Topic)] = string(p.Payload)
	}
	equal(t, fmt.Sprint(got), "map[rt/a:a2 rt/c:c]", "stored")
	equal(t, b.Stats().RetainedBytes, int64(len("rt/a")+2+len("rt/c")+1))
}

// TestMaxRetainedBytes: the bytes bound refuses a new topic and a
// replacement that grows past it, allows a smaller replacement, and its
// measure follows sets, replacements, clears and expiry.
func TestMaxRetainedBytes(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxRetainedBytes = 100 })
	pub := dialV5(t, b, "rb-pub", nil)
	pid := uint16(0)
	send := func(topic string, n int, expiry uint32) codec.ReasonCode {
		t.Helper()
		pid++
		p := &codec.Publish{Topic: []byte(topic), Payload: bytes.Repeat([]byte("x"), n), QoS: 1, PacketID: pid, Retain: true}
		if expiry > 0 {
			p.Props.MessageExpiry = expiry
			p.Props.Set(codec.PropMessageExpiry)
		}
		v5Publish(pub, p)
		return pub.readAck(codec.TypePuback).ReasonCode
	}
	equal(t, send("rb/a", 56, 0), codec.ReasonSuccess) // 60 B
	equal(t, send("rb/b", 40, 0), codec.ReasonQuotaExceeded, "new topic past the bytes")
	equal(t, send("rb/a", 100, 0), codec.ReasonQuotaExceeded, "growing replacement past the bytes")
	equal(t, send("rb/a", 6, 0), codec.ReasonSuccess, "smaller replacement") // 10 B
	equal(t, send("rb/b", 46, 1), codec.ReasonSuccess, "room again")         // 50 B, expires in 1 s
	equal(t, b.Stats().RetainedBytes, int64(60))
	hasLog(t, logs, "retained limit", "max_retained_bytes")
	time.Sleep(2100 * time.Millisecond) // past the expiry, at 1 s granularity
	b.sweepRetained()
	equal(t, b.Stats().RetainedBytes, int64(10), "expired message swept")
	equal(t, b.Stats().Retained, int64(1))
	equal(t, send("rb/a", 0, 0), codec.ReasonSuccess, "clear")
	equal(t, b.Stats().RetainedBytes, int64(0))
}

// TestMaxQueuedBytes: an offline session holds at most MaxQueuedBytes of
// messages; the rest are dropped, counted and logged, while another
// offline session still gets all of its own. The measure returns to 0 once
// the messages are delivered and acknowledged.
func TestMaxQueuedBytes(t *testing.T) {
	const size = 1000
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxQueuedBytes = 4096 })
	offlineSession(t, b, "qb-big", "qb/big")
	offlineSession(t, b, "qb-small", "qb/small")
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("qb-pub"), CleanStart: true})
	for i := range 10 {
		pub.publish(&codec.Publish{Topic: []byte("qb/big"), QoS: 1, PacketID: uint16(i + 1), Payload: bytes.Repeat([]byte{'a' + byte(i)}, size)})
		pub.mustRead(codec.TypePuback)
	}
	for i := range 3 {
		pub.publish(&codec.Publish{Topic: []byte("qb/small"), QoS: 1, PacketID: uint16(i + 20), Payload: []byte{'0' + byte(i)}})
		pub.mustRead(codec.TypePuback)
	}
	keep := 4096 / (size + len("qb/big") + queueEntryBytes)
	waitFor(t, "drops counted", func() bool { return b.Stats().QueuedBytesDropped == uint64(10-keep) })
	st := b.Stats()
	check(t, st.PublishDropped >= st.QueuedBytesDropped, "counted as dropped too")
	hasLog(t, logs, "queued bytes limit", "max_queued_bytes", "client=qb-big")

	for _, tc := range []struct {
		id   string
		want int
	}{{id: "qb-big", want: keep}, {id: "qb-small", want: 3}} {
		r := dialRaw(t, b)
		check(t, r.connect(&codec.Connect{ClientID: []byte(tc.id), CleanStart: false}).SessionPresent)
		for i := range tc.want {
			p := decodePublish(t, r.mustRead(codec.TypePublish))
			if tc.id == "qb-big" {
				equal(t, p.Payload[0], 'a'+byte(i), "oldest kept")
			}
			r.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
		}
		if p, err := r.read(300 * time.Millisecond); err == nil {
			t.Fatalf("%s: more than kept: %x", tc.id, p)
		}
	}
	waitFor(t, "queued bytes back to 0", func() bool { return b.Stats().QueuedBytes == 0 })
}

// TestMaxQueuedBytesTotal: the sessions together hold at most
// MaxQueuedBytesTotal; past it messages for any session are dropped,
// counted and logged, and a live subscriber is still served.
func TestMaxQueuedBytesTotal(t *testing.T) {
	const size = 1000
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxQueuedBytes, c.MaxQueuedBytesTotal = 4096, 5000 })
	for _, id := range []string{"qt-1", "qt-2", "qt-3"} {
		offlineSession(t, b, id, "qt/all")
	}
	live := dialRaw(t, b)
	live.connect(&codec.Connect{ClientID: []byte("qt-live"), CleanStart: true})
	live.subscribe(1, "qt/all", 1)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("qt-pub"), CleanStart: true})
	for i := range 3 {
		pub.publish(&codec.Publish{Topic: []byte("qt/all"), QoS: 1, PacketID: uint16(i + 1), Payload: make([]byte, size)})
		pub.mustRead(codec.TypePuback)
		p := decodePublish(t, live.mustRead(codec.TypePublish))
		live.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
	}
	// 9 copies for the offline sessions, 1070 B each: the first message's
	// 3 fit under 5000 whatever else is held, a fourth if the live
	// subscriber's copy was acknowledged in time.
	waitFor(t, "drops counted", func() bool { d := b.Stats().QueuedBytesDropped; return d == 5 || d == 6 })
	hasLog(t, logs, "queued bytes limit", "max_queued_bytes_total")
	kept := 9 - int(b.Stats().QueuedBytesDropped)
	n := 0
	for _, id := range []string{"qt-1", "qt-2", "qt-3"} {
		r := dialRaw(t, b)
		check(t, r.connect(&codec.Connect{ClientID: []byte(id), CleanStart: false}).SessionPresent)
		for {
			pkt, err := r.read(300 * time.Millisecond)
			if err != nil {
				break
			}
			p := decodePublish(t, pkt)
			r.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
			n++
		}
	}
	equal(t, n, kept, "messages the offline sessions kept")
}

// TestHandoverBound: QoS 0 messages for a loop that does not drain its
// inbox are dropped past MaxHandoverBytes (counted, logged); what was
// kept is delivered when the loop drains, and a subscriber on the
// publisher's own loop gets every message.
func TestHandoverBound(t *testing.T) {
	logs := &syncBuffer{}
	hs := newHarness(t, 2, func(c *Config) {
		c.MaxHandoverBytes = 64 << 10
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	far := hs.conn(1, "ho-far")
	far.keep = true
	hs.subscribe(far, "ho/t", 0)
	near := hs.conn(0, "ho-near")
	hs.subscribe(near, "ho/t", 0)
	pub := hs.conn(0, "ho-pub")
	hs.pump()
	nearBefore, farBefore := near.written, len(far.out)
	const n, size = 40, 4 << 10
	pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("ho/t"), Payload: make([]byte, size)})
	for range n {
		hs.send(pub, pkt) // one round each; loop 1 is not drained meanwhile
	}
	equal(t, near.written-nearBefore, n*len(pkt), "same-loop subscriber got every message")
	st := hs.b.Stats()
	check(t, st.HandoverDropped > 0 && st.HandoverDropped < n, "dropped", st.HandoverDropped)
	kept := n - int(st.HandoverDropped)
	check(t, kept*len(pkt) <= 64<<10, "kept within the bound", kept)
	hasLog(t, logs, "hand-over limit", "max_handover_bytes")
	hs.pump()
	equal(t, len(far.out)-farBefore, kept*len(pkt), "kept messages delivered")
	equal(t, hs.loop(1).in.bytes.Load(), int64(0), "inbox measure after the drain")
	hs.send(pub, pkt)
	hs.pump()
	equal(t, len(far.out)-farBefore, (kept+1)*len(pkt), "room again after the drain")
}

// TestMaxDelayedWills: past MaxDelayedWills a will with a delay is
// published at once (counted, logged) while the one within the bound
// waits; the bytes bound acts the same.
func TestMaxDelayedWills(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mod     func(*Config)
		setting string
	}{
		{name: "count", mod: func(c *Config) { c.MaxDelayedWills = 1 }, setting: "max_delayed_wills"},
		{name: "bytes", mod: func(c *Config) { c.MaxDelayedWillBytes = 20 }, setting: "max_delayed_will_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, logs := startBrokerLogs(t, tc.mod)
			watch := dialRaw(t, b)
			watch.connect(&codec.Connect{ClientID: []byte("dw-watch"), CleanStart: true})
			watch.subscribe(1, "dw/#", 0)
			var conns []*rawConn
			for _, id := range []string{"dw-1", "dw-2"} {
				conns = append(conns, dialV5(t, b, id, func(cp *codec.Connect) {
					cp.Props.SessionExpiry = 600
					cp.Props.Set(codec.PropSessionExpiry)
					cp.WillFlag, cp.WillTopic, cp.WillPayload = true, []byte("dw/"+id), []byte("gone")
					cp.WillProps.WillDelay = 600
					cp.WillProps.Set(codec.PropWillDelay)
				}))
			}
			_ = conns[0].nc.Close() // no DISCONNECT: the will is due
			waitFor(t, "first will delayed", func() bool { return b.Stats().DelayedWills == 1 })
			_ = conns[1].nc.Close()
			p := decodePublish(t, watch.mustRead(codec.TypePublish))
			equal(t, string(p.Topic), "dw/dw-2", "second will at once")
			equal(t, b.Stats().DelayedWillsPublished, uint64(1))
			equal(t, b.Stats().DelayedWills, int64(1), "first still waits")
			hasLog(t, logs, "delayed will limit", tc.setting, "client=dw-2")
			if p, err := watch.read(300 * time.Millisecond); err == nil {
				t.Fatalf("the delayed will went out: %x", p)
			}
			pingOK(t, watch)
		})
	}
}

// TestLimitLogRate: a limit logs at most one line per limitLogEvery,
// carrying the hits not logged since.
func TestLimitLogRate(t *testing.T) {
	var lg limitLog
	now := time.Now().UnixNano()
	ok, n := lg.allow(now, 1)
	check(t, ok && n == 1, "first line", n)
	for i := range 5 {
		ok, _ = lg.allow(now+int64(i), 2)
		check(t, !ok, "within the period")
	}
	ok, n = lg.allow(now+int64(limitLogEvery), 1)
	check(t, ok && n == 11, "next line carries the skipped hits", n)
}

// TestOfflineSessionHeap measures the live heap of an offline persistent
// session with three subscriptions (a device: its command topic, its
// configuration subtree, a broadcast), the figure behind MaxSessions'
// default: 100,000 of them stay near 150 MB.
func TestOfflineSessionHeap(t *testing.T) {
	const n = 20000
	hs := newHarness(t, 2)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		id := fmt.Sprintf("device-%06d", i)
		f := &fakeConn{el: hs.loops[i%2]}
		hs.h.OnOpen(f)
		hs.send(f, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
			KeepAlive: 60, ClientID: []byte(id)}))
		hs.send(f, codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{
			{Filter: []byte("devices/" + id + "/cmd"), QoS: 1}, {Filter: []byte("devices/" + id + "/config/#"), QoS: 1},
			{Filter: []byte("broadcast/all"), QoS: 0}}}))
		hs.send(f, codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
	}
	hs.pump()
	runtime.GC()
	runtime.ReadMemStats(&after)
	equal(t, hs.b.sessions.len(), n, "offline sessions")
	equal(t, hs.b.sessions.offN, n, "offline list")
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("heap per offline session with 3 subscriptions: %.0f B", per)
	check(t, per < 2048, fmt.Sprintf("%.0f B per offline session: revisit MaxSessions' default", per))
}
