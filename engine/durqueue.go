package engine

import (
	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
)

// Durable queues: the QoS 1/2 messages owed to persistent sessions, in the
// store. A message routed to several persistent sessions is stored once
// (persist.Message, message.did) and each session's entry for it is a
// delivery record (persist.Delivery, outMsg.dseq) naming it; message.drefs
// counts the delivery records naming a message, and whoever drops the
// last one deletes the message record.
//
// The loop that routes a message writes its record and the records of the
// deliveries to every persistent session it goes to, whichever loop owns
// the session, in its round's batch: the publisher's PUBACK or PUBREC
// waits for that batch's commit (durable.go). The loop owning a session
// then keeps its records in step: a QoS 2 PUBLISH sent (its packet id), a
// QoS 2 PUBREC (released), a delivery finished or dropped (deleted). A QoS 2
// PUBLISH and a PUBREL wait, like an acknowledgement, for the commit that
// stores their packet id and stage: sent again after a crash, they must
// carry the id the receiver already knows.
//
// A message record is only ever created by the loop that may write it:
// the loop that built the message in this route (dur.mayStore), or one
// moving a delivery that already holds a reference to it. Any other loop
// storing a delivery of a shared message (a retained message, a message
// that reached a persistent session some other way) stores a copy of its
// own, so message.did and message.drefs never race from zero.

// stores reports whether a QoS 1/2 delivery to s is stored. Loop-only.
func (l *loop) stores(s *session) bool {
	return l.dur != nil && s.durable()
}

// storeMessage returns the message a new delivery record of m names, with
// a reference taken for it: m itself when l may write its record, or a
// copy with a record of its own. The route's message stays pending
// (dur.pend) while it has one delivery; a copy goes inside its only
// delivery's record; a message held inside its delivery's record gets a
// record of its own when a second delivery names it. Loop-only.
func (l *loop) storeMessage(m *message) *message {
	d := l.dur
	if m != d.mayStore {
		m = m.clone()
	}
	switch {
	case m.did != 0:
		if m.stored == storedInline {
			l.putMessage(m) // a second delivery names it
		}
	case m == d.mayStore:
		m.did = l.b.msgSeq.Add(1)
		m.drefs.Store(1) // the route's own reference, dropped by endStore
		d.pend = m
	default:
		m.did = l.b.msgSeq.Add(1)
		m.stored = storedInline // a copy for this delivery alone
	}
	m.drefs.Add(1)
	return m
}

// putMessage writes m's own record. Loop-only.
func (l *loop) putMessage(m *message) {
	l.dur.batch().PutMessage(l.messageRecord(m))
	m.stored = storedSeparate
}

// messageRecord fills the loop's scratch record with m. Loop-only.
func (l *loop) messageRecord(m *message) *persist.Message {
	d := l.dur
	d.msg = persist.Message{ID: m.did, Topic: m.topic, Payload: m.payload, QoS: m.qos, ExpireAt: m.expireAt}
	if m.hasProps {
		d.props = codec.AppendProperties(d.props[:0], &m.props)
		d.msg.Props = d.props
	}
	return &d.msg
}

// beginStore lets l write the record of m, which it built or holds a
// reference to, for the deliveries until endStore. It returns what
// endStore restores. Loop-only.
func (l *loop) beginStore(m *message) *message {
	if l.dur == nil {
		return nil
	}
	if l.dur.pend != nil {
		l.flushPending() // a route within a route: the outer one's is written now
	}
	prev := l.dur.mayStore
	l.dur.mayStore = m
	return prev
}

// endStore ends what beginStore began; fresh says that m was built for
// this route: a pending delivery is written with the message inside it,
// and the route's own reference is dropped. Loop-only.
func (l *loop) endStore(m, prev *message, fresh bool) {
	d := l.dur
	if d == nil {
		return
	}
	d.mayStore = prev
	if !fresh || m == nil || m.did == 0 {
		return
	}
	if m == d.pend {
		if d.firstSeq != 0 {
			m.stored = storedInline
			d.first.Message = l.messageRecord(m)
			d.batch().NewDelivery(&d.first)
		}
		d.pend, d.firstSeq, d.first = nil, 0, persist.Delivery{}
	}
	unrefMessage(d.batch(), m)
}

// flushPending writes the pending route message's own record and its
// first delivery's. Loop-only.
func (l *loop) flushPending() {
	d := l.dur
	l.putMessage(d.pend)
	if d.firstSeq != 0 {
		d.batch().NewDelivery(&d.first)
	}
	d.pend, d.firstSeq, d.first = nil, 0, persist.Delivery{}
}

// unrefMessage drops one reference to m's record, deleting its own
// record with the last one through pb (a record inside a delivery's goes
// with it). Safe from any goroutine holding the reference.
func unrefMessage(pb *persist.Batch, m *message) {
	if m.drefs.Add(-1) == 0 && m.stored == storedSeparate {
		pb.DeleteMessage(m.did)
	}
}

// storeDelivery writes a new delivery record of om for s in state st
// (persist.Queued or persist.Published) and sets om.dseq; om.m may become
// a copy (storeMessage). The first delivery of the route's message waits
// for the route's end or a second delivery (endStore, flushPending). It
// marks the round as having stored a delivery: the publisher's
// acknowledgement waits for it. Loop-only.
func (l *loop) storeDelivery(s *session, om *outMsg, st byte) {
	d := l.dur
	om.m = l.storeMessage(om.m)
	om.dseq = l.b.delSeq.Add(1)
	d.routed = true
	if om.m == d.pend {
		if d.firstSeq == 0 {
			d.first = l.deliveryRecord(s, om, st)
			d.firstGroup = append(d.firstGroup[:0], d.first.Group...)
			d.first.Group = d.firstGroup
			d.firstSeq = om.dseq
			return
		}
		l.flushPending()
	}
	l.putDelivery(s, om, st, true)
}

// deliveryRecord returns om's delivery record for s in state st; its
// Group is the loop's scratch. Loop-only.
func (l *loop) deliveryRecord(s *session, om *outMsg, st byte) persist.Delivery {
	rec := persist.Delivery{ClientID: s.clientID, Seq: om.dseq, QoS: om.qos, PacketID: om.pid, State: st,
		Retain: om.retain, SubIDs: om.subIDs}
	if om.m != nil && st != persist.Released {
		rec.MessageID = om.m.did
		if om.m.stored == storedInline {
			rec.Message = l.messageRecord(om.m)
		}
	}
	if om.group != nil {
		d := l.dur
		d.group = append(append(append(append(d.group[:0], "$share/"...), om.group.Name...), '/'), om.group.Filter...)
		rec.Group = d.group
	}
	return rec
}

// putDelivery writes om's delivery record for s in state st, a new one
// if fresh (a record deleted in the same commit group is then never
// written: persist.Batch.NewDelivery). Loop-only.
func (l *loop) putDelivery(s *session, om *outMsg, st byte, fresh bool) {
	d := l.dur
	if om.dseq == d.firstSeq {
		d.first.State, d.first.PacketID = st, om.pid // still pending
		return
	}
	rec := l.deliveryRecord(s, om, st)
	if fresh {
		d.batch().NewDelivery(&rec)
	} else {
		d.batch().PutDelivery(&rec)
	}
}

// dropDelivery deletes om's delivery record, if it has one, and its
// reference to the message. Loop-only.
func (l *loop) dropDelivery(s *session, om *outMsg) {
	if om.dseq == 0 {
		return
	}
	d := l.dur
	pb := d.batch()
	if om.dseq == d.firstSeq {
		d.firstSeq = 0 // never written
	} else {
		pb.DeleteDelivery(s.clientID, om.dseq)
	}
	if om.m != nil {
		unrefMessage(pb, om.m)
	}
	om.dseq = 0
}

// sentDelivery records that om, in s's window now with its packet id, is
// being sent, storing it if s is persistent and it has no record yet.
// A QoS 2 delivery's record gets the packet id and stage, and the PUBLISH
// to c waits for the commit (see above). A QoS 1 delivery's record is
// left as it is: after a restart it is sent again with DUP whatever its
// stage was (recovery), with a new packet id, as QoS 1 allows; that saves
// a write per message. Loop-only (s's owner).
func (l *loop) sentDelivery(s *session, c *client, om *outMsg) {
	switch {
	case om.qos == 1:
		if om.dseq == 0 && l.stores(s) {
			l.storeDelivery(s, om, persist.Queued)
		}
	case om.dseq != 0:
		l.putDelivery(s, om, persist.Published, false)
		l.hold(c)
	case l.stores(s):
		l.storeDelivery(s, om, persist.Published)
		l.hold(c)
	}
}

// releasedDelivery records that the QoS 2 delivery om of s got its PUBREC:
// the message is no longer needed, and the PUBREL to c waits for the
// commit. Loop-only (s's owner).
func (l *loop) releasedDelivery(s *session, c *client, om *outMsg) {
	if om.dseq == 0 {
		return
	}
	l.putDelivery(s, om, persist.Released, false)
	if om.m != nil {
		unrefMessage(l.dur.batch(), om.m)
	}
	l.hold(c)
}

// unstoreAll drops the references of s's delivery records to their
// messages, deleting through pb the message records left without one;
// the delivery records themselves go with the session's (DeleteSession).
// Caller owns s; pb is not nil when s is durable.
func unstoreAll(s *session, pb *persist.Batch) {
	if s.sessionExt == nil {
		return
	}
	for _, list := range [2][]outMsg{s.inflight, s.queue} {
		for i := range list {
			om := &list[i]
			if om.dseq != 0 && om.m != nil && pb != nil {
				unrefMessage(pb, om.m)
			}
			om.dseq = 0
		}
	}
}
