package bench

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/loadgen"
)

func TestParseClusterTargets(t *testing.T) {
	for name, kind := range map[string]string{NameGustCluster: KindGust, NameNATSCluster: KindNATS} {
		tg, err := ParseTarget(name)
		if err != nil || tg.Kind != kind || tg.Nodes != clusterNodes || tg.Name != name {
			t.Fatalf("ParseTarget(%q) = %+v, %v; want kind %s with %d nodes", name, tg, err, kind, clusterNodes)
		}
	}
}

func TestPlace(t *testing.T) {
	nodes := []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}
	for _, tc := range []struct {
		where      string
		nodes      []string
		addr       string
		pubs, subs []string
	}{
		{PlaceCross, nodes, nodes[0], nodes[:1], nodes[1:2]},
		{PlaceSpread, nodes, nodes[0], nodes[:1], nodes},
		{PlaceLocal, nodes, nodes[0], nil, nil},
		{PlaceCross, nil, "127.0.0.1:9", nil, nil}, // a single broker keeps its address
	} {
		load := loadgen.Config{Addr: "127.0.0.1:9"}
		place(&load, tc.where, tc.nodes)
		if load.Addr != tc.addr || !slices.Equal(load.PubAddrs, tc.pubs) || !slices.Equal(load.SubAddrs, tc.subs) {
			t.Errorf("place(%q, %v): addr %s pubs %v subs %v; want %s %v %v", tc.where, tc.nodes,
				load.Addr, load.PubAddrs, load.SubAddrs, tc.addr, tc.pubs, tc.subs)
		}
	}
}

func TestClusterGroupExpands(t *testing.T) {
	got := expandGroups([]string{"fanin", ClusterGroup})
	want := append([]string{"fanin"}, ClusterSet()...)
	if !slices.Equal(got, want) {
		t.Fatalf("expandGroups: %v, want %v", got, want)
	}
	all := Scenarios(Quick)
	for _, n := range ClusterSet() {
		if _, ok := all[n]; !ok {
			t.Fatalf("scenario %s missing", n)
		}
	}
}

// TestMultiSamplerSums samples this process twice: the sums are twice
// one sampler's start RSS, within what the process grew in between.
func TestMultiSamplerSums(t *testing.T) {
	pid := os.Getpid()
	m := startSamplers([]int{pid, pid}, 10e6)
	u := m.Stop()
	one, err := ReadProc(pid)
	if err != nil {
		t.Skip("no /proc here")
	}
	if u.RSSStart <= one.RSSBytes || u.RSSStart > 2*one.RSSBytes+(64<<20) || u.RSSPeak < u.RSSStart {
		t.Fatalf("summed RSS start %d peak %d; one reading %d", u.RSSStart, u.RSSPeak, one.RSSBytes)
	}
}

// TestGustClusterTarget starts the gust-cluster target (three gust serve
// processes) and runs a paced QoS 1 load with the publishers on the first
// node and the subscribers on the second: every message crosses, and
// every one arrives once.
func TestGustClusterTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gust and starts three nodes")
	}
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := ParseTarget(NameGustCluster)
	dir := t.TempDir()
	ctx := context.Background()
	if err := tg.prepare(ctx, root, dir); err != nil {
		t.Fatal(err)
	}
	r, err := tg.start(ctx, dir, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop()
	if len(r.nodes) != clusterNodes || len(r.pids()) != clusterNodes {
		t.Fatalf("nodes %v pids %v; want %d of each", r.nodes, r.pids(), clusterNodes)
	}
	load := loadgen.DefaultConfig()
	load.QoS, load.Publishers, load.Subscribers, load.Count, load.Rate = 1, 4, 4, 200, 400
	load.PubTopic, load.SubTopic, load.Settle = "ct/%i", "ct/%i", 500*time.Millisecond
	load.Duration, load.Drain = 10*time.Second, 5*time.Second
	place(&load, PlaceCross, r.nodes)
	res, err := loadgen.Run(ctx, load)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 8 || res.Acked != 800 || res.Delivered != 800 || res.Lost != 0 || res.Duplicated != 0 {
		t.Fatalf("connected %d acked %d delivered %d lost %d dup %d; want 8, 800, 800, 0, 0",
			res.Connected, res.Acked, res.Delivered, res.Lost, res.Duplicated)
	}
}

// TestClusterScaleSmall runs the scale test at a small size: three nodes,
// one loader process each, every subscriber counts every broadcast.
func TestClusterScaleSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gust and starts three nodes and three loaders")
	}
	dir, res, err := RunClusterScale(context.Background(), ScaleConfig{Nodes: 3, Conns: 600, Messages: 2,
		Hold: time.Second, ResultsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != "" || res.Conns != 600 || res.Expected != 1200 || res.Delivered != 1200 || len(res.Nodes) != 3 {
		t.Fatalf("%+v", res)
	}
	for i, n := range res.Nodes {
		if n.Subscribers != 200 || n.Delivered != 400 || n.RSSHeld <= 0 {
			t.Fatalf("node %d: %+v", i, n)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.md")); err != nil {
		t.Fatal(err)
	}
}
