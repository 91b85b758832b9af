package engine

import (
	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
)

// Session lifecycle: opened at CONNECT, taken over, detached at close,
// evicted past max_sessions, expired.

// openSession finds or creates the session of client id for c and attaches
// it to l. If the session is online elsewhere it returns the owner loop in busy
// and attaches nothing. A new session past MaxSessions takes the place of
// the offline session that went offline longest ago; when there is none it
// returns a nil session (and busy nil): the CONNECT is refused. Loop-only
// (l).
func (b *Broker) openSession(l *loop, c *client, id string, p *codec.Connect) (s *session, present bool, busy *loop) {
	st := &b.sessions
	st.mu.Lock()
	defer st.mu.Unlock()
	if s = st.get(id); s != nil {
		s.mu.Lock()
		if o := s.owner.Load(); o != nil {
			s.mu.Unlock()
			return s, false, o
		}
		if p.CleanStart || s.gone() {
			// [MQTT-3.1.2-6] discard any previous session.
			if !s.gone() {
				l.shared.orphans = takeOrphans(s, l.shared.orphans) // adopted by handleConnect
			}
			b.dropSessionLocked(s, l.durBatch())
			s.mu.Unlock()
			s = nil
		} else {
			s.attach(c) // c.l is l
			st.unlinkOffline(s)
			if s.sessionExt != nil {
				s.expiresAt = 0
			}
			b.cancelWill(s)               // back within the Will Delay Interval [MQTT-3.1.3-9]
			s.expiry = sessionExpiryOf(p) // the new CONNECT's interval applies
			s.mu.Unlock()
			return s, true, nil // [MQTT-3.1.2-4] [MQTT-3.2.2-2]
		}
	}
	if st.n >= b.cfg.MaxSessions && !b.evictLocked(l) {
		return nil, false, nil
	}
	s = &session{clientID: id, expiry: sessionExpiryOf(p)}
	s.attach(c) // c.l is l; a SubscriberID comes with the first SUBSCRIBE
	st.put(s)
	return s, false, nil
}

// evictLocked discards the offline session that went offline longest ago
// to make room for a new one (MaxSessions), as if it had expired: its will
// goes out if delayed [MQTT-3.1.3-9], its shared messages go to other
// members (l.shared.orphans, adopted by the caller). It reports false when
// no session is offline. Caller holds b.sessions.mu. Loop-only (l).
func (b *Broker) evictLocked(l *loop) bool {
	s := b.sessions.offHead
	if s == nil {
		return false
	}
	s.mu.Lock()
	l.shared.orphans = takeOrphans(s, l.shared.orphans)
	b.dropSessionLocked(s, l.durBatch())
	s.mu.Unlock()
	b.releaseClaim(s.clientID, 0)
	b.limits.sessionsEvicted.Add(1)
	b.logLimit(&b.limits.logSessions, 1, "session limit: the oldest offline session discarded for a new one",
		"max_sessions", b.cfg.MaxSessions, s.clientID)
	return true
}

// dropSessionLocked removes s from the store, the table and the trie,
// and its record from the durable store through pb (nil: s has none, or
// there is no store). Caller holds b.sessions.mu and s.mu; s is offline.
func (b *Broker) dropSessionLocked(s *session, pb *persist.Batch) {
	b.sessions.remove(s)
	if s.gone() {
		return
	}
	if s.durable() && pb != nil {
		pb.DeleteSession(s.clientID)
		unstoreAll(s, pb)
	}
	s.peer.Or(peerGone)
	b.dueWill(s) // a delayed will goes out when its session ends [MQTT-3.1.3-9]
	if s.sessionExt != nil {
		b.sessions.unlinkOffline(s)
		b.limits.queuedBytes.Add(-s.held)
	}
	s.sessionExt = nil // queue, inflight, expiry deadline
	st := s.sub.Load()
	if st == nil || st.id == 0 {
		return // never subscribed: not in the trie nor the table
	}
	for _, e := range st.subs.list {
		b.unsubscribeTrie(st.id, e.sub.Filter, e.sub.Group)
	}
	b.subCount.Add(int64(-len(st.subs.list)))
	st.subs = subList{}
	b.table.remove(s, st.id)
}

// detach releases s from its closing client c: a clean session is dropped
// [MQTT-3.1.2-6], a persistent one goes offline keeping its subscriptions,
// inflight and queue [MQTT-3.1.2-4] [MQTT-3.1.2-5]. Loop-only (s's owner).
func (b *Broker) detach(l *loop, s *session, c *client) {
	if s.c == c {
		l.handOverShared(s) // while l still owns s
	}
	b.sessions.mu.Lock()
	l.thr.detach(s) // offline queues never throttle
	s.mu.Lock()
	if s.c == c {
		s.c = nil
		s.owner.Store(nil)
		if s.clean() {
			b.dropSessionLocked(s, l.durBatch()) // [MQTT-4.1.0-2] interval 0
			b.releaseClaim(s.clientID, c.claimToken())
		} else {
			s.useExt()
			if d := b.sessionLifetime(s.expiry); d > 0 {
				s.expiresAt = b.now() + int64(d) // [MQTT-3.1.2-23] [MQTT-4.1.0-2]
				b.anyExpiry.Store(true)
			}
			b.sessions.pushOffline(s, max(b.now(), 1)) // MaxSessions discards the oldest first
			if s.durable() && l.dur != nil {
				// Offline since now, with its will if it waits for its
				// delay (closeWill): a restart publishes it when due.
				l.putSession(s, b.delayedWillOf(s), s.offAt)
			}
		}
	}
	s.mu.Unlock()
	b.sessions.mu.Unlock()
}

// takeover closes the client that owns s on l so that next can take the
// session over, then lets next run its CONNECT again. Loop-only (l).
func (l *loop) takeover(s *session, next *client) {
	if s.owner.Load() == l && s.c != nil {
		s.c.closeNow(closeTakeover) // its will is published [MQTT-3.1.4-2]
	}
	l.sendItem(next.l, item{kind: itemResume, c: next})
}

// expireSessions drops offline sessions past their expiry. Runs on the
// ticker goroutine.
func (b *Broker) expireSessions() {
	if b.cfg.MaxSessionExpiry <= 0 && !b.anyExpiry.Load() {
		return // no offline session can expire
	}
	now := b.now()
	st := &b.sessions
	var orphans []item
	var pb *persist.Batch
	if b.store != nil {
		pb = new(persist.Batch)
	}
	st.mu.Lock()
	st.each(func(s *session) {
		s.mu.Lock()
		if s.owner.Load() == nil && s.sessionExt != nil && s.expiresAt != 0 && now > s.expiresAt {
			orphans = takeOrphans(s, orphans)
			b.dropSessionLocked(s, pb)
			b.releaseClaim(s.clientID, 0)
			b.sessionsExpired.Add(1)
		}
		s.mu.Unlock()
	})
	st.mu.Unlock()
	if pb != nil && pb.Len() > 0 {
		b.store.Commit(pb, func(err error) {
			if err != nil {
				b.log.Warn("store: expired sessions not deleted", "err", err)
			}
		})
	}
	b.handOrphans(orphans) // delivered by a loop, outside the locks

}
