package trie

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Trie is the subscription index. Safe from any goroutine.
// NOTE: temporary naive body (mutex + scan); the sharded lock-free one replaces it.
type Trie struct {
	opts Options
	mu   sync.RWMutex
	subs map[subKey]Subscription
	grps map[grpKey]*Group
	gen  atomic.Uint64
}

type subKey struct {
	id            SubscriberID
	filter, group string
}

type grpKey struct{ filter, group string }

type level struct {
	start, end int32
	hash       uint64
}

// New returns an empty Trie.
func New(opts ...Option) *Trie {
	t := &Trie{subs: map[subKey]Subscription{}, grps: map[grpKey]*Group{}}
	for _, o := range opts {
		o(&t.opts)
	}
	if t.opts.Strategy == nil {
		t.opts.Strategy = RoundRobin{}
	}
	return t
}

// Generation returns a number that changes on every successful Subscribe and
// Unsubscribe. Read it before Match; a Result cached under one generation is
// stale once Generation returns another. Safe from any goroutine.
func (t *Trie) Generation() uint64 { return t.gen.Load() }

// Subscribe adds s, or replaces the subscription with the same Subscriber,
// Filter and Group [MQTT-3.8.4-3]; existed reports a replacement. s.Filter
// has no $share prefix (see ParseShared). Safe from any goroutine.
func (t *Trie) Subscribe(s Subscription) (existed bool, err error) {
	if err := ValidTopicFilter([]byte(s.Filter)); err != nil {
		return false, err
	}
	if s.QoS > 2 {
		return false, ErrBadQoS
	}
	if s.Group != "" && s.NoLocal {
		return false, ErrSharedNoLocal // [MQTT-3.8.3-4] v5
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k := subKey{s.Subscriber, s.Filter, s.Group}
	_, existed = t.subs[k]
	t.subs[k] = s
	t.rebuildGroup(s.Filter, s.Group)
	t.gen.Add(1)
	return existed, nil
}

func (t *Trie) rebuildGroup(filter, group string) {
	if group == "" {
		return
	}
	var m []Subscription
	for k, v := range t.subs {
		if k.filter == filter && k.group == group {
			m = append(m, v)
		}
	}
	g := t.grps[grpKey{filter, group}]
	if g == nil {
		g = &Group{Name: group, Filter: filter, strategy: t.opts.Strategy}
		t.grps[grpKey{filter, group}] = g
	}
	g.members.Store(&m)
	if len(m) == 0 {
		delete(t.grps, grpKey{filter, group})
	}
}

// Unsubscribe removes the subscription of id with exactly this filter and
// group [MQTT-3.10.4-1] and reports whether it existed. Safe from any goroutine.
func (t *Trie) Unsubscribe(id SubscriberID, filter, group string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := subKey{id, filter, group}
	if _, ok := t.subs[k]; !ok {
		return false
	}
	delete(t.subs, k)
	t.rebuildGroup(filter, group)
	t.gen.Add(1)
	return true
}

// Match fills res (after resetting it) with what a message published on topic must
// reach. topic must be a valid topic name. Safe from any goroutine; res
// must not be shared.
func (t *Trie) Match(topic []byte, res *Result) {
	res.Reset()
	t.mu.RLock()
	defer t.mu.RUnlock()
	tp := string(topic)
	for _, s := range t.subs {
		if s.Group == "" && naiveMatch(s.Filter, tp) {
			res.add(&s)
		}
	}
	for _, g := range t.grps {
		if naiveMatch(g.Filter, tp) {
			res.Groups = append(res.Groups, g)
		}
	}
}

func (r *Result) add(s *Subscription) {
	for i := range r.Deliveries {
		d := &r.Deliveries[i]
		if d.Subscriber == s.Subscriber {
			d.merge(s)
			return
		}
	}
	r.Deliveries = append(r.Deliveries, Delivery{Subscriber: s.Subscriber})
	r.Deliveries[len(r.Deliveries)-1].merge(s)
}

func (d *Delivery) merge(s *Subscription) {
	d.QoS = max(d.QoS, s.QoS)
	if !s.NoLocal {
		d.Local = true
		d.LocalQoS = max(d.LocalQoS, s.QoS)
	}
	d.RetainAsPublished = d.RetainAsPublished || s.RetainAsPublished
	if s.Identifier != 0 {
		d.Identifiers = append(d.Identifiers, s.Identifier)
	}
}

func naiveMatch(filter, topic string) bool {
	f := strings.Split(filter, "/")
	tp := strings.Split(topic, "/")
	if len(tp[0]) > 0 && tp[0][0] == '$' && (f[0] == "+" || f[0] == "#") {
		return false
	}
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(tp) || (l != "+" && l != tp[i]) {
			return false
		}
	}
	return len(f) == len(tp)
}
