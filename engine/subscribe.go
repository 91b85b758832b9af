package engine

import (
	"strings"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
	"github.com/gust-mqtt/gust/trie"
)

// handleSubscribe adds each filter to the session and the trie and answers
// one SUBACK with a code per filter in order [MQTT-3.8.4-1] [MQTT-3.8.4-4]
// [MQTT-3.9.3-1]; then it sends the retained messages of the new
// subscriptions [MQTT-3.3.1-6], walking the retained store once per
// distinct filter. The filters past Config.MaxSubscribeFilters are refused
// one by one (SUBACK 0x97 Quota exceeded, 3.1.1 0x80): the packet is still
// handled as a sequence of SUBSCRIBEs [MQTT-3.8.4-4], only the ones past
// the bound fail. Loop-only.
func (c *client) handleSubscribe(pkt []byte) error {
	l := c.l
	p := &l.scratch.sub
	if _, err := codec.DecodeSubscribe(pkt, c.version, p); err != nil {
		return err // [MQTT-3.8.1-1] [MQTT-3.8.3-4]
	}
	defer l.trimSubScratch()
	if c.version == codec.V5 && len(p.Props.SubscriptionIDs) > 0 && !l.b.cfg.SubIDAvailable {
		// CONNACK said Subscription Identifiers Available 0 (MQTT 5
		// 3.2.2.3.12): a protocol error, DISCONNECT 0xA1.
		return errSubIDsNotSupported
	}
	s := c.sess
	codes := l.scratch.codes[:0]
	newFrom := len(l.scratch.retainQ)
	maxFilters := l.b.cfg.MaxSubscribeFilters
	for i := range p.Filters {
		f := &p.Filters[i]
		if i >= maxFilters {
			codes = append(codes, failCode(c.version, codec.ReasonQuotaExceeded))
			continue
		}
		rc, existed := c.subscribe(s, f)
		codes = append(codes, rc)
		if rc < 0x80 && f.RetainHandling == 0 || rc < 0x80 && f.RetainHandling == 1 && !existed {
			// [MQTT-3.8.4-3] v311: a replaced subscription re-sends retained.
			l.queueRetained(newFrom, f.Filter, byte(rc))
		}
	}
	if n := len(p.Filters) - maxFilters; n > 0 {
		c.refuseFilters(n)
	}
	l.scratch.codes = codes
	ack := codec.Suback{PacketID: p.PacketID, ReasonCodes: codes} // [MQTT-3.8.4-2]
	c.problem(&ack.Props, codes)
	if s.durable() && l.dur != nil {
		l.hold(c) // the SUBACK waits for the store (durable.go)
	}
	c.pending = codec.AppendSuback(c.pending, c.version, &ack)
	l.markDirty(c)
	var ids []uint32
	if c.version == codec.V5 && len(p.Props.SubscriptionIDs) > 0 && len(l.scratch.retainQ) > newFrom {
		// The retained messages carry the identifier of the SUBSCRIBE that
		// caused them [MQTT-3.3.4-3]; a copy, since p is decode scratch and
		// a queued message keeps it.
		ids = []uint32{p.Props.SubscriptionIDs[0]}
	}
	for _, r := range l.scratch.retainQ[newFrom:] {
		l.sendRetained(c, r.filter, r.qos, ids)
	}
	clear(l.scratch.retainQ)
	l.scratch.retainQ = l.scratch.retainQ[:0]
	l.scratch.retainIdx = nil
	if n := l.b.cluster.Load(); n != nil {
		c.shareSession(n) // for the node that takes it over (cluster_session.go)
	}
	return nil
}

// retainReq is one subscription whose retained messages must be sent.
type retainReq struct {
	filter string
	qos    byte
}

// retainIdxMin is the number of retained walks queued for one SUBSCRIBE
// past which queueRetained finds duplicates through a map rather than by
// scanning.
const retainIdxMin = 16

// queueRetained queues the retained walk of filter at qos for the
// SUBSCRIBE whose walks start at l.scratch.retainQ[from]. A filter already
// queued by this packet is walked once: as if the SUBSCRIBEs came one after
// the other, the later subscription replaces the earlier [MQTT-3.8.4-3], so
// its granted QoS applies, and the messages are not sent twice. Loop-only.
func (l *loop) queueRetained(from int, filter []byte, qos byte) {
	sc := &l.scratch
	q := sc.retainQ[from:]
	if len(q) < retainIdxMin {
		for i := range q {
			if q[i].filter == string(filter) {
				q[i].qos = qos
				return
			}
		}
	} else {
		if sc.retainIdx == nil {
			sc.retainIdx = make(map[string]int, 2*len(q))
			for i := range q {
				sc.retainIdx[q[i].filter] = i
			}
		}
		if i, ok := sc.retainIdx[string(filter)]; ok {
			q[i].qos = qos
			return
		}
		sc.retainIdx[string(filter)] = len(q)
	}
	sc.retainQ = append(sc.retainQ, retainReq{filter: string(filter), qos: qos})
}

// maxKeptFilters bounds the capacity the SUBSCRIBE and UNSUBSCRIBE decode
// scratch and the reason code scratch keep after a packet, so that one
// packet with many filters does not pin their memory.
const maxKeptFilters = 1024

// trimSubScratch drops decode scratch grown past maxKeptFilters. Loop-only.
func (l *loop) trimSubScratch() {
	if cap(l.scratch.sub.Filters) > maxKeptFilters {
		l.scratch.sub.Filters = nil
	}
	if cap(l.scratch.unsub.Filters) > maxKeptFilters {
		l.scratch.unsub.Filters = nil
	}
	if cap(l.scratch.codes) > maxKeptFilters {
		l.scratch.codes = nil
	}
	if cap(l.scratch.retainQ) > maxKeptFilters {
		l.scratch.retainQ = nil
	}
}

// subscribe adds one filter for s and returns its SUBACK code and whether
// it replaced an existing subscription. Loop-only.
func (c *client) subscribe(s *session, f *codec.Subscription) (codec.ReasonCode, bool) {
	b := c.l.b
	full := string(f.Filter)
	group, filter, shared, err := trie.ParseShared(full)
	if err == nil {
		// filter is a suffix of full: checked in place.
		if err = b.checkTopic(f.Filter[len(full)-len(filter):]); err != nil {
			c.refuseTopic("subscribe", err)
		}
	}
	if err == nil {
		err = trie.ValidTopicFilter([]byte(filter))
	}
	if err != nil {
		return failCode(c.version, codec.ReasonTopicFilterInvalid), false // 0x80 in 3.1.1 [MQTT-3.9.3-2]
	}
	if shared && !b.cfg.SharedSubAvailable {
		// CONNACK said Shared Subscription Available 0 (MQTT 5 3.2.2.3.13).
		return failCode(c.version, codec.ReasonSharedSubscriptionsNotSupported), false
	}
	if !b.cfg.WildcardSubAvailable && strings.ContainsAny(filter, "+#") {
		// v3.1.1 [MQTT-3.8.3-2]; v5: CONNACK said Wildcard Subscription
		// Available 0 (MQTT 5 3.2.2.3.11), SUBACK 0xA2.
		return failCode(c.version, codec.ReasonWildcardSubscriptionsNotSupported), false
	}
	grant := c.maySubscribe(filter, f) // ACL and Authoriser (aclcheck.go)
	if grant == subRefused {
		return failCode(c.version, b.aclDenyCode()), false
	}
	qos := min(f.QoS, byte(b.cfg.MaximumQoS)) // [MQTT-3.2.2-10] accepted, granted at most MaximumQoS
	// The subscriber state and its id exist before a producer can match s
	// (subState).
	st := s.subscriber()
	if len(st.subs.list) >= b.cfg.MaxSubscriptionsPerClient && st.subs.find(f.Filter) < 0 {
		b.limits.subsRefused.Add(1)
		b.logLimit(&b.limits.logSubs, 1, "subscription limit: SUBSCRIBE filter refused",
			"max_subscriptions_per_client", b.cfg.MaxSubscriptionsPerClient, s.clientID)
		return failCode(c.version, codec.ReasonQuotaExceeded), false // 0x80 in 3.1.1 [MQTT-3.9.3-2]
	}
	if st.id == 0 {
		id, ok := b.table.add(s)
		if !ok {
			b.limits.subsRefused.Add(1)
			b.logLimit(&b.limits.logSubs, 1, "subscriber limit: every SubscriberID is in use, SUBSCRIBE filter refused",
				"subscriber_ids", maxSubscriberIDs-1, s.clientID)
			return failCode(c.version, codec.ReasonQuotaExceeded), false
		}
		st.id = id
	}
	sub := trie.Subscription{
		Subscriber: st.id, Filter: filter, Group: group, QoS: qos,
		NoLocal: f.NoLocal, RetainAsPublished: f.RetainAsPublished, RetainHandling: f.RetainHandling,
	}
	if c.version == codec.V5 && len(c.l.scratch.sub.Props.SubscriptionIDs) > 0 {
		sub.Identifier = c.l.scratch.sub.Props.SubscriptionIDs[0]
	}
	if grant == subChecked {
		c.checkReads(st) // before the trie can match it
	}
	existed, err := b.subscribeTrie(sub) // [MQTT-3.8.4-3] replaces the same filter
	if err != nil {
		return failCode(c.version, codec.ReasonTopicFilterInvalid), false
	}
	if !st.subs.put(subEntry{full: full, sub: sub}) {
		b.subCount.Add(1)
	}
	if s.durable() && c.l.dur != nil {
		c.l.dur.batch().PutSubscription(&persist.Subscription{ClientID: s.clientID, Filter: f.Filter, QoS: qos,
			NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling, ID: sub.Identifier})
	}
	return codec.ReasonCode(qos), existed // [MQTT-3.8.4-5] granted QoS
}

// failCode maps a v5 SUBACK failure code to the 3.1.1 failure code 0x80
// when the client speaks 3.1/3.1.1 [MQTT-3.9.3-2].
func failCode(v codec.Version, rc codec.ReasonCode) codec.ReasonCode {
	if v == codec.V5 {
		return rc
	}
	return codec.ReasonCode(codec.SubackFailureV3)
}

// handleUnsubscribe removes exactly matching filters [MQTT-3.10.4-1] and
// always answers UNSUBACK [MQTT-3.10.4-4] [MQTT-3.10.4-5]. Messages already
// in flight still complete [MQTT-3.10.4-3]. Loop-only.
func (c *client) handleUnsubscribe(pkt []byte) error {
	l := c.l
	p := &l.scratch.unsub
	if _, err := codec.DecodeUnsubscribe(pkt, c.version, p); err != nil {
		return err // [MQTT-3.10.1-1]
	}
	s := c.sess
	st := s.sub.Load() // nil: s never subscribed
	b := l.b
	codes := l.scratch.codes[:0]
	for _, f := range p.Filters {
		rc := codec.ReasonNoSubscriptionExisted
		i := -1
		if st != nil {
			i = st.subs.find(f)
		}
		if i >= 0 {
			e := &st.subs.list[i]
			b.unsubscribeTrie(st.id, e.sub.Filter, e.sub.Group) // [MQTT-3.10.4-2]
			if s.durable() && l.dur != nil {
				l.dur.batch().DeleteSubscription(s.clientID, f)
			}
			st.subs.remove(i)
			b.subCount.Add(-1)
			rc = codec.ReasonSuccess
		} else if err := b.checkTopic(f); err != nil {
			// Never subscribed, as it could not be; v5 says why (0x8F).
			c.refuseTopic("unsubscribe", err)
			rc = codec.ReasonTopicFilterInvalid
		}
		codes = append(codes, rc)
	}
	l.scratch.codes = codes
	defer l.trimSubScratch()
	ack := codec.Unsuback{PacketID: p.PacketID, ReasonCodes: codes}
	if s.durable() && l.dur != nil {
		l.hold(c) // the UNSUBACK waits for the store (durable.go)
	}
	c.pending = codec.AppendUnsuback(c.pending, c.version, &ack)
	l.markDirty(c)
	if n := b.cluster.Load(); n != nil {
		c.shareSession(n)
	}
	return nil
}

// sendRetained delivers the retained messages matching filter to c with
// the retain flag set [MQTT-3.3.1-6] [MQTT-3.3.1-8], at the lower of their
// QoS and the granted one, with the Subscription Identifiers ids of the
// SUBSCRIBE that caused them [MQTT-3.3.4-3] (immutable, nil for none).
// The walk stops at the first message that finds no room (outbound budget
// for QoS 0, session queue for QoS 1/2): the rest would be dropped too, and
// walking them would hold the loop for nothing. Loop-only.
func (l *loop) sendRetained(c *client, full string, granted byte, ids []uint32) {
	_, filter, _, err := trie.ParseShared(full)
	if err != nil || len(filter) != len(full) {
		return // shared subscriptions get no retained messages (v5 3.8.4)
	}
	s := c.sess
	now := l.b.now()
	a := l.b.acl.Load()
	l.b.retained.Match([]byte(filter), func(_ string, m *message) bool {
		if m.expired(now) {
			return true // [MQTT-3.3.2-5]
		}
		if !l.mayDeliver(a, s, m.topic) {
			return true
		}
		qos := min(m.qos, granted)
		over := c.overBudget(len(m.topic) + len(m.payload) + 8)
		if qos == 0 {
			if over {
				l.st.dropped++
				return false
			}
			c.appendPublish(m, 0, 0, false, true, ids)
			return true
		}
		s.useExt()
		om := outMsg{m: m, qos: qos, retain: true, subIDs: ids}
		if over || len(s.queue) > 0 || len(s.inflight) >= s.inflightMax(l.b) {
			if !s.enqueue(l, om) {
				return false // counted by enqueue
			}
			return true
		}
		l.sendNew(s, c, om)
		return true
	})
}
