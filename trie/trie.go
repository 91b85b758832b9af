package trie

import (
	"bytes"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Trie is the subscription index. Filters are sharded by the xxhash of their
// first level; filters whose first level is a wildcard live in their own
// shard. Match takes no lock and, with a reused Result, allocates nothing;
// Subscribe and Unsubscribe serialise per shard. Safe from any goroutine.
type Trie struct {
	shards []shard
	shift  uint8 // shard index = hash >> shift
	wild   shard // filters starting with '+' or '#'
	gen    atomic.Uint64
	count  atomic.Int64
	opts   Options
}

// shard is one independently locked part of the index.
type shard struct {
	mu   sync.Mutex // serialises writers; Match never takes it
	root node
	gen  atomic.Uint64 // bumped on every change in this shard
	_    [64]byte      // keep shards on separate cache lines
}

// DefaultShards is the default Options.Shards.
const DefaultShards = 16

// New returns an empty Trie.
func New(opts ...Option) *Trie {
	o := Options{Shards: DefaultShards, Strategy: RoundRobin{}}
	for _, fn := range opts {
		fn(&o)
	}
	if o.Shards < 1 {
		o.Shards = 1
	}
	if o.Strategy == nil {
		o.Strategy = RoundRobin{}
	}
	b := bits.Len(uint(o.Shards - 1))
	o.Shards = 1 << b
	return &Trie{shards: make([]shard, o.Shards), shift: uint8(64 - b), opts: o}
}

// Generation returns a number that changes on every successful Subscribe and
// Unsubscribe. Read it before Match: a Result cached under one generation is
// stale once Generation returns another. Safe from any goroutine.
func (t *Trie) Generation() uint64 { return t.gen.Load() }

// GenerationOf returns a number that changes whenever a subscription that
// could match topic is added or removed: it covers the shard of topic's first
// level and the wildcard shard, so changes elsewhere leave it unchanged. Use
// it instead of Generation to keep a per-topic cache entry valid across
// unrelated subscription churn: read it before Match and store it with the
// entry. Safe from any goroutine; allocates nothing.
func (t *Trie) GenerationOf(topic []byte) uint64 {
	f := topic
	if i := bytes.IndexByte(topic, '/'); i >= 0 {
		f = topic[:i]
	}
	// Both counters only grow, so their sum changes iff one of them does.
	return t.shards[xxhash.Sum64(f)>>t.shift].gen.Load() + t.wild.gen.Load()
}

// Len returns the number of subscriptions, shared ones included. Safe from
// any goroutine.
func (t *Trie) Len() int { return int(t.count.Load()) }

// shardOf returns the shard that holds filter.
func (t *Trie) shardOf(filter string) *shard {
	first := filter
	if i := strings.IndexByte(filter, '/'); i >= 0 {
		first = filter[:i]
	}
	if first == "+" || first == "#" {
		return &t.wild
	}
	return &t.shards[xxhash.Sum64String(first)>>t.shift]
}

// walk returns the node of filter in sh, creating missing nodes if create is
// set; nil if absent. Caller holds sh.mu.
func walk(sh *shard, filter string, create bool) *node {
	n := &sh.root
	start := 0
	for n != nil {
		end := strings.IndexByte(filter[start:], '/')
		if end < 0 {
			return n.descend(filter, start, len(filter), create)
		}
		n = n.descend(filter, start, start+end, create)
		start += end + 1
	}
	return nil
}

// Subscribe adds s, or replaces the subscription with the same Subscriber,
// Filter and Group [MQTT-3.8.4-3]; existed reports a replacement. s.Filter
// has no $share prefix (see ParseShared) and is validated here. The trie
// keeps its own copies of the strings. Safe from any goroutine.
func (t *Trie) Subscribe(s Subscription) (existed bool, err error) {
	if err := ValidTopicFilter([]byte(s.Filter)); err != nil {
		return false, err
	}
	if s.QoS > 2 {
		return false, ErrBadQoS
	}
	if s.Group != "" {
		if s.NoLocal {
			return false, ErrSharedNoLocal // [MQTT-3.8.3-4] v5
		}
		if strings.ContainsAny(s.Group, "/+#") {
			return false, ErrBadShareName // [MQTT-4.8.2-2]
		}
	}
	sh := t.shardOf(s.Filter)
	sh.mu.Lock()
	n := walk(sh, s.Filter, true)
	if n.path == "" {
		n.path = strings.Clone(s.Filter) // shared by every subscription here
	}
	s.Filter = n.path
	if s.Group == "" {
		existed = n.putSub(&s)
	} else {
		existed = n.putMember(&s, t.opts.Strategy)
	}
	sh.gen.Add(1)
	t.gen.Add(1)
	sh.mu.Unlock()
	if !existed {
		t.count.Add(1)
	}
	return existed, nil
}

// putSub stores a copy of s in n and reports whether it replaced one.
// Caller is the writer.
func (n *node) putSub(s *Subscription) bool {
	e := new(Subscription)
	*e = *s
	id := s.Subscriber
	h := idHash(id)
	tab := n.subs.Load()
	if tab == nil {
		o := n.one.Load()
		switch {
		case o == nil:
			n.one.Store(e)
			return false
		case o.Subscriber == id:
			n.one.Store(e)
			return true
		}
		// A second subscriber: move to a table. Publish the table before
		// clearing one (see node.one).
		tab = tab.insert(idHash(o.Subscriber), o, tombSub, subHash)
		n.subs.Store(tab.insert(h, e, tombSub, subHash))
		n.one.Store(nil)
		return false
	}
	if old := tab.find(h, func(o *Subscription) bool { return o.Subscriber == id }); old != nil {
		tab.replace(h, old, e)
		return true
	}
	n.subs.Store(tab.insert(h, e, tombSub, subHash))
	return false
}

// putMember adds or replaces s in its group at n, creating the group, and
// reports whether it replaced a member. Caller is the writer.
func (n *node) putMember(s *Subscription, st Strategy) bool {
	g := n.group(s.Group)
	if g == nil {
		g = &Group{Name: strings.Clone(s.Group), Filter: n.path, strategy: st}
		var gs []*Group
		if p := n.groups.Load(); p != nil {
			gs = append(gs, *p...)
		}
		gs = append(gs, g)
		n.groups.Store(&gs)
	}
	s.Group = g.Name
	old := g.Members()
	m := make([]Subscription, 0, len(old)+1)
	replaced := false
	for _, o := range old {
		if o.Subscriber == s.Subscriber {
			o, replaced = *s, true
		}
		m = append(m, o)
	}
	if !replaced {
		m = append(m, *s)
	}
	g.members.Store(newMemberSnap(m))
	return replaced
}

// group returns the group named name at n, or nil. Caller is the writer.
func (n *node) group(name string) *Group {
	if p := n.groups.Load(); p != nil {
		for _, g := range *p {
			if g.Name == name {
				return g
			}
		}
	}
	return nil
}

// Unsubscribe removes the subscription of id with exactly this filter and
// group [MQTT-3.10.4-1] and reports whether it existed. filter has no $share
// prefix. Safe from any goroutine.
func (t *Trie) Unsubscribe(id SubscriberID, filter, group string) bool {
	if filter == "" {
		return false
	}
	sh := t.shardOf(filter)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := walk(sh, filter, false)
	if n == nil {
		return false
	}
	var ok bool
	if group == "" {
		ok = n.delSub(id)
	} else {
		ok = n.delMember(id, group)
	}
	if !ok {
		return false
	}
	for n.parent != nil && n.empty() {
		n.unlink()
		n = n.parent
	}
	sh.gen.Add(1)
	t.gen.Add(1)
	t.count.Add(-1)
	return true
}

// delSub removes id's non-shared subscription at n. Caller is the writer.
func (n *node) delSub(id SubscriberID) bool {
	if o := n.one.Load(); o != nil {
		if o.Subscriber != id {
			return false
		}
		n.one.Store(nil)
		return true
	}
	h := idHash(id)
	tab := n.subs.Load()
	e := tab.find(h, func(o *Subscription) bool { return o.Subscriber == id })
	if e == nil {
		return false
	}
	n.subs.Store(tab.remove(h, e, subHash))
	return true
}

// delMember removes id from the group name at n, dropping the group when it
// becomes empty. Caller is the writer.
func (n *node) delMember(id SubscriberID, name string) bool {
	g := n.group(name)
	if g == nil {
		return false
	}
	old := g.Members()
	m := make([]Subscription, 0, len(old))
	for _, o := range old {
		if o.Subscriber != id {
			m = append(m, o)
		}
	}
	if len(m) == len(old) {
		return false
	}
	g.members.Store(newMemberSnap(m))
	if len(m) > 0 {
		return true
	}
	gs := make([]*Group, 0, len(*n.groups.Load()))
	for _, o := range *n.groups.Load() {
		if o != g {
			gs = append(gs, o)
		}
	}
	if len(gs) == 0 {
		n.groups.Store(nil)
	} else {
		n.groups.Store(&gs)
	}
	return true
}
