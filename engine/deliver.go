package engine

import (
	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
	"github.com/gust-mqtt/gust/trie"
)

// Delivery of a message to one session, by where the session is: on this
// loop, on another loop, or offline; and the in-flight window.

// deliverRouted is deliver for a message just routed here: a QoS 1/2
// one to a session whose earlier deliveries are still on their way to
// another loop follows them there (inTransit). Loop-only.
func (l *loop) deliverRouted(s *session, m *message, qos byte, ids []uint32, retain bool, g *trie.Group) (congested bool) {
	if qos > 0 {
		if via := l.inTransit(s); via != nil {
			om := outMsg{m: m, qos: qos, subIDs: ids, retain: retain, group: g}
			return l.deliverRemote(via, s, &om)
		}
	}
	return l.deliver(s, m, qos, ids, retain, g, 0)
}

// deliver hands m to s at qos, wherever s lives: on this loop it is sent or
// queued (deliverLocal), on another loop it joins that loop's batch
// (deliverRemote), offline it is queued under s.mu (deliverOffline). g is
// the shared subscription m goes through (nil if none); dseq is the
// durable record the delivery already has (from another loop), 0 if none
// (durqueue.go). It reports whether the delivery congested the session it
// went to: one handed over to an owner loop that lags (throttle.go).
// Loop-only.
func (l *loop) deliver(s *session, m *message, qos byte, ids []uint32, retain bool, g *trie.Group, dseq uint64) (congested bool) {
	om := outMsg{m: m, qos: qos, subIDs: ids, retain: retain, group: g, dseq: dseq}
	if dseq != 0 && !s.durable() {
		l.dropDelivery(s, &om) // s ended or became clean since it was stored
	}
	owner := s.owner.Load()
	if owner == nil {
		// Offline, unless its client came back meanwhile: deliverOffline
		// returns the session's new owner then.
		if owner, congested = l.deliverOffline(s, &om); owner == nil {
			return congested
		}
	}
	if owner != l {
		return l.deliverRemote(owner, s, &om)
	}
	l.deliverLocal(s, om)
	return false
}

// deliverLocal sends om to s's client on this loop, or queues it behind
// the in-flight window or the outbound budget. Loop-only (s's owner).
func (l *loop) deliverLocal(s *session, om outMsg) {
	c := s.c
	m := om.m
	if c == nil || c.state != stateConnected {
		// A closing client (its will being published, before detach):
		// its session keeps the message, and detach hands a shared one
		// to another member (shared.go) [MQTT-3.1.2-8].
		if c != nil && c.state == stateClosed && om.qos > 0 {
			s.enqueue(l, om)
			return
		}
		l.dropDelivery(s, &om)
		return
	}
	if m.expired(l.b.now()) {
		l.dropDelivery(s, &om)
		return // [MQTT-3.3.2-5]
	}
	if om.qos == 0 {
		if c.overBudget(len(m.topic) + len(m.payload) + 8) {
			l.st.dropped++
			return
		}
		c.appendPublish(m, 0, 0, false, om.retain, om.subIDs)
		return
	}
	s.useExt()
	if len(s.queue) > 0 || len(s.inflight) >= s.inflightMax(l.b) || c.overBudget(len(m.topic)+len(m.payload)+8) {
		s.enqueue(l, om)
		l.thr.queued(s)
		return
	}
	l.sendNew(s, c, om)
}

// deliverRemote hands om for s over to owner, the loop of s's client, in
// this round's batch for it; a QoS 0 message is dropped when owner lags
// (MaxHandoverBytes). A QoS 1/2 delivery to a persistent session is stored
// here first. It reports whether the hand-over congested s (throttle.go).
// Loop-only.
func (l *loop) deliverRemote(owner *loop, s *session, om *outMsg) (congested bool) {
	bt := l.outFor(owner)
	if om.qos > 0 {
		if om.dseq == 0 && l.stores(s) {
			l.storeDelivery(s, om, persist.Queued)
		}
		congested = l.thr.handedIn(s, owner)
	} else if l.full(bt, len(om.m.topic)+len(om.m.payload)) {
		return false // the owner loop lags: QoS 0 is dropped (MaxHandoverBytes)
	}
	bt.items = append(bt.items, item{kind: itemMessage, s: s, m: om.m, qos: om.qos, ids: om.subIDs, retain: om.retain,
		group: om.group, dseq: om.dseq})
	return congested
}

// deliverOffline queues om for s, which has no client, under s.mu (QoS
// 1/2 only) [MQTT-3.1.2-5]. A shared message goes to another live member
// of its group instead (shared.go), and it reports whether that congested
// the member's session. When s's client came back before s.mu was taken
// it does nothing and returns s's new owner. Loop-only.
func (l *loop) deliverOffline(s *session, om *outMsg) (owner *loop, congested bool) {
	if om.qos == 0 {
		return nil, false
	}
	if om.group != nil {
		var taken bool
		if taken, congested = l.redirect(s, om); taken {
			l.dropDelivery(s, om)
			return nil, congested
		}
	}
	s.mu.Lock()
	owner = s.owner.Load()
	switch {
	case owner != nil:
	case s.gone():
		l.dropDelivery(s, om)
	default:
		s.enqueue(l, *om)
	}
	s.mu.Unlock()
	return owner, false
}

// sendNew assigns a packet id to om, records it in flight and writes it
// [MQTT-4.3.2-1] [MQTT-4.3.3-1]. Loop-only (s's owner).
func (l *loop) sendNew(s *session, c *client, om outMsg) {
	om.pid = s.allocPID() // allocates s's QoS state if need be
	om.state = outPublished
	if l.dur != nil {
		l.sentDelivery(s, c, &om)
	}
	if !c.appendPublish(om.m, om.qos, om.pid, om.dup, om.retain, om.subIDs) {
		l.dropDelivery(s, &om)
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
			l.dropDelivery(s, &om)
			continue
		}
		l.sendNew(s, c, om)
	}
	l.thr.pumped(s, moved)
}

// resend retransmits a resumed session's unacknowledged messages with DUP
// set, and PUBRELs, in their original order [MQTT-4.4.0-1] [MQTT-3.3.1-1],
// then sends queued messages. Loop-only (s's owner).
func (l *loop) resend(s *session, c *client) {
	for i := range s.inflightMsgs() {
		om := &s.inflight[i]
		if om.state == outReleased {
			c.pending = codec.AppendAck(c.pending, c.version, &codec.Ack{Type: codec.TypePubrel, PacketID: om.pid})
			continue
		}
		c.appendPublish(om.m, om.qos, om.pid, true, om.retain, om.subIDs)
	}
	l.markDirty(c)
	l.pump(s, c)
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
	return c.writePublish(&p)
}

// writePublish encodes p for c (giving its topic an alias if c takes
// them) into c's pending bytes and counts it. It reports false, writing
// nothing and counting a drop, when the packet would exceed the client's
// Maximum Packet Size [MQTT-3.1.2-24]. Loop-only.
func (c *client) writePublish(p *codec.Publish) bool {
	topic := p.Topic // aliasTopic may replace it with an alias
	added := c.aliasTopic(p)
	n := len(c.pending)
	c.pending = codec.AppendPublish(c.pending, c.version, p)
	if limit := c.maxOut(); limit > 0 && len(c.pending)-n > limit {
		c.pending = c.pending[:n]
		c.unalias(topic, added)
		c.l.st.dropped++
		return false
	}
	c.l.st.msgsOut++
	c.l.st.pubOut++
	c.l.st.bytesOut += uint64(len(c.pending) - n)
	c.l.tot.pubOut[p.QoS&3]++
	c.l.tot.pubBytesOut[p.QoS&3] += uint64(len(c.pending) - n)
	c.l.markDirty(c)
	return true
}
