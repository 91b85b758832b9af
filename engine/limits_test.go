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
	if got := nw.connect(&codec.Connect{ClientID: []byte("new"), CleanStart: true}).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
	if got := b.Stats().SessionsEvicted; got != uint64(1) {
		t.Fatalf("evicted: got %v, want %v", got, uint64(1))
	}
	hasLog(t, logs, "session limit", "max_sessions", "client=old")
	if got := b.sessions.len(); got != 3 {
		t.Fatalf("sessions: got %v, want %v", got, 3)
	}

	young := dialRaw(t, b)
	if !young.connect(&codec.Connect{ClientID: []byte("young"), CleanStart: false}).SessionPresent {
		t.Fatal("younger offline session kept")
	}

	// All three online: nothing to discard.
	old := dialRaw(t, b)
	ack := old.connect(&codec.Connect{ClientID: []byte("old"), CleanStart: false})
	if ack.ReasonCode != codec.ReasonCode(codec.ConnackServerUnavailable) {
		t.Fatalf("3.1.1 refusal: got %v, want %v", ack.ReasonCode, codec.ReasonCode(codec.ConnackServerUnavailable))
	}
	old.expectClosed(3 * time.Second)
	v5 := dialRaw(t, b)
	if got := v5.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5"), CleanStart: true}).ReasonCode; got != codec.ReasonQuotaExceeded {
		t.Fatalf("v5 refusal: got %v, want %v", got, codec.ReasonQuotaExceeded)
	}
	v5.expectClosed(3 * time.Second)
	if got := b.Stats().SessionsRefused; got != uint64(2) {
		t.Fatalf("refused: got %v, want %v", got, uint64(2))
	}
	hasLog(t, logs, "session limit: CONNECT refused", "client=old")
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "session limit: CONNECT refused") && strings.Contains(line, "client=v5") {
			t.Fatal("a second refusal within a second is not logged")
		}
	}

	// The others are unaffected: a message still goes from new to live.
	nw.publish(&codec.Publish{Topic: []byte("ms/live"), Payload: []byte("hi")})
	if got := string(decodePublish(t, live.mustRead(codec.TypePublish)).Payload); got != "hi" {
		t.Fatalf("got %v, want %v", got, "hi")
	}
	pingOK(t, young)
	// An online client's own id still takes its session over.
	again := dialRaw(t, b)
	if got := again.connect(&codec.Connect{ClientID: []byte("live"), CleanStart: true}).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("takeover at the bound: got %v, want %v", got, codec.ReasonSuccess)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	want := []codec.ReasonCode{codec.ReasonGrantedQoS1, codec.ReasonGrantedQoS0, codec.ReasonQuotaExceeded, codec.ReasonGrantedQoS0}
	if got, w := fmt.Sprint(sa.ReasonCodes), fmt.Sprint(want); got != w {
		t.Fatalf("v5 codes (the last replaces sl/a): got %v, want %v", got, w)
	}

	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("subs-v3"), CleanStart: true})
	if got := v3.subscribe(1, "sl/x", 0).ReasonCodes[0]; got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	if got := v3.subscribe(2, "sl/y", 0).ReasonCodes[0]; got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	if got := v3.subscribe(3, "sl/z", 0).ReasonCodes[0]; got != codec.ReasonCode(codec.SubackFailureV3) {
		t.Fatalf("3.1.1 code: got %v, want %v", got, codec.ReasonCode(codec.SubackFailureV3))
	}
	if got := b.Stats().SubscriptionsRefused; got != uint64(2) {
		t.Fatalf("got %v, want %v", got, uint64(2))
	}
	if got := b.Stats().Subscriptions; got != int64(4) {
		t.Fatalf("got %v, want %v", got, int64(4))
	}
	hasLog(t, logs, "subscription limit", "max_subscriptions_per_client", "client=subs-v5")

	other := dialRaw(t, b)
	other.connect(&codec.Connect{ClientID: []byte("subs-other"), CleanStart: true})
	if got := other.subscribe(1, "sl/c", 0).ReasonCodes[0]; got != codec.ReasonCode(0) {
		t.Fatalf("another client: got %v, want %v", got, codec.ReasonCode(0))
	}
	v3.publish(&codec.Publish{Topic: []byte("sl/c"), Payload: []byte("c")})
	if got := string(decodePublish(t, other.mustRead(codec.TypePublish)).Payload); got != "c" {
		t.Fatalf("got %v, want %v", got, "c")
	}
}

// TestSubscriberIDsExhausted: when the session table has no id left, a
// new subscriber's SUBSCRIBE is refused (not a panic), counted and
// logged, and subscribers that have an id are unaffected.
func TestSubscriberIDsExhausted(t *testing.T) {
	b, logs := startBrokerLogs(t, nil)
	first := dialRaw(t, b)
	first.connect(&codec.Connect{ClientID: []byte("id-first"), CleanStart: true})
	if got := first.subscribe(1, "ids/a", 0).ReasonCodes[0]; got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	b.table.mu.Lock()
	b.table.limit = b.table.next // every id handed out
	b.table.mu.Unlock()

	late := dialRaw(t, b)
	late.connect(&codec.Connect{ClientID: []byte("id-late"), CleanStart: true})
	if got := late.subscribe(1, "ids/a", 0).ReasonCodes[0]; got != codec.ReasonCode(codec.SubackFailureV3) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(codec.SubackFailureV3))
	}
	late5 := dialV5(t, b, "id-late5", nil)
	late5.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("ids/a")}}}))
	var sa codec.Suback
	_, err := codec.DecodeSuback(late5.mustRead(codec.TypeSuback), codec.V5, &sa)
	if err != nil {
		t.Fatal(err)
	}
	if sa.ReasonCodes[0] != codec.ReasonQuotaExceeded {
		t.Fatalf("got %v, want %v", sa.ReasonCodes[0], codec.ReasonQuotaExceeded)
	}
	if got := b.Stats().SubscriptionsRefused; got != uint64(2) {
		t.Fatalf("got %v, want %v", got, uint64(2))
	}
	hasLog(t, logs, "every SubscriberID is in use", "client=id-late")

	if got := first.subscribe(2, "ids/b", 0).ReasonCodes[0]; got != codec.ReasonCode(0) {
		t.Fatalf("a subscriber with an id subscribes more: got %v, want %v", got, codec.ReasonCode(0))
	}
	late.publish(&codec.Publish{Topic: []byte("ids/b"), Payload: []byte("b")})
	if got := string(decodePublish(t, first.mustRead(codec.TypePublish)).Payload); got != "b" {
		t.Fatalf("got %v, want %v", got, "b")
	}
}

// TestSessionTableExhausted: add refuses past the table's ids instead of
// indexing past its chunks, and reuses a released id once quarantined.
func TestSessionTableExhausted(t *testing.T) {
	var tb sessionTable
	tb.limit = 3
	var ids []uint64
	for i := range 3 {
		id, ok := tb.add(&session{clientID: fmt.Sprint(i)})
		if !ok {
			t.Fatal("add", i)
		}
		ids = append(ids, uint64(id))
	}
	if got := fmt.Sprint(ids); got != "[1 2 3]" {
		t.Fatalf("got %v, want %v", got, "[1 2 3]")
	}
	_, ok := tb.add(&session{})
	if ok {
		t.Fatal("add past the limit")
	}
	s := tb.get(2)
	tb.remove(s, 2)
	_, ok = tb.add(&session{})
	if ok {
		t.Fatal("a released id is quarantined")
	}
	tb.free[0].at = time.Now().Add(-2 * idQuarantine)
	id, ok := tb.add(&session{clientID: "reused"})
	if !(ok && id == 2 && tb.get(2).clientID == "reused") {
		t.Fatal("released id reused", id)
	}

	// The real capacity: the last chunk's last slot, then refusal.
	var full sessionTable
	full.next = maxSubscriberIDs - 2
	id, ok = full.add(&session{clientID: "last"})
	if !(ok && id == maxSubscriberIDs-1 && full.get(id).clientID == "last") {
		t.Fatal("last id", id)
	}
	_, ok = full.add(&session{})
	if ok {
		t.Fatal("past 2^24 ids")
	}
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
	if got := pub.readAck(codec.TypePuback).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
	if got := pub.readAck(codec.TypePuback).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
	if got := pub.readAck(codec.TypePuback).ReasonCode; got != codec.ReasonQuotaExceeded {
		t.Fatalf("third topic: got %v, want %v", got, codec.ReasonQuotaExceeded)
	}
	if got := string(decodePublish(t, watch.mustRead(codec.TypePublish)).Topic); got != "rt/a" {
		t.Fatalf("got %v, want %v", got, "rt/a")
	}
	if got := string(decodePublish(t, watch.mustRead(codec.TypePublish)).Topic); got != "rt/b" {
		t.Fatalf("got %v, want %v", got, "rt/b")
	}
	if p, err := watch.read(300 * time.Millisecond); err == nil {
		t.Fatalf("refused PUBLISH delivered: %x", p)
	}
	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("rt-v3"), CleanStart: true})
	v3.publish(&codec.Publish{Topic: []byte("rt/d"), Payload: []byte("d"), Retain: true})
	if got := string(decodePublish(t, watch.mustRead(codec.TypePublish)).Topic); got != "rt/d" {
		t.Fatalf("3.1.1: delivered live: got %v, want %v", got, "rt/d")
	}
	if got := b.Stats().Retained; got != int64(2) {
		t.Fatalf("got %v, want %v", got, int64(2))
	}
	if got := b.Stats().RetainedRefused; got != uint64(2) {
		t.Fatalf("got %v, want %v", got, uint64(2))
	}
	hasLog(t, logs, "retained limit", "max_retained_messages")

	// Replace a (allowed at the bound), clear b, then c fits.
	v5Publish(pub, &codec.Publish{Topic: []byte("rt/a"), Payload: []byte("a2"), QoS: 1, PacketID: 9, Retain: true})
	if got := pub.readAck(codec.TypePuback).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("replace: got %v, want %v", got, codec.ReasonSuccess)
	}
	v5Publish(pub, &codec.Publish{Topic: []byte("rt/b"), QoS: 1, PacketID: 10, Retain: true})
	if got := pub.readAck(codec.TypePuback).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("clear: got %v, want %v", got, codec.ReasonSuccess)
	}
	v5Publish(pub, &codec.Publish{Topic: []byte("rt/c"), Payload: []byte("c"), QoS: 1, PacketID: 11, Retain: true})
	if got := pub.readAck(codec.TypePuback).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("room again: got %v, want %v", got, codec.ReasonSuccess)
	}
	late := dialRaw(t, b)
	late.connect(&codec.Connect{ClientID: []byte("rt-late"), CleanStart: true})
	late.subscribe(1, "rt/#", 0)
	got := map[string]string{}
	for range 2 {
		p := decodePublish(t, late.mustRead(codec.TypePublish))
		got[string(p.Topic)] = string(p.Payload)
	}
	if g := fmt.Sprint(got); g != "map[rt/a:a2 rt/c:c]" {
		t.Fatalf("stored: got %v, want %v", g, "map[rt/a:a2 rt/c:c]")
	}
	if got := b.Stats().RetainedBytes; got != int64(len("rt/a")+2+len("rt/c")+1) {
		t.Fatalf("got %v, want %v", got, int64(len("rt/a")+2+len("rt/c")+1))
	}
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
	if got := send("rb/a", 56, 0); got != codec.ReasonSuccess { // 60 B
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
	if got := send("rb/b", 40, 0); got != codec.ReasonQuotaExceeded {
		t.Fatalf("new topic past the bytes: got %v, want %v", got, codec.ReasonQuotaExceeded)
	}
	if got := send("rb/a", 100, 0); got != codec.ReasonQuotaExceeded {
		t.Fatalf("growing replacement past the bytes: got %v, want %v", got, codec.ReasonQuotaExceeded)
	}
	if got := send("rb/a", 6, 0); got != codec.ReasonSuccess { // 10 B
		t.Fatalf("smaller replacement: got %v, want %v", got, codec.ReasonSuccess)
	}
	if got := send("rb/b", 46, 1); got != codec.ReasonSuccess { // 50 B, expires in 1 s
		t.Fatalf("room again: got %v, want %v", got, codec.ReasonSuccess)
	}
	if got := b.Stats().RetainedBytes; got != int64(60) {
		t.Fatalf("got %v, want %v", got, int64(60))
	}
	hasLog(t, logs, "retained limit", "max_retained_bytes")
	time.Sleep(2100 * time.Millisecond) // past the expiry, at 1 s granularity
	b.sweepRetained()
	if got := b.Stats().RetainedBytes; got != int64(10) {
		t.Fatalf("expired message swept: got %v, want %v", got, int64(10))
	}
	if got := b.Stats().Retained; got != int64(1) {
		t.Fatalf("got %v, want %v", got, int64(1))
	}
	if got := send("rb/a", 0, 0); got != codec.ReasonSuccess {
		t.Fatalf("clear: got %v, want %v", got, codec.ReasonSuccess)
	}
	if got := b.Stats().RetainedBytes; got != int64(0) {
		t.Fatalf("got %v, want %v", got, int64(0))
	}
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
	if st.PublishDropped < st.QueuedBytesDropped {
		t.Fatal("counted as dropped too")
	}
	hasLog(t, logs, "queued bytes limit", "max_queued_bytes", "client=qb-big")

	for _, tc := range []struct {
		id   string
		want int
	}{{id: "qb-big", want: keep}, {id: "qb-small", want: 3}} {
		r := dialRaw(t, b)
		if !r.connect(&codec.Connect{ClientID: []byte(tc.id), CleanStart: false}).SessionPresent {
			t.Fatal("r.connect(&codec.Connect{ClientID: []byte(tc.id), CleanStart: false}).SessionPresent is false")
		}
		for i := range tc.want {
			p := decodePublish(t, r.mustRead(codec.TypePublish))
			if tc.id == "qb-big" {
				if p.Payload[0] != ('a' + byte(i)) {
					t.Fatalf("oldest kept: got %v, want %v", p.Payload[0], 'a'+byte(i))
				}
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
		if !r.connect(&codec.Connect{ClientID: []byte(id), CleanStart: false}).SessionPresent {
			t.Fatal("r.connect(&codec.Connect{ClientID: []byte(id), CleanStart: false}).SessionPresent is false")
		}
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
	if n != kept {
		t.Fatalf("messages the offline sessions kept: got %v, want %v", n, kept)
	}
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
	if (near.written - nearBefore) != (n * len(pkt)) {
		t.Fatalf("same-loop subscriber got every message: got %v, want %v", near.written-nearBefore, n*len(pkt))
	}
	st := hs.b.Stats()
	if !(st.HandoverDropped > 0 && st.HandoverDropped < n) {
		t.Fatal("dropped", st.HandoverDropped)
	}
	kept := n - int(st.HandoverDropped)
	if kept*len(pkt) > 64<<10 {
		t.Fatal("kept within the bound", kept)
	}
	hasLog(t, logs, "hand-over limit", "max_handover_bytes")
	hs.pump()
	if (len(far.out) - farBefore) != (kept * len(pkt)) {
		t.Fatalf("kept messages delivered: got %v, want %v", len(far.out)-farBefore, kept*len(pkt))
	}
	if got := hs.loop(1).in.bytes.Load(); got != int64(0) {
		t.Fatalf("inbox measure after the drain: got %v, want %v", got, int64(0))
	}
	hs.send(pub, pkt)
	hs.pump()
	if (len(far.out) - farBefore) != ((kept + 1) * len(pkt)) {
		t.Fatalf("room again after the drain: got %v, want %v", len(far.out)-farBefore, (kept+1)*len(pkt))
	}
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
			if string(p.Topic) != "dw/dw-2" {
				t.Fatalf("second will at once: got %v, want %v", string(p.Topic), "dw/dw-2")
			}
			if got := b.Stats().DelayedWillsPublished; got != uint64(1) {
				t.Fatalf("got %v, want %v", got, uint64(1))
			}
			if got := b.Stats().DelayedWills; got != int64(1) {
				t.Fatalf("first still waits: got %v, want %v", got, int64(1))
			}
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
	if !(ok && n == 1) {
		t.Fatal("first line", n)
	}
	for i := range 5 {
		ok, _ = lg.allow(now+int64(i), 2)
		if ok {
			t.Fatal("within the period")
		}
	}
	ok, n = lg.allow(now+int64(limitLogEvery), 1)
	if !(ok && n == 11) {
		t.Fatal("next line carries the skipped hits", n)
	}
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
	if got := hs.b.sessions.len(); got != n {
		t.Fatalf("offline sessions: got %v, want %v", got, n)
	}
	if hs.b.sessions.offN != n {
		t.Fatalf("offline list: got %v, want %v", hs.b.sessions.offN, n)
	}
	per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("heap per offline session with 3 subscriptions: %.0f B", per)
	if per >= 2048 {
		t.Fatalf("%.0f B per offline session: revisit MaxSessions' default", per)
	}
}

// bystander checks that a fresh client still gets its own message back.
func bystander(t *testing.T, b *Broker) {
	t.Helper()
	r := dialRaw(t, b)
	if got := r.connect(&codec.Connect{ClientID: []byte("bystander"), CleanStart: true}).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
	r.subscribe(1, "by/stander", 0)
	r.publish(&codec.Publish{Topic: []byte("by/stander"), Payload: []byte("ok")})
	if got := string(decodePublish(t, r.mustRead(codec.TypePublish)).Payload); got != "ok" {
		t.Fatalf("bystander's message: got %v, want %v", got, "ok")
	}
}

// waitStat polls a counter until it reaches want.
func waitStat(t *testing.T, b *Broker, name string, get func(SysStats) uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for get(b.Stats()) < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := get(b.Stats()); got != want {
		t.Fatalf("%v: got %v, want %v", name, got, want)
	}
}

func topicsRefused(s SysStats) uint64 { return s.TopicsRefused }

// deepTopic returns a topic of n levels.
func deepTopic(prefix string, n int) string {
	return prefix + strings.Repeat("/l", n-1)
}

// TestLimitTopicPublish: a PUBLISH topic past max_topic_levels or
// max_topic_length closes a 3.1.1 publisher [MQTT-3.3.5-2] and a v5 QoS 0
// one with DISCONNECT 0x90; v5 QoS 1/2 get PUBACK/PUBREC 0x90 and stay
// connected. The message reaches nobody.
func TestLimitTopicPublish(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxTopicLevels, c.MaxTopicLength = 8, 64 })
	sub := dialRaw(t, b)
	sub.connect(&codec.Connect{ClientID: []byte("watcher"), CleanStart: true})
	sub.subscribe(1, "#", 0)
	cases := []struct {
		name  string
		v5    bool
		qos   byte
		topic string
	}{
		{name: "v3 levels", topic: deepTopic("a", 9)},
		{name: "v3 length", topic: strings.Repeat("x", 65)},
		{name: "v5 qos0 levels", v5: true, topic: deepTopic("a", 9)},
		{name: "v5 qos1 length", v5: true, qos: 1, topic: strings.Repeat("x", 65)},
		{name: "v5 qos2 levels", v5: true, qos: 2, topic: deepTopic("a", 9)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &codec.Publish{Topic: []byte(tc.topic), QoS: tc.qos, Payload: []byte("refused")}
			if tc.qos > 0 {
				p.PacketID = 7
			}
			if !tc.v5 {
				r := dialRaw(t, b)
				r.connect(&codec.Connect{ClientID: []byte("p3"), CleanStart: true})
				r.publish(p)
				r.expectClosed(5 * time.Second)
			} else {
				r := dialV5(t, b, "p5", nil)
				r.write(codec.AppendPublish(nil, codec.V5, p))
				switch tc.qos {
				case 0:
					if got := r.disconnect().ReasonCode; got != codec.ReasonTopicNameInvalid {
						t.Fatalf("DISCONNECT: got %v, want %v", got, codec.ReasonTopicNameInvalid)
					}
					r.expectEOF(5 * time.Second)
				default:
					typ := codec.TypePuback
					if tc.qos == 2 {
						typ = codec.TypePubrec
					}
					a := r.readAck(typ)
					if a.ReasonCode != codec.ReasonTopicNameInvalid {
						t.Fatalf("ack reason: got %v, want %v", a.ReasonCode, codec.ReasonTopicNameInvalid)
					}
					if a.PacketID != uint16(7) {
						t.Fatalf("got %v, want %v", a.PacketID, uint16(7))
					}
					// Still connected: a valid PUBLISH is acknowledged.
					r.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("ok"), QoS: 1, PacketID: 8, Payload: []byte("ok")}))
					if got := r.readAck(codec.TypePuback).ReasonCode; got != codec.ReasonSuccess {
						t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
					}
					if got := string(decodePublish(t, sub.mustRead(codec.TypePublish)).Payload); got != "ok" {
						t.Fatalf("only the valid message: got %v, want %v", got, "ok")
					}
				}
			}
			waitStat(t, b, "topics refused", topicsRefused, uint64(i+1))
		})
	}
	hasLog(t, logs, "topic refused (publish)", "max_topic_levels") // the first: later ones within a second are only counted
	_, err := sub.read(100 * time.Millisecond)
	if err == nil {
		t.Fatal("a refused message was delivered")
	}
	bystander(t, b)
}

// TestLimitTopicSubscribe: a filter past the limits gets SUBACK 0x8F (3.1.1
// 0x80) while the other filters of the packet are granted; a v5
// UNSUBSCRIBE of such a filter gets 0x8F. A shared filter is measured
// without its $share/{group}/ prefix.
func TestLimitTopicSubscribe(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxTopicLevels, c.MaxTopicLength = 8, 64 })

	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("s3"), CleanStart: true})
	r.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{
		{Filter: []byte(deepTopic("a", 9))}, {Filter: []byte("ok/+")}, {Filter: []byte(strings.Repeat("x", 65))},
		{Filter: []byte("$share/g/" + deepTopic("a", 8))},
	}}))
	var ack codec.Suback
	_, err := codec.DecodeSuback(r.mustRead(codec.TypeSuback), codec.V311, &ack)
	if err != nil {
		t.Fatal(err)
	}
	want := []codec.ReasonCode{0x80, 0, 0x80, 0}
	if got, w := fmt.Sprint(ack.ReasonCodes), fmt.Sprint(want); got != w {
		t.Fatalf("v3 SUBACK codes: got %v, want %v", got, w)
	}

	r5 := dialV5(t, b, "s5", nil)
	r5.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 2, Filters: []codec.Subscription{
		{Filter: []byte(deepTopic("b", 9))}, {Filter: []byte("ok5/#")},
	}}))
	_, err = codec.DecodeSuback(r5.mustRead(codec.TypeSuback), codec.V5, &ack)
	if err != nil {
		t.Fatal(err)
	}
	want = []codec.ReasonCode{codec.ReasonTopicFilterInvalid, 0}
	if got, w := fmt.Sprint(ack.ReasonCodes), fmt.Sprint(want); got != w {
		t.Fatalf("v5 SUBACK codes: got %v, want %v", got, w)
	}
	r5.write(codec.AppendUnsubscribe(nil, codec.V5, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{
		[]byte(deepTopic("b", 9)), []byte("ok5/#"),
	}}))
	var un codec.Unsuback
	_, err = codec.DecodeUnsuback(r5.mustRead(codec.TypeUnsuback), codec.V5, &un)
	if err != nil {
		t.Fatal(err)
	}
	want = []codec.ReasonCode{codec.ReasonTopicFilterInvalid, 0}
	if got, w := fmt.Sprint(un.ReasonCodes), fmt.Sprint(want); got != w {
		t.Fatalf("v5 UNSUBACK codes: got %v, want %v", got, w)
	}

	waitStat(t, b, "topics refused", topicsRefused, 4)
	if got := b.Stats().Subscriptions; got != int64(2) { // ok/+ and the shared one
		t.Fatalf("subscriptions kept: got %v, want %v", got, int64(2))
	}
	hasLog(t, logs, "topic refused")
	bystander(t, b)
}

// TestLimitWillTopic: a will topic past the limits refuses the CONNECT:
// v5 CONNACK 0x90, 3.1.1 closed without a CONNACK.
func TestLimitWillTopic(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxTopicLevels = 8 })
	will := func(p *codec.Connect) {
		p.WillFlag, p.WillTopic, p.WillPayload = true, []byte(deepTopic("w", 9)), []byte("gone")
	}

	r := dialRaw(t, b)
	p := &codec.Connect{Version: codec.V5, ClientID: []byte("w5"), CleanStart: true, ProtocolName: []byte("MQTT")}
	will(p)
	if got := r.connect(p).ReasonCode; got != codec.ReasonTopicNameInvalid {
		t.Fatalf("v5 CONNACK: got %v, want %v", got, codec.ReasonTopicNameInvalid)
	}
	r.expectEOF(5 * time.Second)

	r3 := dialRaw(t, b)
	p = &codec.Connect{Version: codec.V311, ClientID: []byte("w3"), CleanStart: true, ProtocolName: []byte("MQTT")}
	will(p)
	r3.write(codec.AppendConnect(nil, p))
	r3.expectEOF(5 * time.Second)

	waitStat(t, b, "topics refused", topicsRefused, 2)
	hasLog(t, logs, "topic refused")
	bystander(t, b)
}

// TestLimitSubscribeFilters: the filters of one SUBSCRIBE past
// max_subscribe_filters are refused one by one (v5 0x97, 3.1.1 0x80) and
// not subscribed; the first ones are granted [MQTT-3.8.4-4].
func TestLimitSubscribeFilters(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxSubscribeFilters = 3 })
	filters := func(prefix string) []codec.Subscription {
		var fs []codec.Subscription
		for i := 0; i < 5; i++ {
			fs = append(fs, codec.Subscription{Filter: fmt.Appendf(nil, "%s/%d", prefix, i), QoS: 1})
		}
		return fs
	}
	r5 := dialV5(t, b, "f5", nil)
	r5.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: filters("v5")}))
	var ack codec.Suback
	_, err := codec.DecodeSuback(r5.mustRead(codec.TypeSuback), codec.V5, &ack)
	if err != nil {
		t.Fatal(err)
	}
	want := []codec.ReasonCode{1, 1, 1, codec.ReasonQuotaExceeded, codec.ReasonQuotaExceeded}
	if got, w := fmt.Sprint(ack.ReasonCodes), fmt.Sprint(want); got != w {
		t.Fatalf("v5 SUBACK: got %v, want %v", got, w)
	}

	r3 := dialRaw(t, b)
	r3.connect(&codec.Connect{ClientID: []byte("f3"), CleanStart: true})
	r3.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1, Filters: filters("v3")}))
	_, err = codec.DecodeSuback(r3.mustRead(codec.TypeSuback), codec.V311, &ack)
	if err != nil {
		t.Fatal(err)
	}
	want = []codec.ReasonCode{1, 1, 1, 0x80, 0x80}
	if got, w := fmt.Sprint(ack.ReasonCodes), fmt.Sprint(want); got != w {
		t.Fatalf("v3 SUBACK: got %v, want %v", got, w)
	}

	if got := b.Stats().Subscriptions; got != int64(6) {
		t.Fatalf("subscriptions: got %v, want %v", got, int64(6))
	}
	waitStat(t, b, "subscribe filters refused", func(s SysStats) uint64 { return s.SubscribeFiltersRefused }, 4)
	hasLog(t, logs, "subscribe filters refused", "max_subscribe_filters")
	// Still connected and subscribed to the first ones.
	r3.publish(&codec.Publish{Topic: []byte("v3/0"), Payload: []byte("in")})
	if got := string(decodePublish(t, r3.mustRead(codec.TypePublish)).Payload); got != "in" {
		t.Fatalf("got %v, want %v", got, "in")
	}
	bystander(t, b)
}

// TestSubscribeDuplicateFiltersRetainedOnce: a SUBSCRIBE naming one filter
// many times walks the retained store once: the later subscription replaces
// the earlier [MQTT-3.8.4-3], each is acknowledged, and the retained
// message comes once, at the QoS of the last one.
func TestSubscribeDuplicateFiltersRetainedOnce(t *testing.T) {
	b := startBroker(t, nil)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("rp"), CleanStart: true})
	pub.publish(&codec.Publish{Topic: []byte("d/x"), QoS: 1, PacketID: 1, Retain: true, Payload: []byte("kept")})
	pub.mustRead(codec.TypePuback)

	cases := []struct{ others, copies int }{
		{others: 0, copies: 3},   // duplicates found by scanning
		{others: 20, copies: 40}, // past retainIdxMin walks: found through the map
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.copies), func(t *testing.T) {
			r := dialRaw(t, b)
			r.connect(&codec.Connect{ClientID: []byte("rs"), CleanStart: true})
			var fs []codec.Subscription
			for i := 0; i < tc.others; i++ {
				fs = append(fs, codec.Subscription{Filter: fmt.Appendf(nil, "z/%d", i)})
			}
			for i := 0; i < tc.copies; i++ {
				fs = append(fs, codec.Subscription{Filter: []byte("d/#")}, codec.Subscription{Filter: []byte("d/+")})
			}
			fs[len(fs)-2].QoS = 1 // the last d/#
			r.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 9, Filters: fs}))
			var ack codec.Suback
			_, err := codec.DecodeSuback(r.mustRead(codec.TypeSuback), codec.V311, &ack)
			if err != nil {
				t.Fatal(err)
			}
			if len(ack.ReasonCodes) != len(fs) {
				t.Fatalf("SUBACK codes: got %v, want %v", len(ack.ReasonCodes), len(fs))
			}
			if ack.ReasonCodes[len(fs)-2] != codec.ReasonCode(1) {
				t.Fatalf("last d/# granted QoS 1: got %v, want %v", ack.ReasonCodes[len(fs)-2], codec.ReasonCode(1))
			}
			// One retained copy per distinct filter: d/# (at QoS 1) and d/+.
			var qos []byte
			for i := 0; i < 2; i++ {
				p := decodePublish(t, r.mustRead(codec.TypePublish))
				if !(p.Retain && string(p.Payload) == "kept") {
					t.Fatal("retained message", p)
				}
				qos = append(qos, p.QoS)
			}
			if got := fmt.Sprint(qos); got != "[1 0]" {
				t.Fatalf("QoS of the d/# and d/+ copies: got %v, want %v", got, "[1 0]")
			}
			if pkt, err := r.read(200 * time.Millisecond); err == nil {
				t.Fatalf("a third retained copy: % x", pkt)
			}
		})
	}
}

// TestRetainedWalkStopsWhenFull: the retained walk of a SUBSCRIBE stops at
// the first message that finds no room in the outbound budget, instead of
// walking (and dropping) every other one.
func TestRetainedWalkStopsWhenFull(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxOutboundBytes = 4096 })
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("many"), CleanStart: true})
	const n = 2000
	for i := 0; i < n; i++ {
		pub.publish(&codec.Publish{Topic: fmt.Appendf(nil, "full/%d", i), Retain: true, Payload: bytes.Repeat([]byte("p"), 100)})
	}
	pub.write(codec.AppendPingreq(nil))
	pub.mustRead(codec.TypePingresp)
	if got := b.Stats().Retained; got != int64(n) {
		t.Fatalf("got %v, want %v", got, int64(n))
	}

	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("greedy"), CleanStart: true})
	r.subscribe(1, "full/#", 0)
	got := 0
	for {
		if _, err := r.read(300 * time.Millisecond); err != nil {
			break
		}
		got++
	}
	if !(got > 10 && got < 100) {
		t.Fatal("retained messages sent within 4 KiB:", got)
	}
	waitStat(t, b, "dropped", func(s SysStats) uint64 { return s.PublishDropped }, 1)
	bystander(t, b)
}

// TestMatchCacheBytes: the per-loop match cache stays within
// match_cache_bytes whatever the topics: many distinct topics empty it
// (counted, logged), and a result or topic too large for it is matched
// each time without being kept. Measured on the Go heap.
func TestMatchCacheBytes(t *testing.T) {
	const limit = 1 << 20
	hs := newHarness(t, 1)
	lb := &syncBuffer{}
	hs.b.log = slog.New(slog.NewTextHandler(lb, nil))
	hs.b.cfg.MatchCacheBytes = limit
	l := hs.loop(0)
	for i := 0; i < 3; i++ {
		f := hs.conn(0, fmt.Sprint("sub", i))
		hs.subscribe(f, "m/#", 0)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	topic := make([]byte, 1000)
	for i := 0; i < 20000; i++ {
		copy(topic, fmt.Sprintf("m/%d/", i))
		r := l.match(topic)
		if len(r.Deliveries) != 3 {
			t.Fatalf("deliveries: got %v, want %v", len(r.Deliveries), 3)
		}
		if l.cacheBytes > limit {
			t.Fatal("cache over its bound:", l.cacheBytes)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("20,000 distinct 1000-byte topics: cache %d entries, %d bytes estimated, heap +%d", len(l.cache), l.cacheBytes, grown)
	if grown >= 2*limit {
		t.Fatal("heap grew by", grown, "for a cache bounded at", limit)
	}
	if hs.b.Stats().MatchCacheClears <= 0 {
		t.Fatal("no clear counted")
	}
	hasLog(t, lb, "match cache emptied", "match_cache_bytes")

	// A topic whose entry would pass limit/64 is matched but not kept.
	n := len(l.cache)
	long := append([]byte("m/"), bytes.Repeat([]byte("y"), limit/64)...)
	if got := len(l.match(long).Deliveries); got != 3 {
		t.Fatalf("deliveries of a long topic: got %v, want %v", got, 3)
	}
	if len(l.cache) != n {
		t.Fatalf("cache entries after a long topic: got %v, want %v", len(l.cache), n)
	}

	// So is a result with many subscribers.
	for i := 0; i < 500; i++ {
		hs.subscribe(hs.conn(0, fmt.Sprint("many", i)), "big/#", 0)
	}
	l.match([]byte("m/warm")) // the subscriptions moved the generation: the cache restarts
	n = len(l.cache)
	if got := len(l.match([]byte("big/one")).Deliveries); got != 500 {
		t.Fatalf("deliveries of a large result: got %v, want %v", got, 500)
	}
	if len(l.cache) != n {
		t.Fatalf("cache entries after a large result: got %v, want %v", len(l.cache), n)
	}
	if got := len(l.match([]byte("big/one")).Deliveries); got != 500 {
		t.Fatalf("matched again: got %v, want %v", got, 500)
	}
}

// TestAliasBytes: broker-assigned topic aliases stop at topic_alias_bytes
// (and skip topics over 1/16 of it): later topics go in full, aliases
// already given keep working, and it is counted and logged once for the
// connection.
func TestAliasBytes(t *testing.T) {
	const budget = 4096
	b, logs := startBrokerLogs(t, func(c *Config) { c.TopicAliasBytes = budget })
	sub := dialV5(t, b, "aliased", func(p *codec.Connect) {
		p.Props.TopicAliasMaximum = 1000
		p.Props.Set(codec.PropTopicAliasMaximum)
	})
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("al/#")}}}))
	sub.mustRead(codec.TypeSuback)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("alpub"), CleanStart: true})

	recv := func() *codec.Publish {
		var p codec.Publish
		_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &p)
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	// Over budget/16: sent in full although there is room.
	pub.publish(&codec.Publish{Topic: append([]byte("al/"), bytes.Repeat([]byte("L"), budget/16)...), Payload: []byte("x")})
	p := recv()
	if p.Props.Has(codec.PropTopicAlias) {
		t.Fatal("a long topic got an alias")
	}

	topic := func(i int) []byte { return fmt.Appendf(nil, "al/%033d", i) } // 36 bytes: 100 with the overhead
	fit := budget / (36 + aliasOverhead)
	for i := 0; i < fit+5; i++ {
		pub.publish(&codec.Publish{Topic: topic(i), Payload: []byte("x")})
		p := recv()
		if want := string(topic(i)); string(p.Topic) != want {
			t.Fatalf("topic sent with its first message: got %v, want %v", string(p.Topic), want)
		}
		if got := p.Props.Has(codec.PropTopicAlias); got != (i < fit) {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("alias for topic", i), got, i < fit)
		}
	}
	// An alias given earlier stands for its topic.
	pub.publish(&codec.Publish{Topic: topic(0), Payload: []byte("x")})
	p = recv()
	if !(len(p.Topic) == 0 && p.Props.TopicAlias == 1) {
		t.Fatal("topic 0 by its alias:", string(p.Topic), p.Props.TopicAlias)
	}

	waitStat(t, b, "topic aliases full", func(s SysStats) uint64 { return s.TopicAliasesFull }, 1)
	hasLog(t, logs, "topic aliases full", "topic_alias_bytes")
	bystander(t, b)
}

// TestLimitUserProperties: a packet with more User Properties than
// max_user_properties is refused: CONNECT (or its will) with CONNACK
// 0x97, anything else with DISCONNECT 0x97; up to the bound they pass.
func TestLimitUserProperties(t *testing.T) {
	b, logs := startBrokerLogs(t, func(c *Config) { c.MaxUserProperties = 4 })
	users := func(n int) []codec.UserProperty {
		u := make([]codec.UserProperty, n)
		for i := range u {
			u[i] = codec.UserProperty{Key: []byte("k"), Value: fmt.Appendf(nil, "%d", i)}
		}
		return u
	}
	sub := dialV5(t, b, "upsub", nil)
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("up/#")}}}))
	sub.mustRead(codec.TypeSuback)

	// Up to the bound: delivered with its properties.
	pub := dialV5(t, b, "uppub", nil)
	p := &codec.Publish{Topic: []byte("up/ok"), QoS: 1, PacketID: 1, Payload: []byte("x")}
	p.Props.User = users(4)
	pub.write(codec.AppendPublish(nil, codec.V5, p))
	if got := pub.readAck(codec.TypePuback).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
	var got codec.Publish
	_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &got)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Props.User) != 4 {
		t.Fatalf("user properties forwarded: got %v, want %v", len(got.Props.User), 4)
	}

	// Past it: PUBLISH and SUBSCRIBE close with DISCONNECT 0x97.
	p.Props.User = users(5)
	pub.write(codec.AppendPublish(nil, codec.V5, p))
	if got := pub.disconnect().ReasonCode; got != codec.ReasonQuotaExceeded {
		t.Fatalf("DISCONNECT after PUBLISH: got %v, want %v", got, codec.ReasonQuotaExceeded)
	}
	pub.expectEOF(5 * time.Second)
	s2 := dialV5(t, b, "upsub2", nil)
	sp := &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("x")}}}
	sp.Props.User = users(5)
	s2.write(codec.AppendSubscribe(nil, codec.V5, sp))
	if got := s2.disconnect().ReasonCode; got != codec.ReasonQuotaExceeded {
		t.Fatalf("DISCONNECT after SUBSCRIBE: got %v, want %v", got, codec.ReasonQuotaExceeded)
	}

	// CONNECT and will properties: CONNACK 0x97.
	for i, mod := range []func(*codec.Connect){
		func(c *codec.Connect) { c.Props.User = users(5) },
		func(c *codec.Connect) {
			c.WillFlag, c.WillTopic, c.WillPayload = true, []byte("w"), []byte("w")
			c.WillProps.User = users(5)
		},
	} {
		r := dialRaw(t, b)
		cp := &codec.Connect{Version: codec.V5, ClientID: fmt.Appendf(nil, "upc%d", i), CleanStart: true}
		mod(cp)
		if got := r.connect(cp).ReasonCode; got != codec.ReasonQuotaExceeded {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("CONNACK", i), got, codec.ReasonQuotaExceeded)
		}
	}
	waitStat(t, b, "user properties refused", func(s SysStats) uint64 { return s.UserPropertiesRefused }, 4)
	hasLog(t, logs, "packet refused: too many user properties", "max_user_properties")
	_, err = sub.read(100 * time.Millisecond)
	if err == nil {
		t.Fatal("a refused message was delivered")
	}
	bystander(t, b)
}

// TestLimitsSys: the counters of the topic, filter, User Property, alias
// and match cache bounds are published under $SYS/broker/.
func TestLimitsSys(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.SysInterval = 100 * time.Millisecond; c.MaxTopicLength = 30 })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("sys"), CleanStart: true})
	r.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{
		{Filter: []byte(strings.Repeat("a", 31))}, {Filter: []byte("$SYS/broker/+/+")},
	}}))
	r.mustRead(codec.TypeSuback)
	seen := map[string]string{}
	deadline := time.Now().Add(5 * time.Second)
	for seen["$SYS/broker/match cache/clears"] == "" && time.Now().Before(deadline) {
		pkt, err := r.read(time.Until(deadline))
		if err != nil {
			t.Fatal(err)
		}
		p := decodePublish(t, pkt)
		seen[string(p.Topic)] = string(p.Payload)
	}
	for _, name := range []string{"topics/refused", "subscribe filters/refused", "user properties/refused",
		"topic aliases/full", "match cache/clears"} {
		_, ok := seen["$SYS/broker/"+name]
		if !ok {
			t.Fatal("missing $SYS/broker/"+name, seen)
		}
	}
	if seen["$SYS/broker/topics/refused"] != "1" {
		t.Fatalf("topics refused: got %v, want %v", seen["$SYS/broker/topics/refused"], "1")
	}
}
