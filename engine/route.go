package engine

import (
	"unsafe"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/trie"
)

// Routing: the per-loop match cache, the fan-out of one message to its
// subscribers, and the QoS 0 wire forms shared by them.

// matchCache holds a loop's match results by topic (match), emptied when
// the trie's generation moves or cacheBytes, their estimated size, would
// pass Config.MatchCacheBytes. Loop-only.
type matchCache struct {
	cache      map[string]*trie.Result
	cacheGen   uint64
	cacheBytes int
}

// match returns the subscribers of topic from the loop's cache, filling it
// from the trie on a miss. The cache is dropped whenever the trie's
// generation moves (STYLE.md §5.5), and emptied when its estimated size
// would pass Config.MatchCacheBytes; a result larger than 1/64 of that is
// not cached but matched again each time, so that neither many distinct
// topics nor results with many subscribers make the cache hold more. The
// result is valid until the next call and must not be modified. Loop-only.
func (l *loop) match(topic []byte) *trie.Result {
	t := l.b.trie
	if gen := t.Generation(); gen != l.cacheGen {
		clear(l.cache)
		l.cacheBytes = 0
		l.cacheGen = gen
	}
	if r, ok := l.cache[string(topic)]; ok { // no allocation for the lookup key
		return r
	}
	t.Match(topic, &l.scratch.res)
	limit := l.b.cfg.MatchCacheBytes
	size, ids := cacheEntryBytes(topic, &l.scratch.res)
	if size > limit/64 {
		if ids {
			// Identifiers outlive the next Match: hand-over items and
			// session queues keep them.
			return l.scratch.res.Clone()
		}
		return &l.scratch.res
	}
	if l.cacheBytes+size > limit {
		// A new map: clear would keep the old one's slots.
		l.cache = make(map[string]*trie.Result)
		l.cacheBytes = 0
		l.b.limits.cacheClears.Add(1)
		l.b.infoLimit(&l.b.limits.logCache, "match cache emptied", "match_cache_bytes", limit, "")
	}
	r := l.scratch.res.Clone()
	l.cache[string(topic)] = r
	l.cacheBytes += size
	return r
}

// cacheEntryOverhead is what a cache entry costs besides its topic and
// result slices: a map slot (key header, value pointer, control byte, at
// the map's load factor) and the Result.
const cacheEntryOverhead = 64 + int(unsafe.Sizeof(trie.Result{}))

// cacheEntryBytes estimates the bytes a cached clone of r under topic
// holds, and reports whether r has Subscription Identifiers.
func cacheEntryBytes(topic []byte, r *trie.Result) (n int, ids bool) {
	n = len(topic) + cacheEntryOverhead +
		len(r.Deliveries)*int(unsafe.Sizeof(trie.Delivery{})) + len(r.Groups)*int(unsafe.Sizeof((*trie.Group)(nil)))
	for i := range r.Deliveries {
		if k := len(r.Deliveries[i].Identifiers); k > 0 {
			n += 4 * k
			ids = true
		}
	}
	return n, ids
}

// fanout carries one message through route.
type fanout struct {
	topic, payload []byte
	qos            byte
	retain         bool // RETAIN as published, for Retain As Published subscriptions
	from           *session
	props          *codec.Properties // v5 properties to forward, nil if none
	m              *message          // built lazily for QoS 1/2 deliveries
	enc            [2][]byte         // QoS 0 wire form per version family (v3, v5); nil until built
	seq            uint64            // identifies this message in hand-over batches
	// group is the shared subscription of the delivery being made, nil
	// for a non-shared one; set around deliverTo so that the non-shared
	// fan-out loop passes one argument less.
	group *trie.Group
	// congested is set once a QoS 1/2 delivery met a congested session
	// (throttle.go); route returns it.
	congested bool
	// n0 counts the QoS 0 deliveries to online subscribers, busy0 those
	// whose subscriber was congested (QoS 0 backpressure, throttle.go).
	n0, busy0 int
	// prev is what endStore restores once m was built (durqueue.go).
	prev *message
}

// route delivers a message to every matching subscription [MQTT-4.5.0-1]:
// one delivery per subscriber at the highest matching QoS, capped by the
// published QoS [MQTT-3.3.5-1] [MQTT-3.8.4-6], and one member of each
// matching shared group. Loop-only.
// retain is the RETAIN flag as published, forwarded only to subscriptions
// with Retain As Published [MQTT-3.3.1-12] [MQTT-3.3.1-13]. It reports
// whether a QoS 1/2 delivery met a congested session, or every QoS 0 one
// a congested subscriber (with Config.QoS0Backpressure): the publisher is
// throttled then (throttle.go).
func (l *loop) route(topic, payload []byte, qos byte, retain bool, from *session, props *codec.Properties) (congested bool) {
	res := l.match(topic)
	groupsHere := l.groupsHere
	l.groupsHere = false
	l.seq++
	f := fanout{topic: topic, payload: payload, qos: qos, retain: retain, from: from, props: props, seq: l.seq}
	acl := l.b.acl.Load()
	for i := range res.Deliveries {
		d := &res.Deliveries[i]
		s := l.b.table.get(d.Subscriber)
		if s == nil || acl != nil && !l.mayDeliver(acl, s, topic) {
			continue
		}
		q := d.QoS
		if s == from {
			if !d.Local {
				continue // [MQTT-3.8.3-3] v5 No Local
			}
			q = d.LocalQoS
		}
		l.deliverTo(&f, s, min(q, qos), d.Identifiers, d.RetainAsPublished && retain)
	}
	if len(res.Groups) > 0 && (groupsHere || !l.groupsByCluster(topic)) {
		for _, g := range res.Groups {
			l.deliverGroup(&f, g, acl)
		}
	}
	if f.m != nil {
		l.endStore(f.m, f.prev, true)
	}
	if f.busy0 > 0 && f.busy0 == f.n0 && l.b.cfg.QoS0Backpressure {
		return true // every subscriber of a QoS 0 message is congested
	}
	return f.congested
}

// deliverGroup delivers f to one member of the shared group g. Loop-only.
func (l *loop) deliverGroup(f *fanout, g *trie.Group, acl *ACL) {
	// ids: the chosen member's own Subscription Identifier [MQTT-3.3.4-3].
	// A member with room first: a congested one would throttle the
	// publisher while the others idle; if all are congested, any online
	// member; if none is online, any member.
	sub, ids, ok := g.PickMember(l.b.unloaded)
	if !ok {
		sub, ids, ok = g.PickMember(l.b.online)
	}
	if !ok && f.qos > 0 {
		// No member is online: a persistent one keeps it for its
		// return (deliverOffline queues what is not QoS 0).
		sub, ids, ok = g.PickMember(nil)
	}
	if ok {
		if s := l.b.table.get(sub.Subscriber); s != nil && (acl == nil || l.mayDeliver(acl, s, f.topic)) {
			f.group = g
			l.deliverTo(f, s, min(sub.QoS, f.qos), ids, sub.RetainAsPublished && f.retain) // [MQTT-4.8.2-3]
			f.group = nil
		}
	}
}

// message returns f's message record, built on first use; l may store it
// until the route ends (durqueue.go). Loop-only.
func (f *fanout) message(l *loop) *message {
	if f.m == nil {
		f.m = newMessageProps(f.topic, f.payload, f.qos, false, f.props, l.b.now())
		f.prev = l.beginStore(f.m)
	}
	return f.m
}

// deliverTo sends f to s at qos with the Subscription Identifiers ids and
// the RETAIN flag retain (both v5). QoS 0 goes as shared pre-encoded bytes
// (encoded for s alone when it has identifiers or retain); QoS 1/2 as a
// message record through the session, with f.group, noting in
// f.congested whether it met congestion. Loop-only.
func (l *loop) deliverTo(f *fanout, s *session, qos byte, ids []uint32, retain bool) {
	if qos > 0 {
		if !f.congested && s.throttles() { // one is enough: skip the clock
			f.congested = true
		}
		if l.deliverRouted(s, f.message(l), qos, ids, retain, f.group) {
			f.congested = true
		}
		return
	}
	owner := s.owner.Load()
	if owner == nil {
		return // offline: QoS 0 is not queued [MQTT-3.1.2-5]
	}
	f.n0++
	if s.aliasing() {
		// Aliases are per connection: the subscriber's loop encodes it.
		if owner == l {
			if c := s.c; c != nil {
				c.writeQoS0Alias(f, ids, retain)
			}
			return
		}
		l.deliver(s, f.message(l), 0, ids, retain, nil, 0)
		return
	}
	if owner == l {
		c := s.c
		if c == nil {
			return
		}
		var busy bool
		if (len(ids) > 0 || retain) && c.version == codec.V5 {
			busy = c.writeQoS0(l.encodeQoS0Own(f, ids, retain))
		} else {
			busy = c.writeQoS0(l.encodeQoS0(f, c.version))
		}
		if busy {
			f.busy0++
		}
		return
	}
	// Another loop: copy the wire bytes into its batch once per message and
	// point every item for that loop at them (STYLE.md §5.7).
	bt := l.outFor(owner)
	fam := family(verOf(s))
	if (len(ids) > 0 || retain) && fam == 1 {
		// Its own wire form: not shared, so bt.last is left alone.
		enc := l.encodeQoS0Own(f, ids, retain)
		if l.full(bt, len(enc)) {
			f.busy0++
			return
		}
		off := int32(len(bt.buf))
		bt.buf = append(bt.buf, enc...)
		bt.items = append(bt.items, item{kind: itemQoS0, fam: byte(fam), s: s, off: off, n: int32(len(enc))})
		if owner.lags0() || s.busy0() {
			f.busy0++
		}
		return
	}
	last := &bt.last[fam]
	if last.seq != f.seq {
		enc := l.encodeQoS0(f, versionOfFamily(fam))
		if l.full(bt, len(enc)) {
			f.busy0++
			return // the owner loop lags (MaxHandoverBytes)
		}
		last.off = int32(len(bt.buf))
		bt.buf = append(bt.buf, enc...)
		last.n = int32(len(enc))
		last.seq = f.seq
	} else if l.full(bt, 0) {
		f.busy0++
		return
	}
	bt.items = append(bt.items, item{kind: itemQoS0, fam: byte(fam), s: s, off: last.off, n: last.n})
	if owner.lags0() || s.busy0() {
		f.busy0++
	}
}

// verOf guesses the protocol version of a session owned by another loop.
// It reads only the immutable-while-online version field.
func verOf(s *session) codec.Version {
	return codec.Version(byte(s.peer.Load()))
}

// family maps a version to its PUBLISH wire form: 0 for 3.1/3.1.1, 1 for 5.
func family(v codec.Version) int {
	if v == codec.V5 {
		return 1
	}
	return 0
}

func versionOfFamily(f int) codec.Version {
	if f == 1 {
		return codec.V5
	}
	return codec.V311
}

// encodeQoS0 returns f's QoS 0 wire form for version v, encoding it on first
// use into the loop's scratch buffers. Valid until the next route.
func (l *loop) encodeQoS0(f *fanout, v codec.Version) []byte {
	fam := family(v)
	if f.enc[fam] == nil {
		p := codec.Publish{Topic: f.topic, Payload: f.payload} // [MQTT-3.3.1-9] retain 0, [MQTT-4.3.1-1] DUP 0
		if fam == 1 && f.props != nil {
			p.Props = *f.props // forwarded as received; it has not waited [MQTT-3.3.2-6]
		}
		l.scratch.encs[fam] = codec.AppendPublish(l.scratch.encs[fam][:0], v, &p)
		f.enc[fam] = l.scratch.encs[fam]
	}
	return f.enc[fam]
}

// encodeQoS0Own returns f's v5 QoS 0 wire form for one subscriber: with
// the Subscription Identifiers ids [MQTT-3.3.4-3] and RETAIN as published
// [MQTT-3.3.1-13], encoded into loop scratch. Valid until the next call.
func (l *loop) encodeQoS0Own(f *fanout, ids []uint32, retain bool) []byte {
	p := codec.Publish{Topic: f.topic, Payload: f.payload, Retain: retain}
	if f.props != nil {
		p.Props = *f.props
	}
	p.Props.SubscriptionIDs = ids
	l.scratch.encID = codec.AppendPublish(l.scratch.encID[:0], codec.V5, &p)
	return l.scratch.encID
}
