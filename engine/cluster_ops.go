package engine

import "github.com/gust-mqtt/gust/engine/cluster"

// ClusterStats returns this node's cluster counters and the other nodes
// it has seen; ok is false without a cluster. Any goroutine.
func (b *Broker) ClusterStats() (st cluster.Stats, peers []cluster.Peer, ok bool) {
	n := b.cluster.Load()
	if n == nil {
		return st, nil, false
	}
	st = n.Stats()
	st.SharedLost += b.clusterSharedLost.Load()
	return st, n.Peers(), true
}

// publishPeers publishes each node seen since start as
// $SYS/broker/cluster/peers/<name>: "up" or "down". Loop-only.
func (l *loop) publishPeers(n *cluster.Node) {
	for _, p := range n.Peers() {
		v := "down"
		if p.Up {
			v = "up"
		}
		l.publishSysTopic("$SYS/broker/cluster/peers/"+p.Name, v)
	}
}

// ClusterMalformed is the number of malformed records from other nodes
// dropped. Any goroutine.
func (b *Broker) ClusterMalformed() uint64 { return b.clusterBad.Load() }
