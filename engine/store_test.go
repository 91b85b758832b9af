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
