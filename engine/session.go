package engine

import (
	"sync"
	"sync/atomic"

	"github.com/gust-mqtt/gust/engine/persist"
	"github.com/gust-mqtt/gust/trie"
)

// subEntry is one subscription a session holds. full is the filter as
// subscribed (with any $share/{group}/ prefix); sub.Filter and sub.Group
// alias it.
type subEntry struct {
	full string
	sub  trie.Subscription
}

// subList is a session's subscriptions: a slice searched linearly, since
// most sessions hold a handful, plus an index once it grows. A map per
// session cost ~1 KiB and extra GC work (BenchmarkGCSessions).
type subList struct {
	list  []subEntry
	index map[string]int // full -> position, built past subIndexMin entries
}

const subIndexMin = 32

// find returns the position of full or -1.
func (sl *subList) find(full []byte) int {
	if sl.index != nil {
		if i, ok := sl.index[string(full)]; ok { // no allocation for the key
			return i
		}
		return -1
	}
	for i := range sl.list {
		if sl.list[i].full == string(full) {
			return i
		}
	}
	return -1
}

// put adds or replaces e and reports whether it replaced one.
func (sl *subList) put(e subEntry) bool {
	if i := sl.find([]byte(e.full)); i >= 0 {
		sl.list[i] = e
		return true
	}
	sl.list = append(sl.list, e)
	if sl.index != nil {
		sl.index[e.full] = len(sl.list) - 1
	} else if len(sl.list) > subIndexMin {
		sl.index = make(map[string]int, len(sl.list))
		for i := range sl.list {
			sl.index[sl.list[i].full] = i
		}
	}
	return false
}

// remove deletes entry i, moving the last entry into its place.
func (sl *subList) remove(i int) {
	last := len(sl.list) - 1
	if sl.index != nil {
		delete(sl.index, sl.list[i].full)
		if i != last {
			sl.index[sl.list[last].full] = i
		}
	}
	sl.list[i] = sl.list[last]
	sl.list[last] = subEntry{}
	sl.list = sl.list[:last]
}

// session is the state MQTT keeps per client identifier. While its client
// is online it is owned by the client's loop (owner) and touched only
// there; while offline, producers touch it only under mu. Transitions
// between the two take mu. See doc.go. The fields are ordered and sized to
// fit the 64-byte size class (every idle connection has one):
// what only a subscriber needs, its SubscriberID included, is in subState,
// what only QoS 1/2 delivery or an offline expiry needs in sessionExt.
type session struct {
	clientID string

	mu    sync.Mutex           // guards owner transitions and offline state
	owner atomic.Pointer[loop] // loop of the online client; nil when offline

	// Owned by the owner loop while online, guarded by mu while offline.
	c *client // online client, nil when offline
	// sub is the subscriber's state (SubscriberID, subscriptions,
	// throttle), nil until the first SUBSCRIBE (subState).
	sub atomic.Pointer[subState]
	// The state most sessions never need (QoS 1/2 queues, the delivery
	// rate, an offline expiry), nil until used (useExt): its fields read as
	// the session's own. Code that may run before checks sessionExt or
	// calls useExt.
	*sessionExt
	// peer is what producers read of the online client: its protocol
	// version in the low byte and peerAliasing; and peerGone. Written
	// under mu (or before s is published).
	peer   atomic.Uint32
	expiry uint32 // session expiry interval in seconds; 0 = clean, noExpiry = never
}

// session.peer bits above the protocol version.
const (
	peerAliasing = 1 << 8  // the online client takes broker-assigned Topic Aliases (alias.go)
	peerGone     = 1 << 9  // removed from the store; deliveries are dropped
	peerDurable  = 1 << 10 // its record is in the durable store (durable.go)
)

// attach makes c, on loop c.l, s's online client. Caller holds s.mu or s
// is not published yet; s is not gone.
func (s *session) attach(c *client) {
	p := uint32(c.version)
	if c.aliasMax > 0 {
		p |= peerAliasing
	}
	s.peer.Store(p)
	s.c = c
	s.owner.Store(c.l)
}

// aliasing reports whether s's online client takes broker-assigned Topic
// Aliases (alias.go). Safe from any goroutine.
func (s *session) aliasing() bool {
	return s.peer.Load()&peerAliasing != 0
}

// gone reports whether s was removed from the store. Caller holds s.mu or
// owns s.
func (s *session) gone() bool {
	return s.peer.Load()&peerGone != 0
}

// durable reports whether s has a record in the durable store.
func (s *session) durable() bool {
	return s.peer.Load()&peerDurable != 0
}

// clean reports whether s ends with its connection (expiry interval 0).
// Caller owns s.
func (s *session) clean() bool {
	return s.expiry == 0
}

// subID returns s's SubscriberID, 0 (never used) if it never subscribed.
// Caller owns s, or found it through the trie (the id is set before the
// first subscription is inserted, and never changes).
func (s *session) subID() trie.SubscriberID {
	if st := s.sub.Load(); st != nil {
		return st.id
	}
	return 0
}

// inflightMax is s's in-flight limit: MaxInflight, or less for a v5
// Receive Maximum [MQTT-3.3.4-9]. Caller owns s.
func (s *session) inflightMax(b *Broker) int {
	if s.sessionExt != nil && s.window > 0 {
		return int(s.window)
	}
	return b.cfg.MaxInflight
}

// setWindow records the Receive Maximum of s's new client (0: none, or
// not below MaxInflight) [MQTT-3.3.4-9] [MQTT-4.9.0-1]. Caller owns s.
func (s *session) setWindow(b *Broker, recvMax uint16) {
	if recvMax > 0 && int(recvMax) < b.cfg.MaxInflight {
		s.useExt()
		s.window = recvMax
	} else if s.sessionExt != nil {
		s.window = 0
	}
}

// subState is the part of a session only a subscriber needs: its
// SubscriberID, its subscriptions and the throttle's view of its backlog
// (throttle.go). An idle connection that never subscribes has none, nor a
// session table slot. The owner loop creates it at the first
// SUBSCRIBE (subscribe), before the subscription is in the trie, so a
// producer, which reaches a session to deliver to only through a trie
// match or a shared group's member, finds it; it is never removed.
// Readers that may run first treat nil as "not congested"; writers call
// subscriber, which creates it race-free.
type subState struct {
	subs subList     // owner loop while online, mu while offline
	thr  subThrottle // congestion, read by producers (throttle.go)
	// id is the session's SubscriberID in the trie and the session table,
	// assigned by the owner loop before the first subscription is
	// inserted; 0 until then. Owner loop, or mu while offline.
	id trie.SubscriberID
	// reader, when set, is whose read access each delivery is checked
	// against (aclcheck.go); written by the owner loop.
	reader atomic.Pointer[aclReader]
}

// subscriber returns s's subscriber state, creating it if need be. Safe
// from any goroutine; its subs field is the owner's (or mu's while
// offline).
func (s *session) subscriber() *subState {
	if st := s.sub.Load(); st != nil {
		return st
	}
	st := new(subState)
	if s.sub.CompareAndSwap(nil, st) {
		return st
	}
	return s.sub.Load()
}

// sessionExt is the part of a session allocated on first use: an idle
// session has no QoS 1/2 message, no delivery rate to measure and, while
// online, no expiry deadline (so that a session fits 64 bytes).
type sessionExt struct {
	inflight  []outMsg     // sent, unacknowledged, in send order [MQTT-4.6.0-1]
	queue     []outMsg     // waiting for the window, the outbound budget or a client
	inQoS2    []uint16     // inbound QoS 2 ids between PUBREC and PUBREL [MQTT-4.3.3-2]
	rate      deliveryRate // sets the congestion bound (throttle.go)
	expiresAt int64        // unix nanos when an offline session is discarded; 0 never
	// held is the MaxQueuedBytes measure of queue and inflight (heldSize
	// of each message; one released by PUBREC no longer counts).
	held int64
	// The offline list of the session store (sessionStore.pushOffline):
	// when the session went offline (coarse clock; 0: not in the list)
	// and its neighbours. Guarded by Broker.sessions.mu.
	offAt            int64
	offPrev, offNext *session
	nextPID          uint16
	window           uint16 // a v5 Receive Maximum below MaxInflight, 0 for none (inflightMax)
}

// useExt allocates s's sessionExt if it has none. Caller owns s (owner
// loop, or mu held while offline).
func (s *session) useExt() {
	if s.sessionExt == nil {
		s.sessionExt = new(sessionExt)
	}
}

// queued returns the number of messages in s's queue. Caller owns s.
func (s *session) queued() int {
	if s.sessionExt == nil {
		return 0
	}
	return len(s.queue)
}

// inflightMsgs returns s's in-flight messages (nil for none). Caller owns s.
func (s *session) inflightMsgs() []outMsg {
	if s.sessionExt == nil {
		return nil
	}
	return s.inflight
}

// allocPID returns a packet identifier not used by s.inflight
// [MQTT-2.3.1-2] [MQTT-2.3.1-4]. Owner loop only; len(s.inflight) < 65535.
func (s *session) allocPID() uint16 {
	s.useExt()
	for {
		s.nextPID++
		if s.nextPID == 0 {
			s.nextPID = 1
		}
		if s.findInflight(s.nextPID) < 0 {
			return s.nextPID
		}
	}
}

// findInflight returns the index of pid in s.inflight or -1. Acks mostly
// arrive in order, so the scan usually stops at the first entry.
func (s *session) findInflight(pid uint16) int {
	for i := range s.inflightMsgs() {
		if s.inflight[i].pid == pid {
			return i
		}
	}
	return -1
}

// removeInflight deletes entry i keeping the order, and its durable
// record. Caller owns s.
func (s *session) removeInflight(l *loop, i int) {
	if m := s.inflight[i].m; m != nil {
		s.release(l, m)
	}
	l.dropDelivery(s, &s.inflight[i])
	copy(s.inflight[i:], s.inflight[i+1:])
	s.inflight[len(s.inflight)-1] = outMsg{}
	s.inflight = s.inflight[:len(s.inflight)-1]
}

// queueEntryBytes is what a held message counts for MaxQueuedBytes beyond
// its own bytes: its outMsg entry and a share of its record.
const queueEntryBytes = 64

// heldSize is what m counts for MaxQueuedBytes in each session holding it.
func heldSize(m *message) int64 {
	return int64(m.size()) + queueEntryBytes
}

// hold counts m as held by s (queued or in flight), in s and in the
// round's change of the broker's total, folded by l. Caller owns s.
func (s *session) hold(l *loop, m *message) {
	n := heldSize(m)
	s.held += n
	l.heldDelta += n
}

// release undoes hold for m. Caller owns s.
func (s *session) release(l *loop, m *message) {
	n := heldSize(m)
	s.held -= n
	l.heldDelta -= n
}

// enqueue appends a QoS 1/2 delivery to the queue unless the queue is at
// MaxQueuedMessages or the message would take s past MaxQueuedBytes or
// the sessions' total past MaxQueuedBytesTotal; then the message is
// dropped and counted. A delivery to a persistent session is stored
// (durqueue.go). It reports whether it was queued. Caller owns s (owner
// loop, or mu held while offline); l is the caller's loop.
func (s *session) enqueue(l *loop, om outMsg) bool {
	cfg := &l.b.cfg
	if s.queued() >= cfg.MaxQueuedMessages {
		l.st.dropped++
		l.st.queueFull++
		l.fullWho = s
		l.dropDelivery(s, &om)
		return false
	}
	s.useExt()
	n := heldSize(om.m)
	switch {
	case s.held+n > int64(cfg.MaxQueuedBytes):
		l.dropQueued(s, "max_queued_bytes", cfg.MaxQueuedBytes)
		l.dropDelivery(s, &om)
		return false
	case l.b.limits.queuedBytes.Load()+l.heldDelta+n > int64(cfg.MaxQueuedBytesTotal):
		l.dropQueued(s, "max_queued_bytes_total", cfg.MaxQueuedBytesTotal)
		l.dropDelivery(s, &om)
		return false
	}
	if om.dseq == 0 && l.stores(s) {
		l.storeDelivery(s, &om, persist.Queued)
	}
	s.queue = append(s.queue, om)
	s.held += n
	l.heldDelta += n
	return true
}

// dropQueued counts a message dropped for a queued-bytes limit; foldLimits
// logs the round's drops. Loop-only.
func (l *loop) dropQueued(s *session, setting string, limit int) {
	l.st.dropped++
	l.st.queueDropped++
	l.dropWho, l.dropSetting, l.dropLimit = s, setting, limit
}

// hasInQoS2 reports whether an inbound QoS 2 id awaits PUBREL.
func (s *session) hasInQoS2(pid uint16) bool {
	if s.sessionExt == nil {
		return false
	}
	for _, id := range s.inQoS2 {
		if id == pid {
			return true
		}
	}
	return false
}

// releaseInQoS2 forgets an inbound QoS 2 id.
func (s *session) releaseInQoS2(pid uint16) {
	if s.sessionExt == nil {
		return
	}
	for i, id := range s.inQoS2 {
		if id == pid {
			s.inQoS2[i] = s.inQoS2[len(s.inQoS2)-1]
			s.inQoS2 = s.inQoS2[:len(s.inQoS2)-1]
			return
		}
	}
}
