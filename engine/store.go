package engine

import (
	"hash/maphash"
	"sync"
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
