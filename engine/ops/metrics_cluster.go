package ops

import "github.com/prometheus/client_golang/prometheus"

// clusterDescs are the cluster's metrics, collected only on a node of a
// cluster.
type clusterDescs struct {
	nodes, routes, peerUp, subjects, queues        *prometheus.Desc
	sent, sendFailed, received, dropped, malformed *prometheus.Desc
	pending, routePending, routeClosed, waits      *prometheus.Desc
	retainedSync, syncsAnswered, sharedLost        *prometheus.Desc
}

func newClusterDescs(d func(name, help string, labels ...string) *prometheus.Desc) clusterDescs {
	return clusterDescs{
		nodes:         d("cluster_nodes", "Nodes of the cluster up as this node sees them, itself included."),
		routes:        d("cluster_routes", "Route connections of the embedded NATS server."),
		peerUp:        d("cluster_peer_up", "1 while a route to the node is open, 0 once it left or stopped answering.", "peer"),
		subjects:      d("cluster_subjects", "NATS subscriptions held for the local subscriptions' interest."),
		queues:        d("cluster_shared_queues", "NATS queue subscriptions held for local shared groups."),
		sent:          d("cluster_messages_sent_total", "Records published to the other nodes."),
		sendFailed:    d("cluster_messages_send_failed_total", "Records NATS refused to send (closed, or past its max payload)."),
		received:      d("cluster_messages_received_total", "Records from other nodes handed to the event loops."),
		dropped:       d("cluster_messages_dropped_total", "Records from other nodes dropped past cluster_pending_messages."),
		malformed:     d("cluster_messages_malformed_total", "Records from other nodes dropped as malformed."),
		pending:       d("cluster_pending_bytes", "Bytes from other nodes handed to the event loops and not yet routed (cluster_pending_bytes)."),
		routePending:  d("cluster_route_pending_bytes", "Bytes the routes to other nodes hold unsent."),
		routeClosed:   d("cluster_routes_closed_total", "Routes closed by their liveness check.", "reason"),
		waits:         d("cluster_receiver_waits_total", "Times the receiver waited for the loops (cluster_pending_bytes)."),
		retainedSync:  d("cluster_retained_synced_total", "Retained messages restored from a peer at start."),
		syncsAnswered: d("cluster_retained_syncs_answered_total", "Retained-state requests of joining nodes answered."),
		sharedLost:    d("cluster_shared_lost_total", "Shared-group records whose group had no member left on this node."),
	}
}

// collectCluster reads the cluster's counters, if the broker is a node of
// one.
func (c *collector) collectCluster(counter func(*prometheus.Desc, uint64, ...string), gauge func(*prometheus.Desc, float64, ...string)) {
	st, peers, ok := c.b.ClusterStats()
	if !ok {
		return
	}
	d := &c.d.cluster
	gauge(d.nodes, float64(st.Nodes))
	gauge(d.routes, float64(st.Routes))
	for _, p := range peers {
		up := 0.0
		if p.Up {
			up = 1
		}
		gauge(d.peerUp, up, p.Name)
	}
	gauge(d.subjects, float64(st.Subjects))
	gauge(d.queues, float64(st.SharedQueues))
	counter(d.sent, st.Sent)
	counter(d.sendFailed, st.SendFailed)
	counter(d.received, st.Received)
	counter(d.dropped, st.Dropped)
	counter(d.malformed, c.b.ClusterMalformed())
	gauge(d.pending, float64(st.PendingBytes))
	gauge(d.routePending, float64(st.RoutePending))
	counter(d.routeClosed, st.RouteStale, "ping")
	counter(d.routeClosed, st.RouteSlow, "write")
	counter(d.waits, st.Waits)
	counter(d.retainedSync, st.RetainedSync)
	counter(d.syncsAnswered, st.SyncsAnswered)
	counter(d.sharedLost, st.SharedLost)
}
