package engine

import (
	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/trie"
)

// Delivery of a message to one session, by where the session is: on this
// loop, on another loop, or offline; and the in-flight window.

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
	c.l.markDirty(c)
	return true
}
