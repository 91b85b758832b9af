package engine

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// TestSessionStore checks the session store against a map under random
// puts, replacements and removals (clusters wrap around the table end),
// and that each visits every session once even when its callback removes
// sessions.
func TestSessionStore(t *testing.T) {
	st := &sessionStore{seed: maphash.MakeSeed()}
	ref := map[string]*session{}
	rng := rand.New(rand.NewPCG(1, 2))
	for op := range 20000 {
		id := fmt.Sprintf("c%d", rng.IntN(600))
		switch rng.IntN(3) {
		case 0, 1:
			s := &session{clientID: id}
			st.put(s)
			ref[id] = s
		case 2:
			if s := ref[id]; s != nil {
				st.remove(&session{clientID: id}) // not the stored one: no-op
				st.remove(s)
				delete(ref, id)
			}
		}
		if op%500 == 0 {
			equal(t, st.n, len(ref), "count")
			for k, s := range ref {
				check(t, st.get(k) == s, "get", k)
			}
		}
		check(t, st.get(id) == ref[id], "get after op", id)
	}
	seen := map[*session]int{}
	st.each(func(s *session) {
		seen[s]++
		if len(seen)%3 == 0 {
			st.remove(s)
			delete(ref, s.clientID)
		}
	})
	for s, n := range seen {
		equal(t, n, 1, "each visits once", s.clientID)
	}
	equal(t, st.n, len(ref), "count after each")
	for k, s := range ref {
		check(t, st.get(k) == s, "get after each", k)
	}
}

// TestSessionStoreShrinks: the table gives its capacity back as sessions
// go, by single removals and by removals during each, and still finds
// every session left.
func TestSessionStoreShrinks(t *testing.T) {
	st := &sessionStore{seed: maphash.MakeSeed()}
	var all []*session
	for i := range 100000 {
		s := &session{clientID: fmt.Sprintf("c%d", i)}
		st.put(s)
		all = append(all, s)
	}
	peak := len(st.slots)
	for _, s := range all[1000:] {
		st.remove(s)
	}
	check(t, len(st.slots) <= 4096 && len(st.slots)*3/4 >= st.n, "after removals", len(st.slots), st.n)
	for _, s := range all[:1000] {
		check(t, st.get(s.clientID) == s, "kept", s.clientID)
	}
	n := 0
	st.each(func(s *session) {
		if n++; n > 10 {
			st.remove(s)
		}
	})
	equal(t, st.n, 10, "left after each")
	equal(t, len(st.slots), minStoreSlots, "table after each")
	t.Logf("slots: %d at 100,000 sessions, %d at 10", peak, len(st.slots))
	found := 0
	for _, s := range all[:1000] {
		if st.get(s.clientID) == s {
			found++
		}
	}
	equal(t, found, 10, "sessions left found")
}

// TestSessionStoreOfflineList: the offline list keeps the order sessions
// went offline in across removals from its head, middle and tail.
func TestSessionStoreOfflineList(t *testing.T) {
	st := &sessionStore{seed: maphash.MakeSeed()}
	ss := make([]*session, 5)
	for i := range ss {
		ss[i] = &session{clientID: fmt.Sprint(i), sessionExt: &sessionExt{}}
		st.pushOffline(ss[i], int64(i+1))
	}
	order := func() string {
		var ids []string
		for s := st.offHead; s != nil; s = s.offNext {
			ids = append(ids, s.clientID)
		}
		var back []string
		for s := st.offTail; s != nil; s = s.offPrev {
			back = append([]string{s.clientID}, back...)
		}
		equal(t, fmt.Sprint(back), fmt.Sprint(ids), "both directions")
		equal(t, len(ids), st.offN, "count")
		return fmt.Sprint(ids)
	}
	equal(t, order(), "[0 1 2 3 4]")
	st.unlinkOffline(ss[0])
	st.unlinkOffline(ss[2])
	st.unlinkOffline(ss[4])
	st.unlinkOffline(ss[4]) // not in the list: no-op
	equal(t, order(), "[1 3]")
	st.pushOffline(ss[0], 9)
	equal(t, order(), "[1 3 0]")
	st.unlinkOffline(&session{clientID: "never"}) // no sessionExt
	equal(t, order(), "[1 3 0]")
}
