package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// clusterNode is one `gust serve --cluster` process of a test cluster.
type clusterNode struct {
	cluster, name, mqtt, route string
	log                        *lockedBuffer
	pid                        int
	cmd                        *exec.Cmd
}

// startClusterNode runs one node of cluster with its route address
// route, on a free loopback MQTT port, joining through routes, and
// returns once it accepts MQTT connections (it has joined and taken a
// peer's retained state by then).
func startClusterNode(t *testing.T, cluster, name, route string, routes []string, extra ...string) *clusterNode {
	t.Helper()
	n := &clusterNode{cluster: cluster, name: name, log: new(lockedBuffer), route: route,
		mqtt: "127.0.0.1:" + strconv.Itoa(freePort(t))}
	args := append([]string{"serve", "--listen", n.mqtt, "--store", "memory", "--sys-interval", "0", "--log-level", "warn",
		"--cluster", "--cluster-name", cluster, "--cluster-node", name, "--cluster-listen", n.route,
		"--cluster-routes", strings.Join(routes, ",")}, extra...)
	cmd := exec.Command(gustBinary(t), args...)
	cmd.Stderr = n.log
	n.cmd = cmd
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.pid = cmd.Process.Pid
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if t.Failed() { // its goroutines, in the log printed below
			_ = cmd.Process.Signal(syscall.SIGQUIT)
		}
		_ = cmd.Process.Signal(syscall.SIGCONT) // if a test stopped it
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("node %s log:\n%s", name, n.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Served once CONNECT is answered: the listener is bound before
		// the node has joined.
		o := mqtt.NewClientOptions().AddBroker("tcp://" + n.mqtt).SetClientID("ready").
			SetAutoReconnect(false).SetConnectTimeout(time.Second).SetConnectRetry(false)
		c := mqtt.NewClient(o)
		if tok := c.Connect(); tok.WaitTimeout(2*time.Second) && tok.Error() == nil {
			c.Disconnect(0)
			return n
		} else if errors.Is(tok.Error(), packets.ErrorRefusedServerUnavailable) {
			return n // served; refused while JetStream waits for its quorum (waitClaims)
		}
		select {
		case <-done:
			t.Fatalf("node %s exited:\n%s", name, n.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not listening after 20 s:\n%s", name, n.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startCluster runs k nodes, each routed to all (a seed list shared by
// every node), and waits until a message from each reaches each other.
func startCluster(t *testing.T, k int, extra ...string) []*clusterNode {
	t.Helper()
	cluster := "t" + strconv.Itoa(freePort(t))
	routes := make([]string, k)
	for i := range routes {
		routes[i] = "127.0.0.1:" + strconv.Itoa(freePort(t))
	}
	nodes := make([]*clusterNode, k)
	start := time.Now()
	for i := range nodes {
		nodes[i] = startClusterNode(t, cluster, "n"+strconv.Itoa(i), routes[i], routes, extra...)
	}
	waitClaims(t, nodes)
	started := time.Since(start)
	waitMesh(t, nodes)
	t.Logf("%d nodes started in %v, meshed in %v", k, started.Round(time.Millisecond), (time.Since(start) - started).Round(time.Millisecond))
	return nodes
}

// pahoV3 connects a paho.mqtt.golang client (MQTT 3.1.1) to addr.
func pahoV3(t *testing.T, addr, id string, onMsg mqtt.MessageHandler) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetDefaultPublishHandler(onMsg)
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("paho connect %s: %v", addr, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func wait(t *testing.T, tok mqtt.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: %v", what, tok.Error())
	}
}

// waitMesh waits, at most 20 s, until a message published on each node
// reaches a subscriber on every other node: the NATS routes are up and
// the subscriptions' interest has spread.
func waitMesh(t *testing.T, nodes []*clusterNode) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{} // "from>to"
	clients := make([]mqtt.Client, len(nodes))
	for j, n := range nodes {
		to := n.name
		clients[j] = pahoV3(t, n.mqtt, "mesh-"+to, func(_ mqtt.Client, m mqtt.Message) {
			mu.Lock()
			seen[strings.TrimPrefix(m.Topic(), "mesh/")+">"+to] = true
			mu.Unlock()
		})
		wait(t, clients[j].Subscribe("mesh/#", 0, nil), "mesh subscribe")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		for i, n := range nodes {
			clients[i].Publish("mesh/"+n.name, 0, false, "x")
		}
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		all := len(seen) == len(nodes)*len(nodes)
		mu.Unlock()
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not meshed after 20 s: %v", seen)
		}
	}
	for i := range clients {
		wait(t, clients[i].Unsubscribe("mesh/#"), "mesh unsubscribe")
	}
}

// lines runs a command and sends its output lines on a channel.
func lines(t *testing.T, name string, args ...string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Skipf("%s: %v", name, err)
	}
	ch := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	return ch
}

// expectLines reads ch until it has seen want in order (skipping lines
// that start with skip), failing after 10 s or on a line out of order.
func expectLines(t *testing.T, ch <-chan string, skip string, want ...string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := 0; i < len(want); {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("output ended; want %q next", want[i])
			}
			if skip != "" && strings.Contains(l, skip) {
				continue
			}
			if l != want[i] {
				t.Fatalf("got %q, want %q", l, want[i])
			}
			i++
		case <-timeout:
			t.Fatalf("no %q after 10 s", want[i])
		}
	}
}

// probe publishes probe messages on topic through c until ch shows one.
func probe(t *testing.T, c mqtt.Client, topic string, ch <-chan string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wait(t, c.Publish(topic, 0, false, "probe"), "probe")
		select {
		case l := <-ch:
			if strings.Contains(l, topic) {
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no probe on %s after 10 s", topic)
		}
	}
}

// TestClusterDeliveryQoS: messages published with paho.mqtt.golang on one
// node reach mosquitto_sub on two others at QoS min(published, granted),
// and mosquitto_pub's on another node reach a paho subscriber.
func TestClusterDeliveryQoS(t *testing.T) {
	nodes := startCluster(t, 3)
	host := func(n *clusterNode) []string {
		h, p, _ := net.SplitHostPort(n.mqtt)
		return []string{"-h", h, "-p", p}
	}
	sub2 := lines(t, "mosquitto_sub", append(host(nodes[1]), "-t", "d/#", "-q", "2", "-F", "%q %t %p", "-i", "s2")...)
	sub1 := lines(t, "mosquitto_sub", append(host(nodes[2]), "-t", "d/#", "-q", "1", "-F", "%q %t %p", "-i", "s1")...)
	pub := pahoV3(t, nodes[0].mqtt, "pub", nil)
	probe(t, pub, "d/probe", sub2)
	probe(t, pub, "d/probe", sub1)
	for q := byte(0); q <= 2; q++ {
		wait(t, pub.Publish("d/"+strconv.Itoa(int(q)), q, false, "m"+strconv.Itoa(int(q))), "publish")
	}
	expectLines(t, sub2, "probe", "0 d/0 m0", "1 d/1 m1", "2 d/2 m2")
	expectLines(t, sub1, "probe", "0 d/0 m0", "1 d/1 m1", "1 d/2 m2")

	got := make(chan string, 64)
	rcv := pahoV3(t, nodes[0].mqtt, "rcv", func(_ mqtt.Client, m mqtt.Message) {
		got <- fmt.Sprintf("%d %s %s", m.Qos(), m.Topic(), m.Payload())
	})
	wait(t, rcv.Subscribe("back/#", 2, nil), "subscribe")
	h := host(nodes[2])
	deadline := time.Now().Add(10 * time.Second)
	for q := 0; q <= 2; q++ {
		for {
			out, err := exec.Command("mosquitto_pub", append(h, "-t", "back/"+strconv.Itoa(q), "-q", strconv.Itoa(q), "-m", "b")...).CombinedOutput()
			if err != nil {
				t.Fatalf("mosquitto_pub: %v %s", err, out)
			}
			select {
			case l := <-got:
				if want := fmt.Sprintf("%d back/%d b", q, q); l != want {
					t.Fatalf("got %q, want %q", l, want)
				}
			case <-time.After(500 * time.Millisecond):
				if time.Now().Before(deadline) {
					continue // the subscription's interest still spreading
				}
				t.Fatalf("QoS %d from mosquitto_pub not received", q)
			}
			break
		}
	}
}

// v5 is a connected paho.golang client whose messages arrive on msgs.
type v5 struct {
	c    *paho.Client
	msgs chan *paho.Publish
}

func dialV5(t *testing.T, addr, id string) *v5 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v := &v5{msgs: make(chan *paho.Publish, 256)}
	v.c = paho.NewClient(paho.ClientConfig{Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			v.msgs <- pr.Packet
			return true, nil
		}},
		OnClientError: func(error) {},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := v.c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.c.Disconnect(&paho.Disconnect{}); _ = nc.Close() })
	return v
}

func (v *v5) sub(t *testing.T, o paho.SubscribeOptions, id int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{o}}
	if id > 0 {
		s.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: &id}
	}
	if _, err := v.c.Subscribe(ctx, s); err != nil {
		t.Fatal(err)
	}
}

func (v *v5) pub(t *testing.T, topic, payload string, qos byte, retain bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := v.c.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message that is not a probe, failing after 10 s.
func (v *v5) next(t *testing.T) *paho.Publish {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case p := <-v.msgs:
			if string(p.Payload) != "probe" {
				return p
			}
		case <-timeout:
			t.Fatal("no message after 10 s")
		}
	}
}

// TestClusterNoLocalRetainAsPublished: with paho.golang (MQTT 5) across
// nodes, No Local holds for the publisher while its message reaches the
// other nodes, Retain As Published keeps the RETAIN flag, and each
// subscriber gets its own node's Subscription Identifier. (A client id is
// connected on one node only: TestClusterTakeover.)
func TestClusterNoLocalRetainAsPublished(t *testing.T) {
	nodes := startCluster(t, 3)
	same := dialV5(t, nodes[1].mqtt, "same")
	same.sub(t, paho.SubscribeOptions{Topic: "nl/#", QoS: 1, NoLocal: true}, 0)
	rap := dialV5(t, nodes[0].mqtt, "rap")
	rap.sub(t, paho.SubscribeOptions{Topic: "nl/#", QoS: 1, RetainAsPublished: true}, 0)
	plain := dialV5(t, nodes[2].mqtt, "plain")
	plain.sub(t, paho.SubscribeOptions{Topic: "nl/+", QoS: 1}, 7)

	prober := dialV5(t, nodes[1].mqtt, "prober")
	deadline := time.Now().Add(10 * time.Second)
	for _, v := range []*v5{same, rap, plain} {
		for got := false; !got; {
			prober.pub(t, "nl/probe", "probe", 0, false)
			select {
			case <-v.msgs:
				got = true
			case <-time.After(100 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("probes not received")
				}
			}
		}
	}
	same.pub(t, "nl/a", "from-same", 1, true)
	prober.pub(t, "nl/b", "marker", 1, false)

	if p := same.next(t); p.Topic != "nl/b" || string(p.Payload) != "marker" {
		t.Fatalf("no-local subscriber got %s %q first, want the marker (its own client id's message is not forwarded)", p.Topic, p.Payload)
	}
	// Two publishers' messages may cross in either order.
	if p := nextOn(t, rap, "nl/a"); !p.Retain || p.QoS != 1 {
		t.Fatalf("retain-as-published subscriber got %s retain=%v qos=%d, want nl/a retain=true qos=1", p.Topic, p.Retain, p.QoS)
	}
	p := nextOn(t, plain, "nl/a")
	if p.Retain {
		t.Fatalf("plain subscriber got %s retain=%v, want nl/a retain=false", p.Topic, p.Retain)
	}
	if p.Properties == nil || p.Properties.SubscriptionIdentifier == nil || *p.Properties.SubscriptionIdentifier != 7 {
		t.Fatalf("plain subscriber: subscription identifiers %+v, want 7", p.Properties)
	}
}

// nextOn returns the next message on topic, skipping others.
func nextOn(t *testing.T, v *v5, topic string) *paho.Publish {
	t.Helper()
	for {
		if p := v.next(t); p.Topic == topic {
			return p
		}
	}
}

// retainedOn subscribes to filter on addr and returns the retained
// messages it gets within 300 ms, "topic payload" each.
func retainedOn(t *testing.T, addr, filter string) []string {
	t.Helper()
	var mu sync.Mutex
	var got []string
	c := pahoV3(t, addr, "r"+strconv.Itoa(freePort(t)), func(_ mqtt.Client, m mqtt.Message) {
		if m.Retained() {
			mu.Lock()
			got = append(got, m.Topic()+" "+string(m.Payload()))
			mu.Unlock()
		}
	})
	wait(t, c.Subscribe(filter, 1, nil), "subscribe")
	time.Sleep(300 * time.Millisecond)
	c.Disconnect(0)
	mu.Lock()
	defer mu.Unlock()
	return got
}

// eventually retries check every 100 ms for 10 s.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterRetained: a retained message set on one node is seen from
// another, its clear from a third removes it everywhere, and a node that
// joins later starts with the retained state of its peers.
func TestClusterRetained(t *testing.T) {
	nodes := startCluster(t, 3)
	a := pahoV3(t, nodes[0].mqtt, "a", nil)
	wait(t, a.Publish("ret/a", 1, true, "one"), "publish")
	wait(t, a.Publish("ret/b", 1, true, "two"), "publish")
	eventually(t, "retained ret/a on node 2", func() bool {
		got := retainedOn(t, nodes[2].mqtt, "ret/#")
		return len(got) == 2
	})
	if got := retainedOn(t, nodes[2].mqtt, "ret/a"); len(got) != 1 || got[0] != "ret/a one" {
		t.Fatalf("node 2 retained %q, want [ret/a one]", got)
	}
	b := pahoV3(t, nodes[1].mqtt, "b", nil)
	wait(t, b.Publish("ret/a", 1, true, ""), "clear")
	for _, n := range nodes {
		eventually(t, "ret/a cleared on "+n.name, func() bool {
			got := retainedOn(t, n.mqtt, "ret/#")
			return len(got) == 1 && got[0] == "ret/b two"
		})
	}
	// A fourth node, seeded with the first only: its first subscriber
	// gets the state at once.
	late := startClusterNode(t, nodes[0].cluster, "late", "127.0.0.1:"+strconv.Itoa(freePort(t)), []string{nodes[0].route})
	waitClaims(t, []*clusterNode{late})
	if got := retainedOn(t, late.mqtt, "ret/#"); len(got) != 1 || got[0] != "ret/b two" {
		t.Fatalf("late node retained %q, want [ret/b two]", got)
	}
}

// sysValue reads one retained $SYS value of a node.
func sysValue(t *testing.T, addr, topic string) int {
	t.Helper()
	got := retainedOn(t, addr, topic)
	if len(got) != 1 {
		t.Fatalf("%s on %s: %q", topic, addr, got)
	}
	v, err := strconv.Atoi(strings.TrimPrefix(got[0], topic+" "))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestClusterUnsubscribeStopsInterest: a node receives another node's
// messages only while it has a matching subscription: once its last
// subscriber unsubscribes, its NATS interest goes and the messages no
// longer reach it (its $SYS received count stays).
func TestClusterUnsubscribeStopsInterest(t *testing.T) {
	nodes := startCluster(t, 3, "--sys-interval", "1s")
	const recv = "$SYS/broker/cluster/messages/received"
	const subjects = "$SYS/broker/cluster/subjects"
	// The start-up check's mesh/# subscribers are gone, but $SYS may still
	// show their interest for a period.
	const base = 0
	eventually(t, "$SYS subjects at 0 with no subscriber", func() bool { return sysValue(t, nodes[1].mqtt, subjects) == base })
	got := make(chan string, 64)
	sub := pahoV3(t, nodes[1].mqtt, "u", func(_ mqtt.Client, m mqtt.Message) { got <- string(m.Payload()) })
	wait(t, sub.Subscribe("u/1", 1, nil), "subscribe")
	pub := pahoV3(t, nodes[0].mqtt, "p", nil)
	eventually(t, "message through the cluster", func() bool {
		wait(t, pub.Publish("u/1", 1, false, "m"), "publish")
		select {
		case <-got:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	eventually(t, "$SYS subjects counts the subscription", func() bool { return sysValue(t, nodes[1].mqtt, subjects) == base+1 })
	wait(t, sub.Unsubscribe("u/1"), "unsubscribe")
	eventually(t, "$SYS subjects back to "+strconv.Itoa(base), func() bool { return sysValue(t, nodes[1].mqtt, subjects) == base })
	before := sysValue(t, nodes[1].mqtt, recv)
	for i := 0; i < 50; i++ {
		wait(t, pub.Publish("u/1", 1, false, "after"), "publish")
	}
	// A control: another node with interest gets them meanwhile.
	ctl := make(chan string, 64)
	c2 := pahoV3(t, nodes[2].mqtt, "ctl", func(_ mqtt.Client, m mqtt.Message) { ctl <- string(m.Payload()) })
	wait(t, c2.Subscribe("u/1", 1, nil), "subscribe")
	eventually(t, "the control subscriber on node 2 gets them", func() bool {
		wait(t, pub.Publish("u/1", 1, false, "after"), "publish")
		select {
		case <-ctl:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	time.Sleep(2500 * time.Millisecond) // two $SYS periods
	if after := sysValue(t, nodes[1].mqtt, recv); after != before {
		t.Fatalf("node 1 received %d messages from other nodes after its interest went", after-before)
	}
	select {
	case m := <-got:
		t.Fatalf("unsubscribed client got %q", m)
	default:
	}
}
