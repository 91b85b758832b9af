package engine

import (
	"unicode/utf8"
	"unsafe"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/trie"
)

// handlePublish handles an inbound PUBLISH: QoS handshake, retained store
// and fan-out. Loop-only.
func (c *client) handlePublish(pkt []byte) error {
	l := c.l
	p := &l.scratch.pub
	if _, err := codec.DecodePublish(pkt, c.version, p); err != nil {
		return err // [MQTT-3.3.1-4] [MQTT-3.3.2-2] [MQTT-1.5.3-1]
	}
	if int(p.QoS) > l.b.cfg.MaximumQoS {
		return errQoSNotSupported // [MQTT-3.2.2-11] v5: DISCONNECT 0x9B
	}
	rc := codec.ReasonSuccess
	var props *codec.Properties
	// An empty topic takes a v5 alias's, checked when the alias was set.
	if len(p.Topic) > 0 {
		if err := l.b.checkTopic(p.Topic); err != nil {
			c.refuseTopic("publish", err)
			if c.version != codec.V5 || p.QoS == 0 {
				// v5: DISCONNECT 0x90. 3.1.1 has no code to refuse a
				// PUBLISH with: the connection is closed [MQTT-3.3.5-2].
				return errTopicRefused
			}
			rc = codec.ReasonTopicNameInvalid // PUBACK/PUBREC 0x90; not delivered, no alias set
		}
	}
	if c.version == codec.V5 && rc == codec.ReasonSuccess {
		var err error
		if props, rc, err = c.publishV5(p); err != nil {
			return err
		}
	}
	l.st.pubIn++
	allowed := true
	if az := l.b.cfg.Authoriser; az != nil {
		allowed = az.CanPublish(c.clientInfo(), p.Topic, p.QoS, p.Retain) // [MQTT-3.3.5-2]
		if !allowed && rc == codec.ReasonSuccess && c.version == codec.V5 {
			rc = codec.ReasonNotAuthorized // v5 PUBACK/PUBREC 0x87
		}
	}
	dup := false
	if p.QoS == 2 {
		s := c.sess
		s.useExt()
		dup = s.hasInQoS2(p.PacketID)
		if !dup && c.version == codec.V5 && len(s.inQoS2) >= l.b.cfg.ReceiveMaximum {
			return errReceiveMaximum // [MQTT-3.3.4-7] DISCONNECT 0x93
		}
	}
	if p.Retain && allowed && rc < 0x80 && !dup && !l.b.storeRetained(p.Topic, p.Payload, p.QoS, props, false) &&
		c.version == codec.V5 && p.QoS > 0 {
		// Past a retained limit. A v5 QoS 1/2 publisher is told (MQTT 5
		// 3.4.2.1, 0x97): the PUBLISH is refused whole, not delivered, as
		// for any failure code. Others cannot be told: their message
		// still reaches the live subscribers, only not the store.
		rc = codec.ReasonQuotaExceeded
	}
	switch p.QoS {
	case 0:
	case 1:
		// [MQTT-4.3.2-4] PUBACK once we own the message.
		c.pending = c.appendAck(c.pending, codec.TypePuback, p.PacketID, rc)
		l.markDirty(c)
	case 2:
		s := c.sess
		c.pending = c.appendAck(c.pending, codec.TypePubrec, p.PacketID, rc)
		l.markDirty(c)
		if rc >= 0x80 {
			return nil // [MQTT-4.3.3-4] v5: a failed PUBREC ends the flow
		}
		if dup {
			return nil // [MQTT-4.3.3-2] already delivered; only PUBREC again
		}
		s.inQoS2 = append(s.inQoS2, p.PacketID)
	}
	if !allowed || rc >= 0x80 {
		return nil
	}
	congested := l.route(p.Topic, p.Payload, p.QoS, p.Retain, c.sess, props)
	l.thr.afterRoute(c, p.QoS, congested)
	return nil
}

// publishV5 applies the MQTT 5 parts of an inbound PUBLISH: it resolves a
// Topic Alias, checks a payload that says it is UTF-8, and returns the
// properties to forward (nil when there are none) and the reason code of
// the acknowledgement. An error closes the connection with its DISCONNECT
// reason. Loop-only.
func (c *client) publishV5(p *codec.Publish) (*codec.Properties, codec.ReasonCode, error) {
	if err := c.resolveAlias(p); err != nil {
		return nil, 0, err
	}
	rc := codec.ReasonSuccess
	if p.Props.Has(codec.PropPayloadFormat) && p.Props.PayloadFormat == 1 && !utf8.Valid(p.Payload) {
		if p.QoS == 0 {
			return nil, 0, errPayloadFormat // DISCONNECT 0x99
		}
		rc = codec.ReasonPayloadFormatInvalid // PUBACK/PUBREC 0x99
	}
	if len(p.Props.SubscriptionIDs) > 0 {
		return nil, 0, errSubIDFromClient // [MQTT-3.3.4-6] DISCONNECT 0x82
	}
	if p.Retain && !c.l.b.cfg.RetainAvailable {
		return nil, 0, errRetainNotSupported // MQTT 5 3.3.1.3: DISCONNECT 0x9A
	}
	if p.Props.Present == 0 && len(p.Props.User) == 0 {
		return nil, rc, nil
	}
	return &p.Props, rc, nil // [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-20]
}

// resolveAlias maps a v5 Topic Alias to its topic: a PUBLISH with a topic
// and an alias sets the alias, one with an empty topic uses it
// [MQTT-3.3.2-12]. The alias is not forwarded. Loop-only.
func (c *client) resolveAlias(p *codec.Publish) error {
	if !p.Props.Has(codec.PropTopicAlias) {
		if len(p.Topic) == 0 {
			return errTopicAliasUnknown
		}
		return nil
	}
	a := int(p.Props.TopicAlias)
	if a == 0 || a > c.l.b.cfg.TopicAliasMaximum {
		return errTopicAliasInvalid // [MQTT-3.3.2-8] [MQTT-3.3.2-9] [MQTT-3.2.2-17]
	}
	p.Props.Present &^= uint64(1) << codec.PropTopicAlias
	if len(p.Topic) > 0 {
		x := c.x()
		for len(x.aliases) <= a {
			x.aliases = append(x.aliases, nil)
		}
		x.aliases[a] = append(x.aliases[a][:0], p.Topic...)
		return nil
	}
	x := c.ext
	if x == nil || a >= len(x.aliases) || len(x.aliases[a]) == 0 {
		return errTopicAliasUnknown
	}
	p.Topic = x.aliases[a]
	return nil
}

// handleAck handles PUBACK, PUBREC, PUBREL and PUBCOMP. Loop-only.
func (c *client) handleAck(pkt []byte) error {
	l := c.l
	a := &l.scratch.ack
	if _, err := codec.DecodeAck(pkt, c.version, a); err != nil {
		return err // [MQTT-3.6.1-1]
	}
	s := c.sess
	switch a.Type {
	case codec.TypePuback: // [MQTT-4.3.2-3]
		if i := s.findInflight(a.PacketID); i >= 0 && s.inflight[i].qos == 1 {
			s.removeInflight(l, i)
			l.pump(s, c)
		}
	case codec.TypePubrec: // [MQTT-4.3.3-4]
		i := s.findInflight(a.PacketID)
		rc := codec.ReasonSuccess
		if i < 0 || s.inflight[i].qos != 2 {
			rc = codec.ReasonPacketIDNotFound // v5 PUBREL 0x92 [MQTT-3.6.2-1]
		} else {
			if c.version == codec.V5 && a.ReasonCode >= 0x80 {
				s.removeInflight(l, i) // [MQTT-4.4.0-2] v5: a failed PUBREC ends the flow
				l.pump(s, c)
				return nil
			}
			s.inflight[i].state = outReleased
			s.release(l, s.inflight[i].m)
			s.inflight[i].m = nil // [MQTT-4.3.3-6] never re-sent after PUBREL
		}
		c.pending = c.appendAck(c.pending, codec.TypePubrel, a.PacketID, rc)
		l.markDirty(c)
	case codec.TypePubcomp: // [MQTT-4.3.3-5]
		if i := s.findInflight(a.PacketID); i >= 0 && s.inflight[i].state == outReleased {
			s.removeInflight(l, i)
			l.pump(s, c)
		}
	case codec.TypePubrel: // [MQTT-4.3.3-11] [MQTT-4.3.3-12]
		rc := codec.ReasonSuccess
		if !s.hasInQoS2(a.PacketID) {
			rc = codec.ReasonPacketIDNotFound // v5 PUBCOMP 0x92 [MQTT-3.7.2-1]
		}
		s.releaseInQoS2(a.PacketID)
		c.pending = c.appendAck(c.pending, codec.TypePubcomp, a.PacketID, rc)
		l.markDirty(c)
	}
	return nil
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
}

// route delivers a message to every matching subscription [MQTT-4.5.0-1]:
// one delivery per subscriber at the highest matching QoS, capped by the
// published QoS [MQTT-3.3.5-1] [MQTT-3.8.4-6], and one member of each
// matching shared group. Loop-only.
// retain is the RETAIN flag as published, forwarded only to subscriptions
// with Retain As Published [MQTT-3.3.1-12] [MQTT-3.3.1-13]. It reports
// whether a QoS 1/2 delivery met a congested session: the publisher of a
// QoS 1/2 message is throttled then (throttle.go).
func (l *loop) route(topic, payload []byte, qos byte, retain bool, from *session, props *codec.Properties) (congested bool) {
	res := l.match(topic)
	l.seq++
	f := fanout{topic: topic, payload: payload, qos: qos, retain: retain, from: from, props: props, seq: l.seq}
	for i := range res.Deliveries {
		d := &res.Deliveries[i]
		s := l.b.table.get(d.Subscriber)
		if s == nil {
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
	for _, g := range res.Groups {
		// ids: the chosen member's own Subscription Identifier [MQTT-3.3.4-3].
		// A member with room first: a congested one would throttle the
		// publisher while the others idle; if all are congested, any online
		// member.
		sub, ids, ok := g.PickMember(l.b.unloaded)
		if !ok {
			sub, ids, ok = g.PickMember(l.b.online)
		}
		if ok {
			if s := l.b.table.get(sub.Subscriber); s != nil {
				f.group = g
				l.deliverTo(&f, s, min(sub.QoS, qos), ids, sub.RetainAsPublished && retain) // [MQTT-4.8.2-3]
				f.group = nil
			}
		}
	}
	return f.congested
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
		if f.m == nil {
			f.m = newMessageProps(f.topic, f.payload, f.qos, false, f.props, l.b.now())
		}
		if l.deliver(s, f.m, qos, ids, retain, f.group) {
			f.congested = true
		}
		return
	}
	owner := s.owner.Load()
	if owner == nil {
		return // offline: QoS 0 is not queued [MQTT-3.1.2-5]
	}
	if s.aliasing() {
		// Aliases are per connection: the subscriber's loop encodes it.
		if owner == l {
			if c := s.c; c != nil {
				c.writeQoS0Alias(f, ids, retain)
			}
			return
		}
		if f.m == nil {
			f.m = newMessageProps(f.topic, f.payload, f.qos, false, f.props, l.b.now())
		}
		l.deliver(s, f.m, 0, ids, retain, nil)
		return
	}
	if owner == l {
		c := s.c
		if c == nil {
			return
		}
		if (len(ids) > 0 || retain) && c.version == codec.V5 {
			c.writeQoS0(l.encodeQoS0Own(f, ids, retain))
			return
		}
		c.writeQoS0(l.encodeQoS0(f, c.version))
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
			return
		}
		off := int32(len(bt.buf))
		bt.buf = append(bt.buf, enc...)
		bt.items = append(bt.items, item{kind: itemQoS0, fam: byte(fam), s: s, off: off, n: int32(len(enc))})
		return
	}
	last := &bt.last[fam]
	if last.seq != f.seq {
		enc := l.encodeQoS0(f, versionOfFamily(fam))
		if l.full(bt, len(enc)) {
			return // the owner loop lags (MaxHandoverBytes)
		}
		last.off = int32(len(bt.buf))
		bt.buf = append(bt.buf, enc...)
		last.n = int32(len(enc))
		last.seq = f.seq
	} else if l.full(bt, 0) {
		return
	}
	bt.items = append(bt.items, item{kind: itemQoS0, fam: byte(fam), s: s, off: last.off, n: last.n})
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

// deliver hands m to s at qos, wherever s lives: on this loop it is sent or
// queued (deliverLocal), on another loop it joins that loop's batch
// (deliverRemote), offline it is queued under s.mu (deliverOffline). g is
// the shared subscription m goes through (nil if none). It reports whether
// the delivery congested the session it went to: one handed over to an
// owner loop that lags (throttle.go). Loop-only.
func (l *loop) deliver(s *session, m *message, qos byte, ids []uint32, retain bool, g *trie.Group) (congested bool) {
	owner := s.owner.Load()
	if owner == nil {
		// Offline, unless its client came back meanwhile: deliverOffline
		// returns the session's new owner then.
		if owner, congested = l.deliverOffline(s, m, qos, ids, retain, g); owner == nil {
			return congested
		}
	}
	if owner != l {
		return l.deliverRemote(owner, s, m, qos, ids, retain, g)
	}
	l.deliverLocal(s, m, qos, ids, retain, g)
	return false
}

// deliverOffline queues m at qos for s, which has no client, under s.mu
// (QoS 1/2 only) [MQTT-3.1.2-5]. A shared message goes to another live
// member of g instead (shared.go), and it reports whether that congested
// the member's session. When s's client came back before s.mu was taken
// it does nothing and returns s's new owner. Loop-only.
func (l *loop) deliverOffline(s *session, m *message, qos byte, ids []uint32, retain bool, g *trie.Group) (owner *loop, congested bool) {
	if qos == 0 {
		return nil, false
	}
	if g != nil {
		var taken bool
		if taken, congested = l.redirect(s, m, retain, g); taken {
			return nil, congested
		}
	}
	s.mu.Lock()
	owner = s.owner.Load()
	if owner == nil && !s.gone() {
		s.enqueue(l, outMsg{m: m, qos: qos, subIDs: ids, retain: retain, group: g})
	}
	s.mu.Unlock()
	return owner, false
}

// deliverRemote hands m at qos for s over to owner, the loop of s's
// client, in this round's batch for it; a QoS 0 message is dropped when
// owner lags (MaxHandoverBytes). It reports whether the hand-over
// congested s (throttle.go). Loop-only.
func (l *loop) deliverRemote(owner *loop, s *session, m *message, qos byte, ids []uint32, retain bool, g *trie.Group) (congested bool) {
	bt := l.outFor(owner)
	if qos > 0 {
		congested = l.thr.handedIn(s)
	} else if l.full(bt, len(m.topic)+len(m.payload)) {
		return false // the owner loop lags: QoS 0 is dropped (MaxHandoverBytes)
	}
	bt.items = append(bt.items, item{kind: itemMessage, s: s, m: m, qos: qos, ids: ids, retain: retain, group: g})
	return congested
}

// deliverLocal sends m at qos to s's client on this loop, or queues it
// behind the in-flight window or the outbound budget. Loop-only (s's
// owner).
func (l *loop) deliverLocal(s *session, m *message, qos byte, ids []uint32, retain bool, g *trie.Group) {
	c := s.c
	if c == nil || c.state != stateConnected {
		// A closing client (its will being published, before detach):
		// its session keeps the message, and detach hands a shared one
		// to another member (shared.go) [MQTT-3.1.2-8].
		if c != nil && c.state == stateClosed && qos > 0 {
			s.enqueue(l, outMsg{m: m, qos: qos, subIDs: ids, retain: retain, group: g})
		}
		return
	}
	if m.expired(l.b.now()) {
		return // [MQTT-3.3.2-5]
	}
	if qos == 0 {
		if c.overBudget(len(m.topic) + len(m.payload) + 8) {
			l.st.dropped++
			return
		}
		c.appendPublish(m, 0, 0, false, retain, ids)
		return
	}
	s.useExt()
	om := outMsg{m: m, qos: qos, subIDs: ids, retain: retain, group: g}
	if len(s.queue) > 0 || len(s.inflight) >= s.inflightMax(l.b) || c.overBudget(len(m.topic)+len(m.payload)+8) {
		s.enqueue(l, om)
		l.thr.queued(s)
		return
	}
	l.sendNew(s, c, om)
}

// sendNew assigns a packet id to om, records it in flight and writes it
// [MQTT-4.3.2-1] [MQTT-4.3.3-1]. Loop-only (s's owner).
func (l *loop) sendNew(s *session, c *client, om outMsg) {
	om.pid = s.allocPID() // allocates s's QoS state if need be
	om.state = outPublished
	if !c.appendPublish(om.m, om.qos, om.pid, false, om.retain, om.subIDs) {
		return // too large for the client: discarded as if delivered [MQTT-3.1.2-24]
	}
	s.inflight = append(s.inflight, om)
	s.hold(l, om.m)
}

// pump moves queued messages into the in-flight window while it and the
// outbound budget have room. Loop-only (s's owner).
func (l *loop) pump(s *session, c *client) {
	window := s.inflightMax(l.b)
	now := l.b.now()
	moved := 0
	for s.queued() > 0 && len(s.inflight) < window && c.state == stateConnected {
		om := s.queue[0]
		if c.overBudget(len(om.m.topic) + len(om.m.payload) + 8) {
			break
		}
		moved++
		s.release(l, om.m)
		s.queue[0] = outMsg{}
		s.queue = s.queue[1:]
		if len(s.queue) == 0 {
			s.queue = nil
		}
		if om.m.expired(now) {
			continue
		}
		l.sendNew(s, c, om)
	}
	l.thr.pumped(s, moved)
}

// appendPublish encodes m for c, with the Subscription Identifiers ids for
// a v5 client [MQTT-3.3.4-3]. It reports false, writing nothing, when
// the packet would exceed the client's Maximum Packet Size. Loop-only.
func (c *client) appendPublish(m *message, qos byte, pid uint16, dup, retain bool, ids []uint32) bool {
	p := codec.Publish{Topic: m.topic, Payload: m.payload, QoS: qos, PacketID: pid, Dup: dup && qos > 0, Retain: retain}
	if m.hasProps && c.version == codec.V5 {
		p.Props = m.props
		if m.expireAt != 0 {
			// [MQTT-3.3.2-6] what is left, rounded up so it never reads 0.
			left := (m.expireAt - c.l.b.now() + 1e9 - 1) / 1e9
			p.Props.MessageExpiry = uint32(max(left, 1))
		}
	}
	if len(ids) > 0 && c.version == codec.V5 {
		p.Props.SubscriptionIDs = ids
	}
	added := c.aliasTopic(&p)
	n := len(c.pending)
	c.pending = codec.AppendPublish(c.pending, c.version, &p)
	if limit := c.maxOut(); limit > 0 && len(c.pending)-n > limit {
		c.pending = c.pending[:n] // [MQTT-3.1.2-24]
		c.unalias(m.topic, added)
		c.l.st.dropped++
		return false
	}
	c.l.st.msgsOut++
	c.l.st.pubOut++
	c.l.st.bytesOut += uint64(len(c.pending) - n)
	c.l.markDirty(c)
	return true
}

// publishWill publishes a will as if its client had sent it
// [MQTT-3.1.2-8] [MQTT-3.1.2-16] [MQTT-3.1.2-17]. Loop-only.
func (l *loop) publishWill(w *message) {
	var props *codec.Properties
	if w.hasProps {
		props = &w.props // its expiry starts now
	}
	if w.retain {
		l.b.storeRetained(w.topic, w.payload, w.qos, props, false) // past a limit: delivered, not stored
	}
	l.route(w.topic, w.payload, w.qos, w.retain, nil, props)
}
