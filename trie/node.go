package trie

import (
	"strings"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// node is one level of a topic filter. Fields read by Match are atomic
// pointers to immutable values or to single-writer tables (see table); the
// writer holds the mutex of the node's shard.
type node struct {
	key    string // this level
	path   string // the whole filter; set by the writer once the node holds a subscription
	hash   uint64 // xxhash of key
	parent *node  // nil for a shard root

	children atomic.Pointer[table[node]] // exact levels
	plus     atomic.Pointer[node]        // "+" child
	multi    atomic.Pointer[node]        // "#" child
	// Non-shared subscriptions: a lone one in one (no table: saves memory
	// and an indirection for the common exact filter, BenchmarkMemory and
	// BenchmarkMatch), more in subs keyed by Subscriber. The writer stores
	// subs before clearing one, and readers load one before subs, so a
	// reader may see a subscription twice (merged away) but never miss it.
	one    atomic.Pointer[Subscription]
	subs   atomic.Pointer[table[Subscription]]
	groups atomic.Pointer[[]*Group] // shared, immutable snapshot
}

// Deleted-slot markers for the tables.
var (
	tombNode = new(node)
	tombSub  = new(Subscription)
)

func nodeHash(n *node) uint64 { return n.hash }

// idHash spreads subscriber ids over a table, whose slot is the low bits:
// Fibonacci hashing, with the high half folded in so that ids differing
// only in high bits do not collide.
func idHash(id SubscriberID) uint64 {
	h := uint64(id) * 0x9E3779B97F4A7C15
	return h ^ h>>32
}

func subHash(s *Subscription) uint64 { return idHash(s.Subscriber) }

// child returns the exact child with key k and hash h, or nil. Safe from any
// goroutine; specialised from table.find because it is on the Match path
// (BenchmarkMatch).
func (n *node) child(k []byte, h uint64) *node {
	t := n.children.Load()
	if t == nil {
		return nil
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		c := t.slots[i].Load()
		if c == nil {
			return nil
		}
		if c.hash == h && c.key == string(k) && c != tombNode {
			return c
		}
	}
}

// childString is child for the writer's string keys.
func (n *node) childString(k string, h uint64) *node {
	return n.children.Load().find(h, func(c *node) bool { return c.hash == h && c.key == k })
}

// empty reports whether n holds nothing and can be unlinked. Caller is the writer.
func (n *node) empty() bool {
	return n.children.Load() == nil && n.plus.Load() == nil && n.multi.Load() == nil &&
		n.one.Load() == nil && n.subs.Load() == nil && n.groups.Load() == nil
}

// descend returns the child of n for the level filter[start:end], creating
// it if create is set; nil if absent. Caller is the writer.
func (n *node) descend(filter string, start, end int, create bool) *node {
	k := filter[start:end]
	var slot *atomic.Pointer[node]
	switch k {
	case "+":
		slot = &n.plus
	case "#":
		slot = &n.multi
	default:
		h := xxhash.Sum64String(k)
		if c := n.childString(k, h); c != nil || !create {
			return c
		}
		c := newNode(k, h, n)
		n.children.Store(n.children.Load().insert(h, c, tombNode, nodeHash))
		return c
	}
	if c := slot.Load(); c != nil || !create {
		return c
	}
	c := newNode(k, 0, n)
	slot.Store(c)
	return c
}

func newNode(key string, h uint64, parent *node) *node {
	// Own copy: the caller's string may alias a short-lived buffer.
	return &node{key: strings.Clone(key), hash: h, parent: parent}
}

// unlink removes n, which is empty, from its parent. Caller is the writer.
func (n *node) unlink() {
	p := n.parent
	switch {
	case p.plus.Load() == n:
		p.plus.Store(nil)
	case p.multi.Load() == n:
		p.multi.Store(nil)
	default:
		p.children.Store(p.children.Load().remove(n.hash, n, nodeHash))
	}
}
