package cluster

import (
	"sort"
	"time"
)

// Membership: the nodes this node's embedded NATS server has routes to,
// read once a second by watch. A node seen once stays listed, up while a
// route to it is open and down from the moment the last one closed (it
// left, died, or stopped answering the routes' pings for
// routePingInterval*routeMaxPings), each change logged. With
// cluster_nats_url the nodes are not known here (the routes are the
// external NATS's own).

// The routes' liveness check: a route whose peer answers no ping for
// routePingInterval*routeMaxPings is closed, and a route write blocked for
// routeWriteDeadline (a peer that reads nothing) closes it too, so that a
// stopped node is noticed within seconds and what is pending for it is
// dropped rather than held.
const (
	routePingInterval  = time.Second
	routeMaxPings      = 3
	routeWriteDeadline = 2 * time.Second
)

// Peer is another node as this node sees it.
type Peer struct {
	Name  string
	Up    bool      // a route to it is open
	Since time.Time // when it last became up or down
	// PendingBytes is what the routes to it hold unsent (0 when down).
	PendingBytes int
}

// peerState is the membership watch's view, guarded by Node.mu.
type peerState struct {
	up    bool
	since time.Time
	bytes int
}

// watchPeers reads the routes and logs the nodes that joined and left.
// Called by watch once a second.
func (n *Node) watchPeers(now time.Time) {
	if n.srv == nil {
		return
	}
	rz, err := n.srv.Routez(nil)
	if err != nil {
		return
	}
	open := map[string]int{} // node -> pending bytes
	for _, r := range rz.Routes {
		if r.RemoteName != "" && r.RemoteName != n.cfg.Node {
			open[r.RemoteName] += r.Pending
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, bytes := range open {
		p := n.peers[name]
		if p == nil {
			p = &peerState{}
			n.peers[name] = p
		}
		if !p.up {
			p.up, p.since = true, now
			n.log.Info("cluster: node joined", "peer", name, "nodes", n.upLocked(open))
		}
		p.bytes = bytes
	}
	for name, p := range n.peers {
		if _, ok := open[name]; !ok && p.up {
			p.up, p.since, p.bytes = false, now, 0
			n.log.Warn("cluster: node left or unreachable: its messages are no longer sent to it", "peer", name,
				"nodes", n.upLocked(open))
		}
	}
}

// upLocked is the number of nodes up, this one included.
func (n *Node) upLocked(open map[string]int) int { return len(open) + 1 }

// Peers returns the other nodes seen since start, by name. Any goroutine.
func (n *Node) Peers() []Peer {
	n.mu.Lock()
	out := make([]Peer, 0, len(n.peers))
	for name, p := range n.peers {
		out = append(out, Peer{Name: name, Up: p.up, Since: p.since, PendingBytes: p.bytes})
	}
	n.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
