package engine

import (
	"encoding/binary"
	"errors"
	"hash/maphash"
	"time"
	"unsafe"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/cluster"
	"github.com/gust-mqtt/gust/trie"
)

// The engine's side of a cluster (engine/cluster): what a node sends the
// others, and how it routes what they send.
//
// A message published on this node is routed here as without a cluster,
// then sent once to NATS as a record (below) on the subject of its topic;
// NATS delivers it to the nodes with a matching subscription, each of
// which routes it to its own subscribers on its event loops (the receiver
// goroutine groups a batch per loop, one Execute each) and never sends it
// on. A retained message, or its clear, goes on the retained subject that
// every node takes, and each node stores and routes it.
//
// A record is: version (1), flags (recordRetained), the origin client id
// and node name (each a uvarint length and its bytes), then the message
// as an MQTT 5 PUBLISH packet (topic, QoS, RETAIN as published, packet id
// 1 at QoS 1/2, properties, payload).

const (
	recordVersion  = 1
	recordRetained = 1 // the record is a retained message (or clear) to store
	// recordShared marks the copy of a retained message sent on its
	// topic's subject for the shared groups (cluster_shared.go), which
	// plain subscriptions skip: they have it from the retained subject.
	recordShared = 2
	// recordGroupsHere says the origin node delivered to its shared groups
	// itself, all of them living on it only (cluster_shared.go): its own
	// queue subscriptions skip the record.
	recordGroupsHere = 4
	// recordOverhead bounds a record's bytes besides its PUBLISH packet:
	// version, flags, and two lengths of at most 65535-byte strings.
	recordOverhead = 2 + 3 + 3
)

var errBadRecord = errors.New("cluster: malformed record")

// startCluster joins the cluster when Config.Cluster says so, then
// declares the interest of the subscriptions recovered from the store.
// Start calls it once the loops run and before clients are accepted.
func (b *Broker) startCluster() error {
	if !b.cfg.Cluster.Enabled {
		return nil
	}
	maxRecord := b.cfg.MaxPacketSize + recordOverhead + 2*b.cfg.MaxClientIDLength + 256
	n, err := cluster.Start(b.cfg.Cluster, clusterEngine{b}, maxRecord, b.log)
	if err != nil {
		return err
	}
	b.cluster.Store(n)
	b.sessions.mu.Lock()
	b.sessions.each(func(s *session) {
		if st := s.sub.Load(); st != nil {
			for _, e := range st.subs.list {
				if !nodeLocal(e.sub.Filter) {
					declareInterest(n, e.sub.Filter, e.sub.Group, true)
				}
			}
		}
	})
	b.sessions.mu.Unlock()
	return nil
}

// stopCluster leaves the cluster. Shutdown calls it once the wills are
// published and the clients closed.
func (b *Broker) stopCluster() {
	if n := b.cluster.Swap(nil); n != nil {
		n.Close()
	}
}

// subscribeTrie adds sub to the trie, and a new filter's interest to the
// cluster.
func (b *Broker) subscribeTrie(sub trie.Subscription) (existed bool, err error) {
	existed, err = b.trie.Subscribe(sub)
	if err == nil && !existed && !nodeLocal(sub.Filter) {
		if n := b.cluster.Load(); n != nil {
			declareInterest(n, sub.Filter, sub.Group, true)
		}
	}
	return existed, err
}

// unsubscribeTrie removes a subscription from the trie, and its interest
// from the cluster.
func (b *Broker) unsubscribeTrie(id trie.SubscriberID, filter, group string) {
	if b.trie.Unsubscribe(id, filter, group) && !nodeLocal(filter) {
		if n := b.cluster.Load(); n != nil {
			declareInterest(n, filter, group, false)
		}
	}
}

// nodeLocal reports whether a topic or filter is in $SYS, which is each
// node's own: its messages do not cross, and its subscriptions declare
// no interest.
func nodeLocal[T string | []byte](topic T) bool {
	return len(topic) >= 4 && string(topic[:4]) == "$SYS"
}

// toCluster sends a message published on this node to the other nodes:
// a retained one to all, any other to those with interest; nothing in
// $SYS. clientID is the publisher's ("" for a will). Loop-only.
func (l *loop) toCluster(n *cluster.Node, topic, payload []byte, qos byte, retain bool, clientID string, props *codec.Properties) {
	if nodeLocal(topic) {
		return
	}
	var flags byte
	if retain && l.b.cfg.RetainAvailable {
		flags = recordRetained
	}
	rec := append(l.scratch.clusterRec[:0], recordVersion, flags)
	rec = binary.AppendUvarint(rec, uint64(len(clientID)))
	rec = append(rec, clientID...)
	rec = binary.AppendUvarint(rec, uint64(len(n.Name())))
	rec = append(rec, n.Name()...)
	p := codec.Publish{Topic: topic, Payload: payload, QoS: qos, Retain: retain}
	if qos > 0 {
		p.PacketID = 1
	}
	if props != nil {
		p.Props = *props
	}
	rec = codec.AppendPublish(rec, codec.V5, &p)
	l.scratch.clusterRec = rec
	subj := cluster.AppendSubject(l.scratch.clusterSubj[:0], n.Prefix(), topic)
	l.scratch.clusterSubj = subj
	if flags&recordRetained != 0 {
		n.PublishRetained(rec)
		rec[1] |= recordShared // the shared groups' copy
	}
	if l.groupsHere = l.groupsLocalOnly(n, topic); l.groupsHere {
		rec[1] |= recordGroupsHere
	}
	// NATS copies the subject into its write buffer before Publish
	// returns: a string over the scratch bytes does not outlive them.
	n.Publish(unsafe.String(unsafe.SliceData(subj), len(subj)), rec)
}

// record is a record from another node, decoded in place.
type record struct {
	flags    byte
	clientID []byte
	node     []byte
	pub      codec.Publish
}

// decodeRecord decodes rec into r, in place.
func decodeRecord(rec []byte, r *record) error {
	if len(rec) < 2 || rec[0] != recordVersion {
		return errBadRecord
	}
	r.flags = rec[1]
	i := 2
	for _, f := range [...]*[]byte{&r.clientID, &r.node} {
		n, k := binary.Uvarint(rec[i:])
		if k <= 0 || n > uint64(len(rec)-i-k) {
			return errBadRecord
		}
		*f = rec[i+k : i+k+int(n)]
		i += k + int(n)
	}
	if _, err := codec.DecodePublish(rec[i:], codec.V5, &r.pub); err != nil {
		return err
	}
	if len(r.pub.Topic) == 0 || !codec.ValidTopicName(r.pub.Topic) {
		return errBadRecord // a node sends resolved, checked topics only
	}
	return nil
}

// clusterEngine is the Broker as cluster.Engine.
type clusterEngine struct{ b *Broker }

// clusterSeed spreads records over the loops by publisher (origin node
// and client id), so that one publisher's messages keep their order, as
// on one node [MQTT-4.6.0-5].
var clusterSeed = maphash.MakeSeed()

// Deliver routes a batch of records from other nodes: each goes to the
// loop its publisher hashes to, one Execute per loop. Called by the node's
// receiver goroutine.
func (e clusterEngine) Deliver(batch [][]byte) {
	b := e.b
	n := b.cluster.Load()
	loops := b.loopSnapshot()
	size := 0
	for _, rec := range batch {
		size += len(rec)
	}
	if n == nil || len(loops) == 0 || b.closing.Load() {
		if n != nil {
			n.Done(size)
		}
		return
	}
	per := make([][][]byte, len(loops))
	var r record
	for _, rec := range batch {
		if decodeRecord(rec, &r) != nil {
			b.clusterBad.Add(1)
			if ok, _ := b.clusterLog.allow(time.Now().UnixNano(), 1); ok {
				b.log.Warn("cluster: malformed record from another node dropped", "dropped", b.clusterBad.Load())
			}
			continue
		}
		h := maphash.Bytes(clusterSeed, r.node) ^ maphash.Bytes(clusterSeed, r.clientID)
		i := int(h % uint64(len(loops)))
		per[i] = append(per[i], rec)
	}
	for i, recs := range per {
		if len(recs) == 0 {
			continue
		}
		l := loops[i]
		sz := 0
		for _, rec := range recs {
			sz += len(rec)
		}
		size -= sz
		if err := l.runCluster(func() { l.fromCluster(n, recs, sz) }); err != nil {
			n.Done(sz) // the loops have stopped
		}
	}
	n.Done(size) // the malformed ones
}

// fromCluster routes records from other nodes on their loop: a retained
// one is stored first; a subscriber whose client id is the publisher's
// is its publisher for No Local [MQTT-3.8.3-3]. Loop-only.
func (l *loop) fromCluster(n *cluster.Node, recs [][]byte, size int) {
	r := &l.scratch.clusterIn
	for _, rec := range recs {
		if decodeRecord(rec, r) != nil || string(r.node) == n.Name() || r.flags&recordShared != 0 {
			continue
		}
		p := &r.pub
		var props *codec.Properties
		if !p.Props.Empty() {
			props = &p.Props
		}
		if r.flags&recordRetained != 0 {
			l.b.storeRetained(p.Topic, p.Payload, p.QoS, props, false, l.durBatch())
		}
		var from *session
		if len(r.clientID) > 0 {
			l.b.sessions.mu.Lock()
			from = l.b.sessions.get(string(r.clientID))
			l.b.sessions.mu.Unlock()
		}
		l.route(p.Topic, p.Payload, p.QoS, p.Retain, from, props)
	}
	l.finish()
	n.Done(size)
}

// Snapshot emits a record of each retained message, for a joining node.
func (e clusterEngine) Snapshot(emit func(record []byte)) {
	b := e.b
	now := b.now()
	var rec []byte
	b.retained.Range(func(topic string, m *message) bool {
		if m.expired(now) || nodeLocal(topic) {
			return true // $SYS is each node's own
		}
		rec = append(rec[:0], recordVersion, recordRetained, 0, 0)
		p := codec.Publish{Topic: []byte(topic), Payload: m.payload, QoS: m.qos, Retain: true}
		if p.QoS > 0 {
			p.PacketID = 1
		}
		if m.hasProps {
			p.Props = m.props
		}
		if m.expireAt != 0 { // what is left of its Message Expiry [MQTT-3.3.2-6]
			p.Props.MessageExpiry = uint32(max((m.expireAt-now)/1e9, 1))
		}
		rec = codec.AppendPublish(rec, codec.V5, &p)
		emit(rec)
		return true
	})
}

// Restore stores a retained message of a peer's Snapshot, unless this
// node has one for the topic already (set since it joined).
func (e clusterEngine) Restore(rec []byte) {
	var r record
	if decodeRecord(rec, &r) != nil {
		return
	}
	p := &r.pub
	if _, ok := e.b.retained.Get(string(p.Topic)); ok {
		return
	}
	var props *codec.Properties
	if !p.Props.Empty() {
		props = &p.Props
	}
	e.b.storeRetained(p.Topic, p.Payload, p.QoS, props, false, nil)
}
