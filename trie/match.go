package trie

import (
	"slices"

	"github.com/cespare/xxhash/v2"
)

// level is one level of a tokenized topic: topic[start:end] and its hash.
type level struct {
	start, end int
	hash       uint64
}

// maxDenseID bounds the ids merged through Result.pos; larger ids use a map.
const maxDenseID = 1 << 24

// Match fills res, after resetting it, with what a message published on
// topic must reach: one Delivery per subscriber with matching non-shared
// subscriptions and every matching shared Group [MQTT-3.3.2-3]. topic must
// be a valid topic name (ValidTopicName). Match takes no lock and allocates
// nothing once res's buffers have grown. Subscriptions added or removed
// while Match runs may or may not be seen. Safe from any goroutine; res must
// not be used concurrently.
func (t *Trie) Match(topic []byte, res *Result) {
	res.Reset()
	if len(topic) == 0 {
		return
	}
	lv := res.tokenize(topic)
	h0 := lv[0].hash
	if c := t.shards[h0>>t.shift].root.child(topic[:lv[0].end], h0); c != nil {
		matchFrom(c, topic, lv, 1, res)
	}
	if topic[0] == '$' {
		return // [MQTT-4.7.2-1]: no '+' or '#' first level matches a '$' topic.
	}
	w := &t.wild.root
	if m := w.multi.Load(); m != nil {
		res.addNode(m)
	}
	if p := w.plus.Load(); p != nil {
		matchFrom(p, topic, lv, 1, res)
	}
}

// matchFrom collects the subscriptions under n, which matched lv[:d].
func matchFrom(n *node, topic []byte, lv []level, d int, res *Result) {
	for {
		// "#" matches this level and every level below, and also the parent
		// level itself: "a/#" matches "a".
		if m := n.multi.Load(); m != nil {
			res.addNode(m)
		}
		if d == len(lv) {
			res.addNode(n)
			return
		}
		if p := n.plus.Load(); p != nil {
			matchFrom(p, topic, lv, d+1, res)
		}
		l := &lv[d]
		if n = n.child(topic[l.start:l.end], l.hash); n == nil {
			return
		}
		d++
	}
}

// tokenize splits topic into res.levels and hashes each level.
func (r *Result) tokenize(topic []byte) []level {
	lv := r.levels[:0]
	start := 0
	for i, c := range topic {
		if c == '/' {
			lv = append(lv, level{start: start, end: i, hash: xxhash.Sum64(topic[start:i])})
			start = i + 1
		}
	}
	lv = append(lv, level{start: start, end: len(topic), hash: xxhash.Sum64(topic[start:])})
	r.levels = lv
	return lv
}

// addNode adds the subscriptions and groups held at n.
func (r *Result) addNode(n *node) {
	if s := n.one.Load(); s != nil { // one before subs: see node.one
		r.add(s)
	}
	if t := n.subs.Load(); t != nil {
		for i := range t.slots {
			if s := t.slots[i].Load(); s != nil && s != tombSub {
				r.add(s)
			}
		}
	}
	if g := n.groups.Load(); g != nil {
		r.Groups = append(r.Groups, *g...)
	}
}

// add merges s into the delivery of its subscriber, using r.pos as a sparse
// set so that merging costs O(1) without clearing between matches.
func (r *Result) add(s *Subscription) {
	id := s.Subscriber
	n := len(r.Deliveries)
	if id < SubscriberID(len(r.pos)) {
		if p := r.pos[id]; int(p) < n && r.Deliveries[p].Subscriber == id {
			r.Deliveries[p].merge(s)
			return
		}
		r.pos[id] = uint32(n)
	} else if id < maxDenseID {
		r.growPos(id)
		r.pos[id] = uint32(n)
	} else {
		if p, ok := r.big[id]; ok {
			r.Deliveries[p].merge(s)
			return
		}
		if r.big == nil {
			r.big = make(map[SubscriberID]uint32)
		}
		r.big[id] = uint32(n)
	}
	if n < cap(r.Deliveries) {
		r.Deliveries = r.Deliveries[:n+1]
		ids := r.Deliveries[n].Identifiers[:0]
		r.Deliveries[n] = Delivery{Subscriber: id, Identifiers: ids}
	} else {
		r.Deliveries = append(r.Deliveries, Delivery{Subscriber: id})
	}
	r.Deliveries[n].merge(s)
}

func (r *Result) growPos(id SubscriberID) {
	n := max(2*len(r.pos), int(id)+1, 1024)
	p := make([]uint32, min(n, maxDenseID))
	copy(p, r.pos)
	r.pos = p
}

// merge folds s into d: highest QoS, identifiers, options.
func (d *Delivery) merge(s *Subscription) {
	d.QoS = max(d.QoS, s.QoS)
	if !s.NoLocal {
		d.Local = true // [MQTT-3.8.3-3]: NoLocal subscriptions never reach the publisher.
		d.LocalQoS = max(d.LocalQoS, s.QoS)
	}
	d.RetainAsPublished = d.RetainAsPublished || s.RetainAsPublished
	if s.Identifier != 0 && !slices.Contains(d.Identifiers, s.Identifier) {
		d.Identifiers = append(d.Identifiers, s.Identifier)
	}
}
