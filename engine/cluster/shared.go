package cluster

import (
	"hash/fnv"
	"strconv"

	"github.com/nats-io/nats.go"
)

// Shared subscriptions across nodes. A node with local members of a
// shared group ($share/{group}/{filter}) holds one NATS queue subscription
// per subject of the filter, in a queue named after the group and the
// filter, so that NATS hands each message on a matching subject to one
// node of the group: a message published by a client goes to one queue
// subscriber picked at random among the publishing server's own and the
// routed ones (weighted by how many each remote server holds), and the
// receiving node hands it to one of its members. The queue subscriptions
// are on a second NATS connection, without NoEcho, so that the publishing
// node's own members are among the candidates: the engine then delivers
// to shared groups what arrives through them, and directly only the
// groups that live on this node alone (below).

// A group whose members are all on this node is served here without
// NATS: each node with members of a group also holds a plain subscription
// on the group's presence subject (gust.<name>.g.<queue>), and while the
// embedded server sees no other node's interest in it (GroupLocalOnly),
// the engine delivers to the group itself and flags the record it sends,
// so that the copy NATS hands back to this node's own queue subscription
// is skipped. A node that takes members of the group meanwhile may get a
// copy too during the moment its interest takes to reach the publishing
// node's server.

// groupKey names a shared group.
type groupKey struct{ group, filter string }

// presence is a group's presence subscription.
type presence struct {
	refs    int
	subject string
	sub     *nats.Subscription
}

// Shared is a record delivered to this node for one of its shared groups.
type Shared struct {
	Group, Filter string // the group's name and filter (no $share part)
	Record        []byte
}

// sharedSub is one NATS queue subscription held for a group's local
// members.
type sharedSub struct {
	refs          int
	sub           *nats.Subscription
	group, filter string
}

// queueName names the NATS queue of group on filter: distinct filters
// that share a subject ("a" and "a/#" both take "...a") need distinct
// queues, each delivering once.
func queueName(group, filter string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(filter))
	q := appendLevel(nil, []byte(group))
	q = append(q, '_')
	return string(strconv.AppendUint(q, h.Sum64(), 36))
}

// SharedInterest counts one more (add) or one less local member of group
// on filter (without its $share part), holding a NATS queue subscription
// for its subjects from the first to the last. Any goroutine.
func (n *Node) SharedInterest(group, filter string, add bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	queue := queueName(group, filter)
	n.presenceLocked(groupKey{group, filter}, queue, add)
	for _, s := range FilterSubjects(n.prefix, filter) {
		key := queue + " " + s
		e := n.shared[key]
		if add {
			if e == nil {
				sub, err := n.nq.ChanQueueSubscribe(s, queue, n.in)
				if err != nil {
					n.log.Warn("cluster: queue subscribing on NATS", "subject", s, "group", group, "err", err)
				}
				e = &sharedSub{sub: sub, group: group, filter: filter}
				n.shared[key] = e
				if sub != nil {
					n.sharedBy[sub] = e
				}
			}
			e.refs++
			continue
		}
		if e == nil {
			continue
		}
		if e.refs--; e.refs == 0 {
			if e.sub != nil {
				if d, err := e.sub.Dropped(); err == nil {
					n.goneDrops += uint64(d)
				}
				_ = e.sub.Unsubscribe()
				delete(n.sharedBy, e.sub)
			}
			delete(n.shared, key)
		}
	}
}

// sharedOf returns the group a message of a queue subscription is for;
// ok is false once its subscription is gone (its last local member left
// while the message waited), and the message is then counted as lost.
func (n *Node) sharedOf(m *nats.Msg) (Shared, bool) {
	n.mu.Lock()
	e := n.sharedBy[m.Sub]
	n.mu.Unlock()
	if e == nil {
		n.sharedLost.Add(1)
		return Shared{}, false
	}
	return Shared{Group: e.group, Filter: e.filter, Record: m.Data}, true
}

// presenceLocked counts a member of a group in or out, holding the
// group's presence subscription from the first to the last. Caller holds
// n.mu.
func (n *Node) presenceLocked(k groupKey, queue string, add bool) {
	p := n.presence[k]
	if add {
		if p == nil {
			p = &presence{subject: n.prefix + "g." + queue}
			sub, err := n.nc.Subscribe(p.subject, func(*nats.Msg) {}) // interest only: nothing is sent on it
			if err != nil {
				n.log.Warn("cluster: subscribing on NATS", "subject", p.subject, "group", k.group, "err", err)
			}
			p.sub = sub
			n.presence[k] = p
			n.publishPresenceLocked()
		}
		p.refs++
		return
	}
	if p == nil {
		return
	}
	if p.refs--; p.refs == 0 {
		if p.sub != nil {
			_ = p.sub.Unsubscribe()
		}
		delete(n.presence, k)
		n.publishPresenceLocked()
	}
}

// publishPresenceLocked publishes a new snapshot of the presence subjects
// for GroupLocalOnly. Caller holds n.mu.
func (n *Node) publishPresenceLocked() {
	m := make(map[groupKey]string, len(n.presence))
	for k, p := range n.presence {
		if p.sub != nil {
			m[k] = p.subject
		}
	}
	n.presenceSnap.Store(&m)
}

// GroupLocalOnly reports whether no other node has members of group on
// filter, as far as the embedded server knows: its only interest in the
// group's presence subject is this node's own. False with
// cluster_nats_url (not known) and for a group this node has no member of.
// Any goroutine; allocates nothing.
func (n *Node) GroupLocalOnly(group, filter string) bool {
	if n.srv == nil {
		return false
	}
	m := n.presenceSnap.Load()
	if m == nil {
		return false
	}
	subj, ok := (*m)[groupKey{group, filter}]
	if !ok {
		return false
	}
	acc := n.srv.GlobalAccount()
	return acc != nil && acc.Interest(subj) == 1
}
