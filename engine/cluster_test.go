package engine

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/cluster"
)

// joinTestCluster makes hs's broker a node of a one-node cluster on a
// free loopback route port, as Start does.
func joinTestCluster(t *testing.T, hs *harness) *cluster.Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cfg := hs.b.cfg.Cluster
	cfg.Enabled, cfg.Name, cfg.Node, cfg.Listen = true, "alloc", "a", addr
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := cluster.Start(cfg, clusterEngine{hs.b}, 1<<20, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	hs.b.cluster.Store(n)
	return n
}

// TestAllocsQoS0PublishPathCluster measures what clustering adds to the
// QoS 0 path of TestAllocsQoS0PublishPath: each message is also encoded
// as a record and published to NATS once. The loop's part allocates
// nothing; the count is process-wide, so it includes the embedded NATS
// server reading the records, which now and then grows a buffer: 0 or 1
// per message on average.
func TestAllocsQoS0PublishPathCluster(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	hs := newHarness(t, 2)
	// Connected before the node joins: on a node, a CONNECT first claims
	// its session in the cluster's bucket (cluster_session.go), which a
	// one-node JetStream binds only seconds later.
	pub := hs.conn(0, "pub")
	same := hs.conn(0, "same")
	other := hs.conn(1, "other")
	hs.subscribe(same, "a/+/c", 0)
	hs.subscribe(other, "a/#", 0)
	n := joinTestCluster(t, hs)
	n.Interest("a/+/c", true) // as startCluster declares the sessions' filters
	n.Interest("a/#", true)
	pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/b/c"), Payload: make([]byte, 64)})
	run := func() {
		hs.send(pub, pkt)
		hs.pump()
	}
	for i := 0; i < 100; i++ {
		run()
	}
	s0, o0, sent0 := same.written, other.written, n.Stats().Sent
	allocs := testing.AllocsPerRun(1000, run)
	if same.written == s0 || other.written == o0 {
		t.Fatalf("no delivery: same %d->%d, other %d->%d", s0, same.written, o0, other.written)
	}
	if sent := n.Stats().Sent - sent0; sent < 1000 {
		t.Fatalf("%d records sent to the cluster for 1001 messages", sent)
	}
	t.Logf("QoS 0 publish path with clustering on: %v allocs per message", allocs)
	if allocs > 1 {
		t.Fatalf("QoS 0 publish path with clustering on: %v allocs per message, want at most 1", allocs)
	}
}

// TestClusterRecordRoundTrip: a record carries topic, payload, QoS,
// RETAIN, the v5 properties and the origin; a malformed one is refused.
func TestClusterRecordRoundTrip(t *testing.T) {
	hs := newHarness(t, 1)
	n := joinTestCluster(t, hs)
	l := hs.b.loops[0]
	props := &codec.Properties{ContentType: []byte("text/plain"), User: []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}}
	props.Set(codec.PropContentType)
	l.toCluster(n, []byte("a/b"), []byte("hello"), 2, true, "client-1", props)
	var r record // the last one sent: the shared groups' copy
	if err := decodeRecord(l.scratch.clusterRec, &r); err != nil {
		t.Fatal(err)
	}
	p := &r.pub
	if string(p.Topic) != "a/b" || string(p.Payload) != "hello" || p.QoS != 2 || !p.Retain || r.flags != recordRetained|recordShared ||
		string(r.clientID) != "client-1" || string(r.node) != "a" || string(p.Props.ContentType) != "text/plain" ||
		len(p.Props.User) != 1 || string(p.Props.User[0].Value) != "v" {
		t.Fatalf("decoded %+v", r)
	}
	wild := append([]byte{recordVersion, 0, 0, 0}, codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("a/#")})...)
	for _, bad := range [][]byte{nil, {9, 0}, {recordVersion, 0, 5, 'x'}, l.scratch.clusterRec[:len(l.scratch.clusterRec)-3], wild} {
		if decodeRecord(bad, &r) == nil {
			t.Errorf("malformed record %q accepted", bad)
		}
	}
}
