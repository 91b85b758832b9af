package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// sharedTally counts the messages a shared group's members got, by
// member and payload.
type sharedTally struct {
	mu  sync.Mutex
	got map[string]map[string]int // member -> payload -> times
}

func (s *sharedTally) add(member, payload string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got[member] == nil {
		s.got[member] = map[string]int{}
	}
	s.got[member][payload]++
}

// count returns how many distinct payloads with prefix reached the group,
// how many each member got, and a payload delivered more than once.
func (s *sharedTally) count(prefix string) (distinct int, per map[string]int, dup string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]int{}
	per = map[string]int{}
	for m, ps := range s.got {
		for p, n := range ps {
			if strings.HasPrefix(p, prefix) {
				seen[p] += n
				per[m] += n
			}
		}
	}
	for p, n := range seen {
		if n > 1 {
			dup = p
		}
	}
	return len(seen), per, dup
}

// TestClusterSharedAcrossNodes: a $share group with members on three
// nodes (paho.mqtt.golang on two, mosquitto_sub on the third) gets each
// QoS 1 message published on one node exactly once cluster-wide, and
// every node's member gets some of them.
func TestClusterSharedAcrossNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	tally := &sharedTally{got: map[string]map[string]int{}}
	for i, n := range nodes[:2] {
		member := n.name
		c := pahoV3(t, n.mqtt, "member"+strconv.Itoa(i), func(_ mqtt.Client, m mqtt.Message) {
			tally.add(member, string(m.Payload()))
		})
		wait(t, c.Subscribe("$share/g/sh/#", 1, nil), "shared subscribe")
	}
	h, p, _ := net.SplitHostPort(nodes[2].mqtt)
	sub := lines(t, "mosquitto_sub", "-h", h, "-p", p, "-t", "$share/g/sh/#", "-q", "1", "-F", "%p", "-i", "member2")
	go func() {
		for l := range sub {
			tally.add(nodes[2].name, l)
		}
	}()
	pub := pahoV3(t, nodes[0].mqtt, "pub", nil)
	// Until each node's queue subscription has spread: every member has
	// had a probe.
	eventually(t, "probes reach every node's member", func() bool {
		for i := 0; i < 20; i++ {
			wait(t, pub.Publish("sh/probe", 1, false, "probe"), "probe")
		}
		_, per, _ := tally.count("probe")
		return len(per) == 3
	})
	const total = 300
	for i := 0; i < total; i++ {
		wait(t, pub.Publish("sh/"+strconv.Itoa(i%7), 1, false, "m"+strconv.Itoa(i)), "publish")
	}
	// Retained ones too: they cross on the retained subject for plain
	// subscribers, and once more for the groups.
	for i := 0; i < 30; i++ {
		wait(t, pub.Publish("sh/r", 1, true, "r"+strconv.Itoa(i)), "publish retained")
	}
	eventually(t, "every message delivered", func() bool {
		n, _, _ := tally.count("m")
		r, _, _ := tally.count("r")
		return n == total && r == 30
	})
	time.Sleep(300 * time.Millisecond) // room for a second copy to show
	if _, per, dup := tally.count("r"); dup != "" {
		t.Fatalf("retained %s delivered more than once; per member %v", dup, per)
	}
	n, per, dup := tally.count("m")
	if dup != "" {
		t.Fatalf("%s delivered more than once; per member %v", dup, per)
	}
	for _, nd := range nodes {
		if per[nd.name] == 0 {
			t.Fatalf("no message reached %s's member: %v", nd.name, per)
		}
	}
	t.Logf("%d messages, per node %v", n, per)
}

// sysText reads one retained $SYS value of a node as text, "" if none.
func sysText(t *testing.T, addr, topic string) string {
	t.Helper()
	got := retainedOn(t, addr, topic)
	if len(got) != 1 {
		return ""
	}
	return strings.TrimPrefix(got[0], topic+" ")
}

// rssKiB is a process's resident set size.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.Atoi(f[1])
			return v
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestClusterFiveNodesPartition: five nodes, each its own process;
// paho.mqtt.golang on one node reaches mosquitto_sub on another at QoS
// 0, 1 and 2. A node stopped with SIGSTOP is noticed by the others
// ($SYS nodes and peers/<name>), while messages keep flowing between the
// rest and the publishing node's memory and route backlog stay bounded;
// after SIGCONT it rejoins, its interest is rebuilt and delivery to it
// resumes.
func TestClusterFiveNodesPartition(t *testing.T) {
	nodes := startCluster(t, 5, "--sys-interval", "1s")
	h, p, _ := net.SplitHostPort(nodes[4].mqtt)
	sub4 := lines(t, "mosquitto_sub", "-h", h, "-p", p, "-t", "d/#", "-q", "2", "-F", "%q %t %p", "-i", "s4")
	pub := pahoV3(t, nodes[0].mqtt, "pub", nil)
	probe(t, pub, "d/probe", sub4)
	for q := byte(0); q <= 2; q++ {
		wait(t, pub.Publish("d/"+strconv.Itoa(int(q)), q, false, "m"+strconv.Itoa(int(q))), "publish")
	}
	expectLines(t, sub4, "probe", "0 d/0 m0", "1 d/1 m1", "2 d/2 m2")

	// A subscriber on the node to stop, and one on a node that stays.
	var mu sync.Mutex
	got := map[string]int{}
	for _, i := range []int{2, 3} {
		name := nodes[i].name
		c := pahoV3(t, nodes[i].mqtt, "p"+name, func(_ mqtt.Client, m mqtt.Message) {
			mu.Lock()
			got[name]++
			mu.Unlock()
		})
		wait(t, c.Subscribe("p/#", 1, nil), "subscribe")
	}
	count := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return got[name]
	}
	eventually(t, "both subscribers reached", func() bool {
		wait(t, pub.Publish("p/warm", 1, false, "w"), "publish")
		return count("n2") > 0 && count("n3") > 0
	})

	stopped := nodes[3]
	if err := stopped.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	rss0 := rssKiB(t, nodes[0].cmd.Process.Pid)
	payload := strings.Repeat("x", 1024)
	var maxPending int
	// Publishing on while the node is stopped: 20 MB in 20,000 messages.
	for i := 0; i < 20; i++ {
		for k := 0; k < 1000; k++ {
			pub.Publish("p/load", 0, false, payload)
		}
		wait(t, pub.Publish("p/load", 1, false, "sync"), "publish")
	}
	eventually(t, "node 0 sees "+stopped.name+" down", func() bool {
		if v, err := strconv.Atoi(sysText(t, nodes[0].mqtt, "$SYS/broker/cluster/route pending bytes")); err == nil {
			maxPending = max(maxPending, v)
		}
		return sysText(t, nodes[0].mqtt, "$SYS/broker/cluster/peers/"+stopped.name) == "down" &&
			sysText(t, nodes[0].mqtt, "$SYS/broker/cluster/nodes") == "4"
	})
	t.Logf("%s noticed down after %v", stopped.name, time.Since(stoppedAt).Round(100*time.Millisecond))
	eventually(t, "node 4 sees it down too", func() bool {
		return sysText(t, nodes[4].mqtt, "$SYS/broker/cluster/peers/"+stopped.name) == "down"
	})
	// The rest still deliver, and nothing piles up for the stopped node.
	before := count("n2")
	for i := 0; i < 5; i++ {
		for k := 0; k < 1000; k++ {
			pub.Publish("p/load", 0, false, payload)
		}
		wait(t, pub.Publish("p/load", 1, false, "sync"), "publish")
	}
	eventually(t, "delivery to node 2 goes on", func() bool { return count("n2") > before+1000 })
	time.Sleep(1500 * time.Millisecond) // a $SYS period
	pending := sysText(t, nodes[0].mqtt, "$SYS/broker/cluster/route pending bytes")
	rss1 := rssKiB(t, nodes[0].cmd.Process.Pid)
	t.Logf("node 0 during the partition: route pending bytes %s (at most %d seen), RSS %d -> %d KiB", pending, maxPending, rss0, rss1)
	if pending != "0" {
		t.Fatalf("node 0 holds %s bytes for routes with the stopped node gone", pending)
	}
	if rss1-rss0 > 64<<10 {
		t.Fatalf("node 0 grew by %d KiB during the partition", rss1-rss0)
	}

	if err := stopped.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	contAt := time.Now()
	eventually(t, "node 0 sees "+stopped.name+" up again", func() bool {
		return sysText(t, nodes[0].mqtt, "$SYS/broker/cluster/peers/"+stopped.name) == "up"
	})
	t.Logf("%s rejoined after %v", stopped.name, time.Since(contAt).Round(100*time.Millisecond))
	// Its subscriber's interest is back: new messages reach it.
	h3, p3, _ := net.SplitHostPort(stopped.mqtt)
	sub3 := lines(t, "mosquitto_sub", "-h", h3, "-p", p3, "-t", "back/#", "-q", "1", "-F", "%t %p", "-i", "s3")
	probe(t, pub, "back/probe", sub3)
	wait(t, pub.Publish("back/1", 1, false, "after"), "publish")
	expectLines(t, sub3, "probe", "back/1 after")
	n3 := count("n3")
	eventually(t, "the paho subscriber on the rejoined node gets messages again", func() bool {
		wait(t, pub.Publish("p/again", 1, false, "again"), "publish")
		return count("n3") > n3
	})
	if !strings.Contains(nodes[0].log.String(), "node left or unreachable") {
		t.Fatalf("node 0 did not log the node leaving:\n%s", nodes[0].log.String())
	}
}

// metricsText fetches a node's /metrics.
func metricsText(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metricValue returns the value of the metric line that starts with
// name (labels included), or -1.
func metricValue(text, name string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestClusterTokenAndMetrics: nodes sharing cluster_token join; a node
// with another token is refused by the routes (it runs alone, cut off
// from the session bucket, so it refuses CONNECTs); node 0's Prometheus metrics show the
// cluster: two nodes, its peer up, records sent and received.
func TestClusterTokenAndMetrics(t *testing.T) {
	cluster := "t" + strconv.Itoa(freePort(t))
	routes := []string{"127.0.0.1:" + strconv.Itoa(freePort(t)), "127.0.0.1:" + strconv.Itoa(freePort(t))}
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	a := startClusterNode(t, cluster, "a", routes[0], routes, "--cluster-token", "s3cret", "--sys-interval", "1s", "--http-listen", httpAddr)
	b := startClusterNode(t, cluster, "b", routes[1], routes, "--cluster-token", "s3cret")
	waitClaims(t, []*clusterNode{a, b})
	waitMesh(t, []*clusterNode{a, b})
	bad := startClusterNode(t, cluster, "bad", "127.0.0.1:"+strconv.Itoa(freePort(t)), routes[:1], "--cluster-token", "wrong", "--sys-interval", "1s")

	gotB := make(chan string, 64)
	cb := pahoV3(t, b.mqtt, "sb", func(_ mqtt.Client, m mqtt.Message) { gotB <- string(m.Payload()) })
	wait(t, cb.Subscribe("tok/#", 1, nil), "subscribe")
	pub := pahoV3(t, a.mqtt, "pub", nil)
	eventually(t, "node b gets node a's messages", func() bool {
		wait(t, pub.Publish("tok/x", 1, false, "m"), "publish")
		select {
		case <-gotB:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	// The refused node is cut off from the cluster's session bucket, so
	// it refuses CONNECTs rather than guess who owns a session.
	o := mqtt.NewClientOptions().AddBroker("tcp://" + bad.mqtt).SetClientID("sbad").
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	cbad := mqtt.NewClient(o)
	if tok := cbad.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		cbad.Disconnect(0)
		t.Fatal("the node with the wrong token accepted a CONNECT while cut off from the cluster")
	}
	if !strings.Contains(a.log.String()+bad.log.String(), "Authorization Violation") {
		t.Fatalf("no route refusal logged:\n%s\n%s", a.log.String(), bad.log.String())
	}

	var text string
	eventually(t, "metrics show the cluster", func() bool {
		text = metricsText(t, httpAddr)
		return metricValue(text, "gust_cluster_nodes") == 2 && metricValue(text, `gust_cluster_peer_up{peer="b"}`) == 1
	})
	for _, m := range []string{"gust_cluster_messages_sent_total", "gust_cluster_messages_received_total"} {
		if metricValue(text, m) <= 0 {
			t.Fatalf("%s not above 0:\n%s", m, text)
		}
	}
	for _, m := range []string{"gust_cluster_routes", "gust_cluster_messages_dropped_total", "gust_cluster_pending_bytes",
		"gust_cluster_route_pending_bytes", "gust_cluster_retained_synced_total", "gust_cluster_shared_lost_total"} {
		if metricValue(text, m) < 0 {
			t.Fatalf("no %s:\n%s", m, text)
		}
	}
}

// TestClusterSharedLocalThenSpread: a group whose members are all on the
// publishing node gets each message once (served by that node without
// NATS); once a member joins on another node, the messages spread over
// both nodes, still once each.
func TestClusterSharedLocalThenSpread(t *testing.T) {
	nodes := startCluster(t, 2)
	tally := &sharedTally{got: map[string]map[string]int{}}
	for i := 0; i < 2; i++ {
		member := "n0-" + strconv.Itoa(i)
		c := pahoV3(t, nodes[0].mqtt, member, func(_ mqtt.Client, m mqtt.Message) { tally.add(member, string(m.Payload())) })
		wait(t, c.Subscribe("$share/g/loc/#", 1, nil), "shared subscribe")
	}
	pub := pahoV3(t, nodes[0].mqtt, "pub", nil)
	const total = 200
	for i := 0; i < total; i++ {
		wait(t, pub.Publish("loc/"+strconv.Itoa(i%3), 1, false, "a"+strconv.Itoa(i)), "publish")
	}
	eventually(t, "every message delivered", func() bool { n, _, _ := tally.count("a"); return n == total })
	time.Sleep(300 * time.Millisecond)
	if n, per, dup := tally.count("a"); dup != "" || n != total {
		t.Fatalf("local group: %d of %d, %q more than once; per member %v", n, total, dup, per)
	}

	h, p, _ := net.SplitHostPort(nodes[1].mqtt)
	sub := lines(t, "mosquitto_sub", "-h", h, "-p", p, "-t", "$share/g/loc/#", "-q", "1", "-F", "%p", "-i", "n1")
	go func() {
		for l := range sub {
			tally.add("n1", l)
		}
	}()
	eventually(t, "the remote member gets probes", func() bool {
		for i := 0; i < 10; i++ {
			wait(t, pub.Publish("loc/probe", 1, false, "probe"), "probe")
		}
		_, per, _ := tally.count("probe")
		return per["n1"] > 0
	})
	for i := 0; i < total; i++ {
		wait(t, pub.Publish("loc/"+strconv.Itoa(i%3), 1, false, "b"+strconv.Itoa(i)), "publish")
	}
	eventually(t, "every message delivered", func() bool { n, _, _ := tally.count("b"); return n == total })
	time.Sleep(300 * time.Millisecond)
	n, per, dup := tally.count("b")
	if dup != "" {
		t.Fatalf("%s delivered more than once; per member %v", dup, per)
	}
	if per["n1"] == 0 || per["n0-0"]+per["n0-1"] == 0 {
		t.Fatalf("not spread over both nodes: %v", per)
	}
	t.Logf("%d messages, per member %v", n, per)
}
