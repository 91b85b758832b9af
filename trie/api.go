package trie

import (
	"math/rand/v2"
	"sync/atomic"
)

// SubscriberID identifies one subscriber (one session). The engine assigns
// them; they should be dense small integers because a Result indexes a
// scratch slice by SubscriberID to merge overlapping subscriptions (4 bytes
// per id up to the largest seen). Ids of 1<<24 and above still work, through
// a slower map.
type SubscriberID uint64

// Subscription is what one SUBSCRIBE filter stores.
type Subscription struct {
	// Subscriber owns the subscription.
	Subscriber SubscriberID
	// Filter is the topic filter without the $share/{group}/ prefix.
	Filter string
	// Group is the shared-subscription group (ShareName), "" if not shared.
	Group string
	// QoS is the granted maximum QoS, 0 to 2.
	QoS byte
	// NoLocal is the v5 No Local option: never deliver to the publisher itself.
	NoLocal bool
	// RetainAsPublished is the v5 Retain As Published option.
	RetainAsPublished bool
	// RetainHandling is the v5 Retain Handling option (0, 1 or 2); the trie
	// only stores it, the engine applies it at subscribe time.
	RetainHandling byte
	// Identifier is the v5 Subscription Identifier, 0 for none.
	Identifier uint32
}

// Delivery is the merged outcome, for one subscriber, of all its non-shared
// subscriptions that match one topic. Overlapping subscriptions of one client
// give one delivery: at the highest granted QoS with every subscription
// identifier (3.1.1 section 3.3.5; 5.0 section 3.3.4 allows this form).
type Delivery struct {
	// Subscriber receives the message.
	Subscriber SubscriberID
	// QoS is the highest granted QoS over the matching subscriptions.
	QoS byte
	// Local is true if at least one matching subscription lacks No Local, so
	// the message may go back to the publisher itself [MQTT-3.8.3-3].
	Local bool
	// LocalQoS is the highest granted QoS over the matching subscriptions
	// without No Local; use it instead of QoS when Subscriber is the
	// publisher. Meaningless when Local is false.
	LocalQoS byte
	// RetainAsPublished is true if any matching subscription has it.
	RetainAsPublished bool
	// Identifiers holds the distinct non-zero subscription identifiers of
	// the matching subscriptions, in match order. It is owned by the Result: valid until
	// the Result is reused (next Match or Reset).
	Identifiers []uint32
}

// Result receives the outcome of Trie.Match. The zero value is ready to use.
// Reusing one Result across matches makes Match allocation-free once its
// buffers have grown. A Result is not safe for concurrent use; give each
// goroutine (event loop) its own, and Clone it to cache it.
type Result struct {
	// Deliveries holds one entry per subscriber with a matching non-shared
	// subscription. Valid until the Result is reused.
	Deliveries []Delivery
	// Groups holds the shared groups with a matching filter; each must
	// deliver the message to one member chosen with Group.Pick. A group
	// appears once per matching (group, filter) pair. Valid until reused.
	Groups []*Group

	pos    []uint32                // pos[id] = index in Deliveries, checked against Subscriber (sparse set)
	big    map[SubscriberID]uint32 // positions for ids too large for pos
	levels []level                 // tokenized topic scratch
}

// Reset empties r, keeping its buffers. Not safe for concurrent use of r.
func (r *Result) Reset() {
	for i := range r.Deliveries {
		r.Deliveries[i].Identifiers = r.Deliveries[i].Identifiers[:0]
	}
	r.Deliveries = r.Deliveries[:0]
	clear(r.Groups)
	r.Groups = r.Groups[:0]
	if len(r.big) > 0 {
		clear(r.big)
	}
}

// Clone returns a deep copy of r's Deliveries and Groups that stays valid
// until discarded, for a per-loop cache. Cached results must be dropped when
// Trie.Generation changes. Allocates. Not safe for concurrent use of r; the
// clone, never modified by the trie, may be read from any goroutine.
func (r *Result) Clone() *Result {
	c := &Result{
		Deliveries: make([]Delivery, len(r.Deliveries)),
		Groups:     append([]*Group(nil), r.Groups...),
	}
	n := 0
	for i := range r.Deliveries {
		n += len(r.Deliveries[i].Identifiers)
	}
	ids := make([]uint32, 0, n)
	for i, d := range r.Deliveries {
		if len(d.Identifiers) > 0 {
			start := len(ids)
			ids = append(ids, d.Identifiers...)
			d.Identifiers = ids[start:len(ids):len(ids)]
		} else {
			d.Identifiers = nil
		}
		c.Deliveries[i] = d
	}
	return c
}

// Strategy chooses which member of a shared group receives a message.
// Implementations must be safe from any goroutine.
type Strategy interface {
	// Start returns the index in [0, n) of the first member to offer the
	// message to; n > 0. state is per-group storage the strategy may use.
	Start(state *atomic.Uint64, n int) int
}

// RoundRobin offers each message to the next member in turn.
type RoundRobin struct{}

// Start implements Strategy. Safe from any goroutine.
func (RoundRobin) Start(state *atomic.Uint64, n int) int {
	return int((state.Add(1) - 1) % uint64(n))
}

// Random offers each message to a uniformly random member.
type Random struct{}

// Start implements Strategy. Safe from any goroutine.
func (Random) Start(_ *atomic.Uint64, n int) int {
	return rand.IntN(n)
}

// Group is one shared subscription: a ShareName and a filter, with its
// members. A pointer to a Group stays usable after the group is emptied or
// removed; it then has no members.
type Group struct {
	// Name is the ShareName.
	Name string
	// Filter is the topic filter without the $share/{Name}/ prefix.
	Filter string

	strategy Strategy
	state    atomic.Uint64
	members  atomic.Pointer[memberSnap] // immutable snapshot, copy on write
}

// memberSnap is one immutable version of a group's members. ids[i] is
// subs[i].Identifier, kept apart so that PickMember can hand out a
// one-element identifier slice without allocating.
type memberSnap struct {
	subs []Subscription
	ids  []uint32
}

// newMemberSnap builds the snapshot of subs, which it takes over.
func newMemberSnap(subs []Subscription) *memberSnap {
	ids := make([]uint32, len(subs))
	for i := range subs {
		ids[i] = subs[i].Identifier
	}
	return &memberSnap{subs: subs, ids: ids}
}

// Members returns the current members. The slice is an immutable snapshot:
// valid forever, never modified; do not modify it. Safe from any goroutine.
func (g *Group) Members() []Subscription {
	if m := g.members.Load(); m != nil {
		return m.subs
	}
	return nil
}

// Pick chooses the member that receives one message [MQTT-4.8.2-3]: starting
// at the member the group's Strategy names, it returns the first member for
// which eligible returns true (eligible nil accepts all). ok is false if no
// member is eligible or the group is empty. Safe from any goroutine; eligible
// is called on the caller's goroutine.
func (g *Group) Pick(eligible func(SubscriberID) bool) (s Subscription, ok bool) {
	s, _, ok = g.PickMember(eligible)
	return s, ok
}

// PickMember is Pick that also returns the chosen member's v5 Subscription
// Identifier as a one-element slice, or nil when it has none. ids is a view
// of an immutable snapshot: valid forever, never modified; do not modify
// it. Picking allocates nothing. Safe from any goroutine; eligible is called
// on the caller's goroutine.
func (g *Group) PickMember(eligible func(SubscriberID) bool) (s Subscription, ids []uint32, ok bool) {
	snap := g.members.Load()
	if snap == nil || len(snap.subs) == 0 {
		return Subscription{}, nil, false
	}
	m := snap.subs
	n := len(m)
	start := g.strategy.Start(&g.state, n)
	for i := 0; i < n; i++ {
		j := start + i
		if j >= n {
			j -= n
		}
		if eligible == nil || eligible(m[j].Subscriber) {
			if snap.ids[j] != 0 {
				ids = snap.ids[j : j+1 : j+1]
			}
			return m[j], ids, true
		}
	}
	return Subscription{}, nil, false
}

// Options configure a Trie.
type Options struct {
	// Shards is the number of shards for filters whose first level is not a
	// wildcard, rounded up to a power of two. Writers serialise per shard.
	Shards int
	// Strategy picks shared group members; RoundRobin if nil.
	Strategy Strategy
}

// Option sets one field of Options.
type Option func(*Options)

// WithShards sets Options.Shards.
func WithShards(n int) Option { return func(o *Options) { o.Shards = n } }

// WithStrategy sets Options.Strategy.
func WithStrategy(s Strategy) Option { return func(o *Options) { o.Strategy = s } }
