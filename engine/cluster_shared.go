package engine

import (
	"hash/maphash"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/cluster"
)

// Shared subscriptions in a cluster. With a cluster, a message reaches
// shared groups only through the NATS queue subscriptions each node holds
// for its local groups (engine/cluster/shared.go): route leaves the groups
// out, and the one node NATS picks per group hands the message to one of
// its members (DeliverShared, fromClusterShared). The publishing node is
// one of the candidates like any other, through its own queue
// subscription, so a group's messages spread over its nodes and each
// reaches one member cluster-wide. $SYS stays each node's own, its groups
// routed locally.

// declareInterest tells n of one more (add) or one less local
// subscription on filter, shared by group when group is not "".
func declareInterest(n *cluster.Node, filter, group string, add bool) {
	if group != "" {
		n.SharedInterest(group, filter, add)
		return
	}
	n.Interest(filter, add)
}

// groupsLocalOnly reports whether topic has shared groups here and every
// one of them has its members on this node only: route then serves them,
// as without a cluster, and the record says so. Loop-only.
func (l *loop) groupsLocalOnly(n *cluster.Node, topic []byte) bool {
	res := l.match(topic)
	if len(res.Groups) == 0 {
		return false
	}
	for _, g := range res.Groups {
		if !n.GroupLocalOnly(g.Name, g.Filter) {
			return false
		}
	}
	return true
}

// groupsByCluster reports whether the shared groups of topic are served
// through the cluster rather than by route. Loop-only.
func (l *loop) groupsByCluster(topic []byte) bool {
	return l.b.cluster.Load() != nil && !nodeLocal(topic)
}

// DeliverShared routes a batch of records for local shared groups, each
// on the loop its publisher hashes to, as Deliver does.
func (e clusterEngine) DeliverShared(batch []cluster.Shared) {
	b := e.b
	n := b.cluster.Load()
	loops := b.loopSnapshot()
	size := 0
	for i := range batch {
		size += len(batch[i].Record)
	}
	if n == nil || len(loops) == 0 || b.closing.Load() {
		if n != nil {
			n.Done(size)
		}
		return
	}
	per := make([][]cluster.Shared, len(loops))
	var r record
	for _, sh := range batch {
		if decodeRecord(sh.Record, &r) != nil {
			b.clusterBad.Add(1)
			if ok, _ := b.clusterLog.allow(time.Now().UnixNano(), 1); ok {
				b.log.Warn("cluster: malformed record from another node dropped", "dropped", b.clusterBad.Load())
			}
			continue
		}
		if r.flags&recordGroupsHere != 0 && string(r.node) == n.Name() {
			size -= len(sh.Record)
			n.Done(len(sh.Record)) // delivered here by the publishing loop
			continue
		}
		h := maphash.Bytes(clusterSeed, r.node) ^ maphash.Bytes(clusterSeed, r.clientID)
		i := int(h % uint64(len(loops)))
		per[i] = append(per[i], sh)
	}
	for i, recs := range per {
		if len(recs) == 0 {
			continue
		}
		l := loops[i]
		sz := 0
		for _, sh := range recs {
			sz += len(sh.Record)
		}
		size -= sz
		if err := l.runCluster(func() { l.fromClusterShared(n, recs, sz) }); err != nil {
			n.Done(sz) // the loops have stopped
		}
	}
	n.Done(size) // the malformed ones
}

// fromClusterShared hands each record to one member of its group, as
// route would; a record whose group has no member here any more (its last
// one left while the record was on its way) is counted as lost.
// Loop-only.
func (l *loop) fromClusterShared(n *cluster.Node, recs []cluster.Shared, size int) {
	r := &l.scratch.clusterIn
	acl := l.b.acl.Load()
	for i := range recs {
		sh := &recs[i]
		if decodeRecord(sh.Record, r) != nil {
			continue
		}
		p := &r.pub
		var props *codec.Properties
		if !p.Props.Empty() {
			props = &p.Props
		}
		res := l.match(p.Topic)
		found := false
		for _, g := range res.Groups {
			if g.Name != sh.Group || g.Filter != sh.Filter {
				continue
			}
			l.seq++
			f := fanout{topic: p.Topic, payload: p.Payload, qos: p.QoS, retain: p.Retain, props: props, seq: l.seq}
			l.deliverGroup(&f, g, acl)
			if f.m != nil {
				l.endStore(f.m, f.prev, true)
			}
			found = true
			break
		}
		if !found {
			l.b.clusterSharedLost.Add(1)
		}
	}
	l.finish()
	n.Done(size)
}
