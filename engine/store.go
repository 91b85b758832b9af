package engine

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/trie"
)

// sessionStore maps client identifiers to sessions. It is an open
// addressing hash table of session pointers keyed by session.clientID
// (linear probing, deletion by backward shift, at most 3/4 full): one
// pointer per slot, 11 to 21 bytes per session, where a
// map[string]*session held a 16-byte key and an 8-byte value per slot and
// left its old tables as garbage at each growth, about 40 bytes per
// session (every idle connection has a session).
//
// The table shrinks when sessions go (by halves while under 1/8 full), so a
// storm of sessions does not pin its table. The store also keeps the
// offline sessions in the order they went offline (a list linked through
// their sessionExt), so that MaxSessions discards the oldest first.
type sessionStore struct {
	mu      sync.Mutex // lock order: store.mu before session.mu
	seed    maphash.Seed
	slots   []*session // nil or a session; len is a power of two
	n       int
	walking bool // each is running: remove does not shrink the table

	// offHead went offline longest ago, offTail last; offN is the list's
	// length.
	offHead, offTail *session
	offN             int
}

// minStoreSlots is the table size of the first session.
const minStoreSlots = 64

// home returns the slot where id's probe starts.
func (st *sessionStore) home(id string) int {
	return int(maphash.String(st.seed, id) & uint64(len(st.slots)-1))
}

// get returns the session of client id, or nil. Caller holds mu.
func (st *sessionStore) get(id string) *session {
	if st.n == 0 {
		return nil
	}
	mask := len(st.slots) - 1
	for i := st.home(id); ; i = (i + 1) & mask {
		s := st.slots[i]
		if s == nil || s.clientID == id {
			return s
		}
	}
}

// put stores s under s.clientID, replacing a session stored under the same
// id. Caller holds mu.
func (st *sessionStore) put(s *session) {
	if (st.n+1)*4 > len(st.slots)*3 {
		st.resize(max(minStoreSlots, 2*len(st.slots)))
	}
	mask := len(st.slots) - 1
	for i := st.home(s.clientID); ; i = (i + 1) & mask {
		t := st.slots[i]
		if t == nil {
			st.slots[i] = s
			st.n++
			return
		}
		if t.clientID == s.clientID {
			st.slots[i] = s
			return
		}
	}
}

// resize moves the sessions into a table of size slots (a power of two
// that keeps it at most 3/4 full). Caller holds mu.
func (st *sessionStore) resize(slots int) {
	old := st.slots
	st.slots = make([]*session, slots)
	st.n = 0
	for _, s := range old {
		if s != nil {
			st.put(s)
		}
	}
}

// remove deletes s if it is the session stored under its id, shifting the
// entries of its probe cluster back so that no lookup stops early. Caller
// holds mu.
func (st *sessionStore) remove(s *session) {
	if st.n == 0 {
		return
	}
	mask := len(st.slots) - 1
	i := st.home(s.clientID)
	for st.slots[i] != s {
		if st.slots[i] == nil {
			return
		}
		i = (i + 1) & mask
	}
	st.slots[i] = nil
	st.n--
	for j := (i + 1) & mask; st.slots[j] != nil; j = (j + 1) & mask {
		// The entry at j may move into the hole at i unless its home is
		// cyclically in (i, j].
		k := st.home(st.slots[j].clientID)
		if (i < j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			st.slots[i], st.slots[j] = st.slots[j], nil
			i = j
		}
	}
	if !st.walking {
		st.shrink()
	}
}

// shrink halves the table while it is under 1/8 full, so it is at most
// 1/4 full after: a later put grows it again only after the sessions have
// tripled. Caller holds mu.
func (st *sessionStore) shrink() {
	n := len(st.slots)
	for n > minStoreSlots && st.n*8 < n {
		n /= 2
	}
	if n != len(st.slots) {
		st.resize(n)
	}
}

// each calls fn once for every stored session; fn may remove that
// session. The walk starts after an empty slot, so no probe cluster wraps
// around its start and a removal only shifts entries not yet visited back
// into the slot being visited. Caller holds mu.
func (st *sessionStore) each(fn func(*session)) {
	if st.n == 0 {
		return
	}
	st.walking = true
	defer func() {
		st.walking = false
		st.shrink()
	}()
	mask := len(st.slots) - 1
	e := 0
	for st.slots[e] != nil { // exists: the table is at most 3/4 full
		e++
	}
	for k := 1; k <= mask; {
		i := (e + k) & mask
		s := st.slots[i]
		if s != nil {
			fn(s)
			if st.slots[i] != s && st.slots[i] != nil {
				continue // removed, and a later entry shifted into slot i
			}
		}
		k++
	}
}

// pushOffline appends s, which just went offline at now (coarse clock, not
// 0), to the offline list. Caller holds mu; s has a sessionExt and is not
// in the list.
func (st *sessionStore) pushOffline(s *session, now int64) {
	s.offAt = now
	s.offPrev, s.offNext = st.offTail, nil
	if st.offTail != nil {
		st.offTail.offNext = s
	} else {
		st.offHead = s
	}
	st.offTail = s
	st.offN++
}

// unlinkOffline removes s from the offline list if it is there. Caller
// holds mu.
func (st *sessionStore) unlinkOffline(s *session) {
	if s.sessionExt == nil || s.offAt == 0 {
		return
	}
	if s.offPrev != nil {
		s.offPrev.offNext = s.offNext
	} else {
		st.offHead = s.offNext
	}
	if s.offNext != nil {
		s.offNext.offPrev = s.offPrev
	} else {
		st.offTail = s.offPrev
	}
	s.offAt, s.offPrev, s.offNext = 0, nil, nil
	st.offN--
}

// len returns the number of stored sessions. Safe from any goroutine.
func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.n
}

// sessionTable maps dense SubscriberIDs to sessions without locks on the
// read side: a fixed array of lazily allocated chunks of atomic pointers.
// It holds maxSubscriberIDs ids; a released id is reused after
// idQuarantine, and when every id is taken (or quarantined) add refuses.
type sessionTable struct {
	mu    sync.Mutex // guards free, next, limit and chunk allocation
	free  []freeID   // FIFO of released ids
	next  trie.SubscriberID
	limit trie.SubscriberID // highest id add hands out; 0 means maxSubscriberIDs-1
	// chunks is indexed by id >> sessionChunkBits.
	chunks [sessionChunks]atomic.Pointer[sessionChunk]
}

const (
	sessionChunkBits = 10
	sessionChunks    = 1 << 14
	// maxSubscriberIDs is the table's capacity, id 0 (never used)
	// included: 16,777,216.
	maxSubscriberIDs = sessionChunks << sessionChunkBits
)

// freeID is a released id and when it was released. An id is reused only
// after idQuarantine, so that a match result computed before the release
// (another loop's cache, a batch in flight) cannot reach the id's next owner.
type freeID struct {
	id trie.SubscriberID
	at time.Time
}

const idQuarantine = 2 * time.Second

type sessionChunk [1 << sessionChunkBits]atomic.Pointer[session]

// get returns the session with id, or nil. Safe from any goroutine.
func (t *sessionTable) get(id trie.SubscriberID) *session {
	ch := t.chunks[id>>sessionChunkBits].Load()
	if ch == nil {
		return nil
	}
	return ch[id&(1<<sessionChunkBits-1)].Load()
}

// add stores s under a new id and returns the id, or false when every id
// is in use or still quarantined. Safe from any goroutine.
func (t *sessionTable) add(s *session) (trie.SubscriberID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	limit := t.limit
	if limit == 0 {
		limit = maxSubscriberIDs - 1
	}
	var id trie.SubscriberID
	switch {
	case len(t.free) > 0 && time.Since(t.free[0].at) > idQuarantine:
		id = t.free[0].id
		t.free[0] = freeID{}
		t.free = t.free[1:]
	case t.next < limit:
		t.next++ // id 0 is never used
		id = t.next
	default:
		return 0, false
	}
	ci := id >> sessionChunkBits
	ch := t.chunks[ci].Load()
	if ch == nil {
		ch = new(sessionChunk)
		t.chunks[ci].Store(ch)
	}
	ch[id&(1<<sessionChunkBits-1)].Store(s)
	return id, true
}

// remove frees s's id. Safe from any goroutine. The caller must have
// removed every subscription of s from the trie first.
func (t *sessionTable) remove(s *session, id trie.SubscriberID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ch := t.chunks[id>>sessionChunkBits].Load()
	if ch == nil || ch[id&(1<<sessionChunkBits-1)].Load() != s {
		return
	}
	ch[id&(1<<sessionChunkBits-1)].Store(nil)
	t.free = append(t.free, freeID{id: id, at: time.Now()})
}
