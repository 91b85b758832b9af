package trie

import (
	"bytes"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Retained indexes the latest retained message per topic name, as a tree of
// topic levels sharded by the first level. V is the caller's message record.
// Match walks only the part of the tree a filter can reach. Readers (Get,
// Match, Count) take no lock; writers serialise per shard. Safe from any
// goroutine.
type Retained[V any] struct {
	shards []rshard[V]
	shift  uint8
	count  atomic.Int64
}

type rshard[V any] struct {
	mu   sync.Mutex // serialises writers
	root rnode[V]
	_    [64]byte
}

// rnode is one topic level of the retained tree; see node for the rules.
type rnode[V any] struct {
	key      string
	hash     uint64
	parent   *rnode[V]
	children atomic.Pointer[table[rnode[V]]]
	val      atomic.Pointer[retained[V]]
	tomb     *rnode[V] // the deleted-slot marker of children, shared by the tree
}

// retained is one stored message; immutable.
type retained[V any] struct {
	topic string
	v     V
}

// NewRetained returns an empty Retained with DefaultShards shards.
func NewRetained[V any]() *Retained[V] {
	b := bits.Len(uint(DefaultShards - 1))
	r := &Retained[V]{shards: make([]rshard[V], 1<<b), shift: uint8(64 - b)}
	tomb := new(rnode[V])
	for i := range r.shards {
		r.shards[i].root.tomb = tomb
	}
	return r
}

func rnodeHash[V any](n *rnode[V]) uint64 { return n.hash }

// first returns the first level of topic.
func first[S ~string | ~[]byte](topic S) S {
	for i := 0; i < len(topic); i++ {
		if topic[i] == '/' {
			return topic[:i]
		}
	}
	return topic
}

// find returns the node of topic, creating it if create is set; nil if
// absent. Caller holds the shard's mutex if create is set.
func (r *Retained[V]) find(topic string, create bool) (*rnode[V], *rshard[V]) {
	sh := &r.shards[xxhash.Sum64String(first(topic))>>r.shift]
	n := &sh.root
	for start := 0; ; {
		end := strings.IndexByte(topic[start:], '/')
		if end < 0 {
			end = len(topic)
		} else {
			end += start
		}
		k := topic[start:end]
		h := xxhash.Sum64String(k)
		c := n.children.Load().find(h, func(c *rnode[V]) bool { return c.hash == h && c.key == k })
		if c == nil {
			if !create {
				return nil, sh
			}
			c = &rnode[V]{key: strings.Clone(k), hash: h, parent: n, tomb: n.tomb}
			n.children.Store(n.children.Load().insert(h, c, n.tomb, rnodeHash[V]))
		}
		n = c
		if end == len(topic) {
			return n, sh
		}
		start = end + 1
	}
}

// Set stores v as the retained message of topic, replacing any previous one
// [MQTT-3.3.1-5], and reports whether one was replaced. topic must be a
// valid topic name; the index keeps its own copy. Safe from any goroutine.
func (r *Retained[V]) Set(topic string, v V) (replaced bool) {
	_, replaced = r.Swap(topic, v)
	return replaced
}

// Swap is Set returning the message it replaced, if any. Safe from any
// goroutine.
func (r *Retained[V]) Swap(topic string, v V) (old V, replaced bool) {
	sh := &r.shards[xxhash.Sum64String(first(topic))>>r.shift]
	sh.mu.Lock()
	n, _ := r.find(topic, true)
	e := n.val.Swap(&retained[V]{topic: strings.Clone(topic), v: v})
	sh.mu.Unlock()
	if e == nil {
		r.count.Add(1)
		return old, false
	}
	return e.v, true
}

// Delete removes the retained message of topic and reports whether there was
// one. Safe from any goroutine.
func (r *Retained[V]) Delete(topic string) bool {
	_, ok := r.DeleteFunc(topic, nil)
	return ok
}

// DeleteFunc removes the retained message of topic if del is nil or
// returns true for it, and returns the message removed. del runs under the
// shard's lock, so the message it sees is the one removed: a message set
// meanwhile is not removed in its place. del must not call r. Safe from
// any goroutine.
func (r *Retained[V]) DeleteFunc(topic string, del func(V) bool) (old V, ok bool) {
	sh := &r.shards[xxhash.Sum64String(first(topic))>>r.shift]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n, _ := r.find(topic, false)
	if n == nil {
		return old, false
	}
	e := n.val.Load()
	if e == nil || del != nil && !del(e.v) {
		return old, false
	}
	n.val.Store(nil)
	for n.parent != nil && n.val.Load() == nil && n.children.Load() == nil {
		p := n.parent
		p.children.Store(p.children.Load().remove(n.hash, n, rnodeHash[V]))
		n = p
	}
	r.count.Add(-1)
	return e.v, true
}

// Range calls fn for every retained message, $ topics included, until fn
// returns false. The order is unspecified; fn may call any method of r,
// and a message set or deleted during the walk may or may not be seen.
// Safe from any goroutine.
func (r *Retained[V]) Range(fn func(topic string, v V) bool) {
	for i := range r.shards {
		if !r.shards[i].root.all(fn) {
			return
		}
	}
}

// Get returns the retained message of topic. Safe from any goroutine.
func (r *Retained[V]) Get(topic string) (v V, ok bool) {
	if n, _ := r.find(topic, false); n != nil {
		if e := n.val.Load(); e != nil {
			return e.v, true
		}
	}
	return v, false
}

// Count returns the number of retained messages. Safe from any goroutine.
func (r *Retained[V]) Count() int { return int(r.count.Load()) }

// Match calls fn for each retained message whose topic matches filter (a
// valid topic filter without $share prefix) [MQTT-3.3.1-6], until fn returns
// false. It visits only the levels the filter can reach. The order is
// unspecified. fn may call any method of r; a message set or deleted during
// the walk may or may not be seen. topic is the stored topic, valid forever.
// Safe from any goroutine.
func (r *Retained[V]) Match(filter []byte, fn func(topic string, v V) bool) {
	if len(filter) == 0 {
		return
	}
	f0 := first(filter)
	if len(f0) == 1 && (f0[0] == '+' || f0[0] == '#') {
		for i := range r.shards {
			ok := r.shards[i].root.children.Load().each(func(c *rnode[V]) bool {
				if strings.HasPrefix(c.key, "$") {
					return true // [MQTT-4.7.2-1]
				}
				if f0[0] == '#' {
					return c.all(fn)
				}
				return c.match(filter, 1, fn)
			})
			if !ok {
				return
			}
		}
		return
	}
	h := xxhash.Sum64(f0)
	root := &r.shards[h>>r.shift].root
	if c := root.children.Load().find(h, func(c *rnode[V]) bool { return c.hash == h && c.key == string(f0) }); c != nil {
		c.match(filter, len(f0), fn)
	}
}

// match continues a Match at n, which matched the filter level ending at
// filter[end]; it reports whether to continue.
func (n *rnode[V]) match(filter []byte, end int, fn func(string, V) bool) bool {
	if end == len(filter) {
		return n.emit(fn)
	}
	// filter[end] == '/'; the next level is filter[start:next].
	start := end + 1
	next := len(filter)
	if i := bytes.IndexByte(filter[start:], '/'); i >= 0 {
		next = start + i
	}
	k := filter[start:next]
	if len(k) == 1 && k[0] == '#' {
		return n.all(fn) // "a/#" matches "a" and everything below.
	}
	if len(k) == 1 && k[0] == '+' {
		return n.children.Load().each(func(c *rnode[V]) bool { return c.match(filter, next, fn) })
	}
	h := xxhash.Sum64(k)
	c := n.children.Load().find(h, func(c *rnode[V]) bool { return c.hash == h && c.key == string(k) })
	return c == nil || c.match(filter, next, fn)
}

// emit calls fn for n's message, if any.
func (n *rnode[V]) emit(fn func(string, V) bool) bool {
	if e := n.val.Load(); e != nil {
		return fn(e.topic, e.v)
	}
	return true
}

// all calls fn for n's message and every message below n.
func (n *rnode[V]) all(fn func(string, V) bool) bool {
	return n.emit(fn) && n.children.Load().each(func(c *rnode[V]) bool { return c.all(fn) })
}
