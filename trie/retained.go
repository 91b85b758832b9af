package trie

import (
	"sync"
)

// Retained indexes the latest retained message per topic name. V is the
// caller's message record. Safe from any goroutine.
// NOTE: temporary naive body; the lock-free level index replaces it.
type Retained[V any] struct {
	mu sync.RWMutex
	m  map[string]V
}

// NewRetained returns an empty Retained.
func NewRetained[V any]() *Retained[V] { return &Retained[V]{m: map[string]V{}} }

// Set stores v as the retained message of topic, replacing any previous one,
// and reports whether one was replaced. topic must be a valid topic name.
// Safe from any goroutine.
func (r *Retained[V]) Set(topic string, v V) (replaced bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, replaced = r.m[topic]
	r.m[topic] = v
	return replaced
}

// Delete removes the retained message of topic and reports whether there was
// one. Safe from any goroutine.
func (r *Retained[V]) Delete(topic string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.m[topic]
	delete(r.m, topic)
	return ok
}

// Get returns the retained message of topic. Safe from any goroutine.
func (r *Retained[V]) Get(topic string) (v V, ok bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok = r.m[topic]
	return v, ok
}

// Count returns the number of retained messages. Safe from any goroutine.
func (r *Retained[V]) Count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.m)
}

// Match calls fn for each retained message whose topic matches filter (a
// valid topic filter without $share prefix), until fn returns false. The
// order is unspecified. fn may call other methods of r; a message set or
// deleted during the walk may or may not be seen. Safe from any goroutine.
func (r *Retained[V]) Match(filter []byte, fn func(topic string, v V) bool) {
	r.mu.RLock()
	type kv struct {
		k string
		v V
	}
	var hits []kv
	for k, v := range r.m {
		if naiveMatch(string(filter), k) {
			hits = append(hits, kv{k, v})
		}
	}
	r.mu.RUnlock()
	for _, h := range hits {
		if !fn(h.k, h.v) {
			return
		}
	}
}
