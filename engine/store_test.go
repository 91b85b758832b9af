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
			if st.n != len(ref) {
				t.Fatalf("count: got %v, want %v", st.n, len(ref))
			}
			for k, s := range ref {
				if st.get(k) != s {
					t.Fatal("get", k)
				}
			}
		}
		if st.get(id) != ref[id] {
			t.Fatal("get after op", id)
		}
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
		if n != 1 {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("each visits once", s.clientID), n, 1)
		}
	}
	if st.n != len(ref) {
		t.Fatalf("count after each: got %v, want %v", st.n, len(ref))
	}
	for k, s := range ref {
		if st.get(k) != s {
			t.Fatal("get after each", k)
		}
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
	if !(len(st.slots) <= 4096 && len(st.slots)*3/4 >= st.n) {
		t.Fatal("after removals", len(st.slots), st.n)
	}
	for _, s := range all[:1000] {
		if st.get(s.clientID) != s {
			t.Fatal("kept", s.clientID)
		}
	}
	n := 0
	st.each(func(s *session) {
		if n++; n > 10 {
			st.remove(s)
		}
	})
	if st.n != 10 {
		t.Fatalf("left after each: got %v, want %v", st.n, 10)
	}
	if len(st.slots) != minStoreSlots {
		t.Fatalf("table after each: got %v, want %v", len(st.slots), minStoreSlots)
	}
	t.Logf("slots: %d at 100,000 sessions, %d at 10", peak, len(st.slots))
	found := 0
	for _, s := range all[:1000] {
		if st.get(s.clientID) == s {
			found++
		}
	}
	if found != 10 {
		t.Fatalf("sessions left found: got %v, want %v", found, 10)
	}
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
		if got, want := fmt.Sprint(back), fmt.Sprint(ids); got != want {
			t.Fatalf("both directions: got %v, want %v", got, want)
		}
		if len(ids) != st.offN {
			t.Fatalf("count: got %v, want %v", len(ids), st.offN)
		}
		return fmt.Sprint(ids)
	}
	if got := order(); got != "[0 1 2 3 4]" {
		t.Fatalf("got %v, want %v", got, "[0 1 2 3 4]")
	}
	st.unlinkOffline(ss[0])
	st.unlinkOffline(ss[2])
	st.unlinkOffline(ss[4])
	st.unlinkOffline(ss[4]) // not in the list: no-op
	if got := order(); got != "[1 3]" {
		t.Fatalf("got %v, want %v", got, "[1 3]")
	}
	st.pushOffline(ss[0], 9)
	if got := order(); got != "[1 3 0]" {
		t.Fatalf("got %v, want %v", got, "[1 3 0]")
	}
	st.unlinkOffline(&session{clientID: "never"}) // no sessionExt
	if got := order(); got != "[1 3 0]" {
		t.Fatalf("got %v, want %v", got, "[1 3 0]")
	}
}
