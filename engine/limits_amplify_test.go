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

// Tests of the Limits group of Config: each bound is hit, the client sees
// the reaction, the broker logs it and counts it, and another client is
// still served.

// bystander checks that a fresh client still gets its own message back.
func bystander(t *testing.T, b *Broker) {
	t.Helper()
	r := dialRaw(t, b)
	equal(t, r.connect(&codec.Connect{ClientID: []byte("bystander"), CleanStart: true}).ReasonCode, codec.ReasonSuccess)
	r.subscribe(1, "by/stander", 0)
	r.publish(&codec.Publish{Topic: []byte("by/stander"), Payload: []byte("ok")})
	equal(t, string(decodePublish(t, r.mustRead(codec.TypePublish)).Payload), "ok", "bystander's message")
}

// waitStat polls a counter until it reaches want.
func waitStat(t *testing.T, b *Broker, name string, get func(SysStats) uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for get(b.Stats()) < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	equal(t, get(b.Stats()), want, name)
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
					equal(t, r.disconnect().ReasonCode, codec.ReasonTopicNameInvalid, "DISCONNECT")
					r.expectEOF(5 * time.Second)
				default:
					typ := codec.TypePuback
					if tc.qos == 2 {
						typ = codec.TypePubrec
					}
					a := r.readAck(typ)
					equal(t, a.ReasonCode, codec.ReasonTopicNameInvalid, "ack reason")
					equal(t, a.PacketID, uint16(7))
					// Still connected: a valid PUBLISH is acknowledged.
					r.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("ok"), QoS: 1, PacketID: 8, Payload: []byte("ok")}))
					equal(t, r.readAck(codec.TypePuback).ReasonCode, codec.ReasonSuccess)
					equal(t, string(decodePublish(t, sub.mustRead(codec.TypePublish)).Payload), "ok", "only the valid message")
				}
			}
			waitStat(t, b, "topics refused", topicsRefused, uint64(i+1))
		})
	}
	hasLog(t, logs, "topic refused (publish)", "max_topic_levels") // the first: later ones within a second are only counted
	_, err := sub.read(100 * time.Millisecond)
	check(t, err != nil, "a refused message was delivered")
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
	noErr(t, err)
	want := []codec.ReasonCode{0x80, 0, 0x80, 0}
	equal(t, fmt.Sprint(ack.ReasonCodes), fmt.Sprint(want), "v3 SUBACK codes")

	r5 := dialV5(t, b, "s5", nil)
	r5.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 2, Filters: []codec.Subscription{
		{Filter: []byte(deepTopic("b", 9))}, {Filter: []byte("ok5/#")},
	}}))
	_, err = codec.DecodeSuback(r5.mustRead(codec.TypeSuback), codec.V5, &ack)
	noErr(t, err)
	want = []codec.ReasonCode{codec.ReasonTopicFilterInvalid, 0}
	equal(t, fmt.Sprint(ack.ReasonCodes), fmt.Sprint(want), "v5 SUBACK codes")
	r5.write(codec.AppendUnsubscribe(nil, codec.V5, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{
		[]byte(deepTopic("b", 9)), []byte("ok5/#"),
	}}))
	var un codec.Unsuback
	_, err = codec.DecodeUnsuback(r5.mustRead(codec.TypeUnsuback), codec.V5, &un)
	noErr(t, err)
	want = []codec.ReasonCode{codec.ReasonTopicFilterInvalid, 0}
	equal(t, fmt.Sprint(un.ReasonCodes), fmt.Sprint(want), "v5 UNSUBACK codes")

	waitStat(t, b, "topics refused", topicsRefused, 4)
	equal(t, b.Stats().Subscriptions, int64(2), "subscriptions kept") // ok/+ and the shared one
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
	equal(t, r.connect(p).ReasonCode, codec.ReasonTopicNameInvalid, "v5 CONNACK")
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
	noErr(t, err)
	want := []codec.ReasonCode{1, 1, 1, codec.ReasonQuotaExceeded, codec.ReasonQuotaExceeded}
	equal(t, fmt.Sprint(ack.ReasonCodes), fmt.Sprint(want), "v5 SUBACK")

	r3 := dialRaw(t, b)
	r3.connect(&codec.Connect{ClientID: []byte("f3"), CleanStart: true})
	r3.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1, Filters: filters("v3")}))
	_, err = codec.DecodeSuback(r3.mustRead(codec.TypeSuback), codec.V311, &ack)
	noErr(t, err)
	want = []codec.ReasonCode{1, 1, 1, 0x80, 0x80}
	equal(t, fmt.Sprint(ack.ReasonCodes), fmt.Sprint(want), "v3 SUBACK")

	equal(t, b.Stats().Subscriptions, int64(6), "subscriptions")
	waitStat(t, b, "subscribe filters refused", func(s SysStats) uint64 { return s.SubscribeFiltersRefused }, 4)
	hasLog(t, logs, "subscribe filters refused", "max_subscribe_filters")
	// Still connected and subscribed to the first ones.
	r3.publish(&codec.Publish{Topic: []byte("v3/0"), Payload: []byte("in")})
	equal(t, string(decodePublish(t, r3.mustRead(codec.TypePublish)).Payload), "in")
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
			noErr(t, err)
			equal(t, len(ack.ReasonCodes), len(fs), "SUBACK codes")
			equal(t, ack.ReasonCodes[len(fs)-2], codec.ReasonCode(1), "last d/# granted QoS 1")
			// One retained copy per distinct filter: d/# (at QoS 1) and d/+.
			var qos []byte
			for i := 0; i < 2; i++ {
				p := decodePublish(t, r.mustRead(codec.TypePublish))
				check(t, p.Retain && string(p.Payload) == "kept", "retained message", p)
				qos = append(qos, p.QoS)
			}
			equal(t, fmt.Sprint(qos), "[1 0]", "QoS of the d/# and d/+ copies")
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
	equal(t, b.Stats().Retained, int64(n))

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
	check(t, got > 10 && got < 100, "retained messages sent within 4 KiB:", got)
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
		equal(t, len(r.Deliveries), 3, "deliveries")
		check(t, l.cacheBytes <= limit, "cache over its bound:", l.cacheBytes)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("20,000 distinct 1000-byte topics: cache %d entries, %d bytes estimated, heap +%d", len(l.cache), l.cacheBytes, grown)
	check(t, grown < 2*limit, "heap grew by", grown, "for a cache bounded at", limit)
	check(t, hs.b.Stats().MatchCacheClears > 0, "no clear counted")
	hasLog(t, lb, "match cache emptied", "match_cache_bytes")

	// A topic whose entry would pass limit/64 is matched but not kept.
	n := len(l.cache)
	long := append([]byte("m/"), bytes.Repeat([]byte("y"), limit/64)...)
	equal(t, len(l.match(long).Deliveries), 3, "deliveries of a long topic")
	equal(t, len(l.cache), n, "cache entries after a long topic")

	// So is a result with many subscribers.
	for i := 0; i < 500; i++ {
		hs.subscribe(hs.conn(0, fmt.Sprint("many", i)), "big/#", 0)
	}
	l.match([]byte("m/warm")) // the subscriptions moved the generation: the cache restarts
	n = len(l.cache)
	equal(t, len(l.match([]byte("big/one")).Deliveries), 500, "deliveries of a large result")
	equal(t, len(l.cache), n, "cache entries after a large result")
	equal(t, len(l.match([]byte("big/one")).Deliveries), 500, "matched again")
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
		noErr(t, err)
		return &p
	}
	// Over budget/16: sent in full although there is room.
	pub.publish(&codec.Publish{Topic: append([]byte("al/"), bytes.Repeat([]byte("L"), budget/16)...), Payload: []byte("x")})
	p := recv()
	check(t, !p.Props.Has(codec.PropTopicAlias), "a long topic got an alias")

	topic := func(i int) []byte { return fmt.Appendf(nil, "al/%033d", i) } // 36 bytes: 100 with the overhead
	fit := budget / (36 + aliasOverhead)
	for i := 0; i < fit+5; i++ {
		pub.publish(&codec.Publish{Topic: topic(i), Payload: []byte("x")})
		p := recv()
		equal(t, string(p.Topic), string(topic(i)), "topic sent with its first message")
		equal(t, p.Props.Has(codec.PropTopicAlias), i < fit, "alias for topic", i)
	}
	// An alias given earlier stands for its topic.
	pub.publish(&codec.Publish{Topic: topic(0), Payload: []byte("x")})
	p = recv()
	check(t, len(p.Topic) == 0 && p.Props.TopicAlias == 1, "topic 0 by its alias:", string(p.Topic), p.Props.TopicAlias)

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
	equal(t, pub.readAck(codec.TypePuback).ReasonCode, codec.ReasonSuccess)
	var got codec.Publish
	_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &got)
	noErr(t, err)
	equal(t, len(got.Props.User), 4, "user properties forwarded")

	// Past it: PUBLISH and SUBSCRIBE close with DISCONNECT 0x97.
	p.Props.User = users(5)
	pub.write(codec.AppendPublish(nil, codec.V5, p))
	equal(t, pub.disconnect().ReasonCode, codec.ReasonQuotaExceeded, "DISCONNECT after PUBLISH")
	pub.expectEOF(5 * time.Second)
	s2 := dialV5(t, b, "upsub2", nil)
	sp := &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("x")}}}
	sp.Props.User = users(5)
	s2.write(codec.AppendSubscribe(nil, codec.V5, sp))
	equal(t, s2.disconnect().ReasonCode, codec.ReasonQuotaExceeded, "DISCONNECT after SUBSCRIBE")

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
		equal(t, r.connect(cp).ReasonCode, codec.ReasonQuotaExceeded, "CONNACK", i)
	}
	waitStat(t, b, "user properties refused", func(s SysStats) uint64 { return s.UserPropertiesRefused }, 4)
	hasLog(t, logs, "packet refused: too many user properties", "max_user_properties")
	_, err = sub.read(100 * time.Millisecond)
	check(t, err != nil, "a refused message was delivered")
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
		noErr(t, err)
		p := decodePublish(t, pkt)
		seen[string(p.Topic)] = string(p.Payload)
	}
	for _, name := range []string{"topics/refused", "subscribe filters/refused", "user properties/refused",
		"topic aliases/full", "match cache/clears"} {
		_, ok := seen["$SYS/broker/"+name]
		check(t, ok, "missing $SYS/broker/"+name, seen)
	}
	equal(t, seen["$SYS/broker/topics/refused"], "1", "topics refused")
}
