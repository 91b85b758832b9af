package trie

import "sync/atomic"

// table is an open-addressing hash set of *T with one writer and any number
// of lock-free readers, the building block of every fan-out in the index
// (children of a node, subscriptions at a node, retained levels).
//
// Readers Load the table pointer from its owner, then probe with atomic loads
// and never block. The single writer (the caller holds the shard mutex) only
// makes these in-place transitions: nil -> entry, entry -> tomb,
// tomb -> entry, entry -> replacement for the same key. A slot never returns
// to nil, so an entry present in the table is always reached by a probe that
// starts at its home slot. Growing, shrinking and purging tombstones build a
// new table that the owner publishes with an atomic Store; a reader still on
// the old table sees a consistent older state, because the writer never
// touches a table again once it is replaced.
//
// live+used <= 3/4 of the slots, so every probe ends at a nil slot.
type table[T any] struct {
	slots []atomic.Pointer[T]
	mask  uint64
	tomb  *T  // the deleted-slot marker of this T
	live  int // entries; writer only
	used  int // entries plus tombstones; writer only
}

// minTableSlots is the capacity of the smallest table.
const minTableSlots = 2

func newTable[T any](slots int, tomb *T) *table[T] {
	n := minTableSlots
	for n < slots {
		n <<= 1
	}
	return &table[T]{slots: make([]atomic.Pointer[T], n), mask: uint64(n - 1), tomb: tomb}
}

// find returns the entry with hash h for which eq is true, or nil. t may be
// nil. Safe from any goroutine.
func (t *table[T]) find(h uint64, eq func(*T) bool) *T {
	if t == nil {
		return nil
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		e := t.slots[i].Load()
		if e == nil {
			return nil
		}
		if e != t.tomb && eq(e) {
			return e
		}
	}
}

// insert adds e, whose key is absent, and returns the table the owner must
// publish (t itself or a rebuilt one). t may be nil. Caller is the writer.
func (t *table[T]) insert(h uint64, e *T, tomb *T, hash func(*T) uint64) *table[T] {
	if t == nil {
		t = newTable(minTableSlots, tomb)
	} else if (t.used+1)*4 > len(t.slots)*3 {
		t = t.rebuild(max(2*(t.live+1), minTableSlots), hash)
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i].Load()
		if s == nil || s == t.tomb {
			if s == nil {
				t.used++
			}
			t.live++
			t.slots[i].Store(e)
			return t
		}
	}
}

// replace swaps old, which must be present, for e with the same key.
// Caller is the writer.
func (t *table[T]) replace(h uint64, old, e *T) {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == old {
			t.slots[i].Store(e)
			return
		}
	}
}

// remove deletes e, which must be present, and returns the table the owner
// must publish: t, a smaller rebuilt table, or nil when empty. Caller is the
// writer.
func (t *table[T]) remove(h uint64, e *T, hash func(*T) uint64) *table[T] {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i].Load() == e {
			t.slots[i].Store(t.tomb)
			break
		}
	}
	t.live--
	switch {
	case t.live == 0:
		return nil
	case len(t.slots) > 8 && t.live*8 < len(t.slots):
		// Shrink so that unsubscribing gives the memory back.
		return t.rebuild(2*t.live, hash)
	}
	return t
}

// rebuild returns a new table with at least the given slots holding t's
// live entries, without tombstones.
func (t *table[T]) rebuild(slots int, hash func(*T) uint64) *table[T] {
	n := newTable(slots, t.tomb)
	for i := range t.slots {
		e := t.slots[i].Load()
		if e == nil || e == t.tomb {
			continue
		}
		for j := hash(e) & n.mask; ; j = (j + 1) & n.mask {
			if n.slots[j].Load() == nil {
				n.slots[j].Store(e)
				break
			}
		}
	}
	n.live, n.used = t.live, t.live
	return n
}

// each calls fn for every entry until fn returns false; it reports whether
// the walk completed. t may be nil. Safe from any goroutine.
func (t *table[T]) each(fn func(*T) bool) bool {
	if t == nil {
		return true
	}
	for i := range t.slots {
		e := t.slots[i].Load()
		if e != nil && e != t.tomb && !fn(e) {
			return false
		}
	}
	return true
}
