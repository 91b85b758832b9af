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
// to shared groups only what arrives through them, never directly.

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
