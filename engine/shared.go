package engine

import "github.com/gust-mqtt/gust/trie"

// Shared-subscription hand-over. A QoS 1/2 message delivered through a
// shared subscription remembers its group (outMsg.group, item.group). When
// the member's client goes away, the messages it has not acknowledged move
// to another live member of the same group, picked the way the group picks
// for a new message (Group.PickMember over online members), so each still
// reaches exactly one member. MQTT 5 4.8.2 allows it for QoS 1: "If the
// Client's Session terminates before the Client reconnects, the Server
// SHOULD send the Application Message to another Client that is subscribed
// to the same Shared Subscription. It MAY attempt to send the message to
// another Client as soon as it loses its connection to the first Client."
// A QoS 2 PUBLISH already sent stays with its session whatever its stage:
// its receiver may already have passed it on (4.3.3), so the delivery is
// finished with that client when it reconnects [MQTT-4.8.2-4] and never
// sent to another one [MQTT-4.8.2-5]. Queued messages, never sent, move
// whatever their QoS. Messages left with a persistent member because no
// other member was live move when its session ends (expiry, or a Clean
// Start reconnection): takeOrphans. The same rules hold for 3.1.1 clients
// using $share.

// maxSkip bounds the members excluded at once: the one leaving, plus the
// ones a message was redirected from after they went offline between being
// picked and being delivered to (redirect nests).
const maxSkip = 3

// isOtherLive reports whether id has a connected client and is not one of
// the members being left (l.shared.skip); bound once to l.shared.pickOther
// so picking allocates nothing. Loop-only.
func (l *loop) isOtherLive(id trie.SubscriberID) bool {
	for _, s := range l.shared.skip[:l.shared.nskip] {
		if id == s {
			return false
		}
	}
	return l.b.isOnline(id)
}

// handOverShared moves s's unacknowledged shared messages to other live
// members of their groups: QoS 1 PUBLISHes in flight without a PUBACK, and
// queued messages of any QoS. Without a live member a message stays with
// s: a persistent session sends it when its client returns (resent with
// DUP if it was in flight [MQTT-4.4.0-1]); a clean session ends now, so it
// is dropped and counted (4.8.2: only another Client may get it, and none
// is connected). Loop-only, s's owner, before s is released.
func (l *loop) handOverShared(s *session) {
	if s.sessionExt == nil {
		return // no QoS 1/2 message was ever queued or sent
	}
	if l.shared.nskip == len(l.shared.skip) {
		return // cannot happen: only redirect nests, and it leaves room
	}
	l.shared.skip[l.shared.nskip] = s.subID()
	l.shared.nskip++
	// [MQTT-4.8.2-4] [MQTT-4.8.2-5] a sent QoS 2 message stays; a QoS 1
	// one is still owed a PUBACK while outPublished.
	s.inflight = l.handOverEach(s, s.inflight, func(om *outMsg) bool { return om.qos == 1 && om.state == outPublished })
	s.queue = l.handOverEach(s, s.queue, func(*outMsg) bool { return true })
	l.shared.nskip--
	if !s.clean() {
		return
	}
	for _, list := range [2][]outMsg{s.inflight, s.queue} {
		for _, om := range list {
			if om.group != nil {
				l.st.dropped++ // the session ends with it (dropSessionLocked)
			}
		}
	}
}

// handOverEach hands every shared message of list that may move to
// another member, and returns list without the ones taken. Loop-only (s's
// owner).
func (l *loop) handOverEach(s *session, list []outMsg, may func(*outMsg) bool) []outMsg {
	keep := list[:0]
	for _, om := range list {
		if om.group != nil && may(&om) {
			if taken, _ := l.handOver(&om); taken {
				s.release(l, om.m)
				l.dropDelivery(s, &om)
				continue
			}
		}
		keep = append(keep, om)
	}
	clear(list[len(keep):])
	return keep
}

// handOver delivers om to a live member of om.group other than the ones
// excluded (l.shared.skip) and reports whether one took it, and whether
// that congested the member's session (deliver). Loop-only.
func (l *loop) handOver(om *outMsg) (taken, congested bool) {
	sub, ids, ok := om.group.PickMember(l.shared.pickOther)
	if !ok {
		return false, false
	}
	t := l.b.table.get(sub.Subscriber)
	if t == nil {
		return false, false
	}
	// The new member's granted QoS applies [MQTT-4.8.2-3], and its own
	// Subscription Identifier [MQTT-3.3.4-3]. A stored delivery's
	// reference lets the new one name the same message record.
	var prev *message
	if om.dseq != 0 {
		prev = l.beginStore(om.m)
	}
	congested = l.deliver(t, om.m, min(sub.QoS, om.m.qos), ids, om.retain, om.group, 0)
	if om.dseq != 0 {
		l.endStore(om.m, prev, false)
	}
	return true, congested
}

// redirect delivers om, meant for the offline member s of its group, to
// another live member instead and reports whether one took it, and whether
// that congested the member's session. Loop-only.
func (l *loop) redirect(s *session, om *outMsg) (taken, congested bool) {
	if l.shared.nskip == len(l.shared.skip) {
		return false, false
	}
	l.shared.skip[l.shared.nskip] = s.subID()
	l.shared.nskip++
	taken, congested = l.handOver(om)
	l.shared.nskip--
	return taken, congested
}

// takeOrphans removes from s, whose session is ending while its client is
// away, the shared messages another member may still take (QoS 1 in
// flight without a PUBACK, and queued ones: 4.8.2 "If the Client's Session
// terminates before the Client reconnects, the Server SHOULD send the
// Application Message to another Client") and appends them to out as
// itemOrphan items; a sent QoS 2 message ends with the session
// [MQTT-4.8.2-5]. Caller holds s.mu; s is offline.
func takeOrphans(s *session, out []item) []item {
	if s.sessionExt == nil {
		return out // no QoS 1/2 message was ever queued or sent
	}
	for _, list := range [2][]outMsg{s.inflight, s.queue} {
		for i := range list {
			om := &list[i]
			if om.group != nil && om.m != nil && (om.qos == 1 || om.pid == 0) {
				// The item takes over the stored delivery's reference to
				// m (its record goes with the session's).
				out = append(out, item{kind: itemOrphan, m: om.m, retain: om.retain, group: om.group, dseq: om.dseq})
				om.dseq = 0
			}
		}
	}
	return out
}

// adoptOrphan delivers a message of an ended session to a live member of
// its group, or drops and counts it when none is live. Loop-only.
func (l *loop) adoptOrphan(it *item) {
	if taken, _ := l.handOver(&outMsg{m: it.m, retain: it.retain, group: it.group, dseq: it.dseq}); !taken {
		l.st.dropped++
	}
	if it.dseq != 0 && l.dur != nil {
		unrefMessage(l.dur.batch(), it.m) // the ended session's reference
	}
}

// adoptOrphans adopts the orphans openSession took from a session it
// discarded. Loop-only, no lock held.
func (l *loop) adoptOrphans() {
	for i := range l.shared.orphans {
		l.adoptOrphan(&l.shared.orphans[i])
	}
	clear(l.shared.orphans)
	l.shared.orphans = l.shared.orphans[:0]
}

// handOrphans has a loop adopt orphans collected off the loops (session
// expiry on the ticker goroutine), through a batch of its own. Safe from
// any goroutine.
func (b *Broker) handOrphans(items []item) {
	if len(items) == 0 {
		return
	}
	loops := b.loopSnapshot()
	if len(loops) == 0 {
		return // not started or stopped: nobody to deliver to
	}
	loops[0].push(&batch{items: items}) // home nil: not recycled
}

// sharedPick is a loop's state for handing shared messages to another
// member of their group (shared.go). Loop-only.
type sharedPick struct {
	pickOther func(trie.SubscriberID) bool // l.isOtherLive, bound once
	skip      [maxSkip]trie.SubscriberID   // members pickOther excludes
	nskip     int
	orphans   []item // itemOrphan items taken under the store lock, adopted after it
}
