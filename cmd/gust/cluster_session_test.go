package main

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// waitClaims waits, at most 30 s, until every node accepts a CONNECT:
// JetStream has its quorum and the session ownership bucket is bound.
func waitClaims(t *testing.T, nodes []*clusterNode) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range nodes {
		for {
			o := mqtt.NewClientOptions().AddBroker("tcp://" + n.mqtt).SetClientID("ready-" + n.name).
				SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetConnectRetry(false)
			c := mqtt.NewClient(o)
			tok := c.Connect()
			if tok.WaitTimeout(6*time.Second) && tok.Error() == nil {
				c.Disconnect(0)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s refuses CONNECTs after 30 s (%v):\n%s", n.name, tok.Error(), n.log.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// sessV5 is a paho.golang (MQTT 5) client that records the server's
// DISCONNECT.
type sessV5 struct {
	*v5
	gone chan byte // the reason code of the server's DISCONNECT
}

// connectV5 connects a v5 client with id to addr: clean start or not,
// and a Session Expiry Interval. It returns the CONNACK or the error.
func connectV5(t *testing.T, addr, id string, clean bool, expiry uint32) (*sessV5, *paho.Connack, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v := &sessV5{v5: &v5{msgs: make(chan *paho.Publish, 256)}, gone: make(chan byte, 1)}
	v.c = paho.NewClient(paho.ClientConfig{Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			v.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) { v.gone <- d.ReasonCode },
		OnClientError:      func(error) {},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 60}
	if expiry > 0 {
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	ack, err := v.c.Connect(ctx, cp)
	if err != nil {
		_ = nc.Close()
		return nil, ack, err
	}
	t.Cleanup(func() { _ = v.c.Disconnect(&paho.Disconnect{}); _ = nc.Close() })
	return v, ack, nil
}

func mustConnectV5(t *testing.T, addr, id string, clean bool, expiry uint32) *sessV5 {
	t.Helper()
	v, _, err := connectV5(t, addr, id, clean, expiry)
	if err != nil {
		t.Fatalf("connect %s to %s: %v", id, addr, err)
	}
	return v
}

// takenOver waits up to d for v's DISCONNECT and checks it is 0x8E
// Session taken over.
func takenOver(t *testing.T, v *sessV5, d time.Duration, who string) {
	t.Helper()
	select {
	case rc := <-v.gone:
		if rc != 0x8E {
			t.Fatalf("%s: DISCONNECT reason 0x%02x, want 0x8E Session taken over", who, rc)
		}
	case <-time.After(d):
		t.Fatalf("%s: no DISCONNECT after %v", who, d)
	}
}

// silent checks that v gets no message and no DISCONNECT for d.
func silent(t *testing.T, v *sessV5, d time.Duration, who string) {
	t.Helper()
	select {
	case p := <-v.msgs:
		t.Fatalf("%s got %s %q, want nothing", who, p.Topic, p.Payload)
	case rc := <-v.gone:
		t.Fatalf("%s disconnected by the server (0x%02x)", who, rc)
	case <-time.After(d):
	}
}

// TestClusterTakeover: a client id connected on node A and then on node
// B is held by B only: paho.golang on A gets DISCONNECT 0x8E before long,
// its subscription on A is gone, and B's gets the messages; A's will
// without delay is published, as in a local takeover. The same holds for
// a 3.1.1 mosquitto_sub, whose connection is closed.
func TestClusterTakeover(t *testing.T) {
	nodes := startCluster(t, 3)
	watch := dialV5(t, nodes[2].mqtt, "watch")
	watch.sub(t, paho.SubscribeOptions{Topic: "will/#", QoS: 1}, 0)

	a := mustConnectV5(t, nodes[0].mqtt, "tk", true, 0)
	a.sub(t, paho.SubscribeOptions{Topic: "tk/a", QoS: 1}, 0)
	b := mustConnectV5(t, nodes[1].mqtt, "tk", true, 0)
	takenOver(t, a, 5*time.Second, "the client on node A")
	b.sub(t, paho.SubscribeOptions{Topic: "tk/b", QoS: 1}, 0)

	pub := dialV5(t, nodes[2].mqtt, "pub")
	eventuallyGot(t, pub, b, "tk/b")
	pub.pub(t, "tk/a", "to-the-old-subscription", 1, false)
	pub.pub(t, "tk/b", "marker", 1, false)
	if p := b.next(t); p.Topic != "tk/b" || string(p.Payload) != "marker" {
		t.Fatalf("B got %s %q, want the marker", p.Topic, p.Payload)
	}
	silent(t, b, 300*time.Millisecond, "B after the marker") // A's session is not B's

	// 3.1.1: paho with a will on A, then mosquitto_sub with its client id
	// on B. (mosquitto_sub reconnects when its connection is closed, so it
	// is the newcomer here.)
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Skip("mosquitto_sub not installed")
	}
	lost := make(chan error, 1)
	o := mqtt.NewClientOptions().AddBroker("tcp://"+nodes[0].mqtt).SetClientID("tk3").SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(5*time.Second).SetWill("will/tk3", "gone", 1, false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	old := mqtt.NewClient(o)
	wait(t, old.Connect(), "paho 3.1.1 connect on A")
	t.Cleanup(func() { old.Disconnect(0) })
	host, port, _ := net.SplitHostPort(nodes[1].mqtt)
	subOut := lines(t, "mosquitto_sub", "-h", host, "-p", port, "-V", "mqttv311", "-i", "tk3", "-t", "tk3/#", "-v")
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("paho 3.1.1 on A still connected 10 s after mosquitto_sub connected on B with its client id")
	}
	if p := watch.next(t); p.Topic != "will/tk3" || string(p.Payload) != "gone" {
		t.Fatalf("will watcher got %s %q, want will/tk3 gone (a will without delay goes out at a takeover)", p.Topic, p.Payload)
	}
	probeV5(t, pub, "tk3/x", subOut)
}

// probeV5 publishes probes on topic through pub until ch shows one.
func probeV5(t *testing.T, pub *v5, topic string, ch <-chan string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pub.pub(t, topic, "probe", 0, false)
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

// eventuallyGot publishes probes on topic through pub until to gets one
// (the subscription's interest has reached pub's node).
func eventuallyGot(t *testing.T, pub *v5, to *sessV5, topic string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pub.pub(t, topic, "probe", 0, false)
		select {
		case p := <-to.msgs:
			if p.Topic == topic {
				for len(to.msgs) > 0 {
					<-to.msgs
				}
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no probe on %s after 10 s", topic)
		}
	}
}

// signal sends sig to the node's process.
func (n *clusterNode) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if n.pid == 0 {
		t.Fatalf("node %s: no process id", n.name)
	}
	if err := syscall.Kill(n.pid, sig); err != nil {
		t.Fatalf("node %s: %v: %v", n.name, sig, err)
	}
}

// TestClusterPartitionSIGSTOP: a node stopped with SIGSTOP is cut off.
// The session of a client on it is claimed by a CONNECT on another node
// (the two others hold the bucket's quorum); once the stopped node runs
// again it learns of the claim and closes its client with 0x8E. With the
// two others stopped, a node cannot reach the bucket and refuses a
// CONNECT with 0x88 Server unavailable rather than guess.
func TestClusterPartitionSIGSTOP(t *testing.T) {
	if testing.Short() {
		t.Skip("stops nodes for several seconds")
	}
	nodes := startCluster(t, 3)
	a := mustConnectV5(t, nodes[0].mqtt, "part", false, 600)
	nodes[0].signal(t, syscall.SIGSTOP)
	stopped := []*clusterNode{nodes[0]}
	t.Cleanup(func() {
		for _, n := range stopped {
			_ = syscall.Kill(n.pid, syscall.SIGCONT)
		}
	})

	// B takes the session over while A is stopped: the bucket's leader
	// may have to move first, so B may refuse for a few seconds.
	var b *sessV5
	deadline := time.Now().Add(30 * time.Second)
	refused := 0
	for b == nil {
		v, ack, err := connectV5(t, nodes[1].mqtt, "part", false, 600)
		switch {
		case err == nil:
			b = v
		case ack != nil && ack.ReasonCode == 0x88:
			refused++
			if time.Now().After(deadline) {
				t.Fatalf("node B refuses the CONNECT 30 s after node A stopped:\n%s", nodes[1].log.String())
			}
			time.Sleep(200 * time.Millisecond)
		default:
			t.Fatalf("connect on B: %v (ack %+v)", err, ack)
		}
	}
	t.Logf("B took the session over while A is stopped, after %d refusals", refused)
	select {
	case rc := <-a.gone:
		t.Fatalf("the client on the stopped node A got DISCONNECT 0x%02x", rc)
	default:
	}

	nodes[0].signal(t, syscall.SIGCONT)
	stopped = nil
	takenOver(t, a, 20*time.Second, "the client on node A once it runs again")
	silent(t, b, 500*time.Millisecond, "the client on node B")

	// A alone: no quorum, no claim, CONNECT refused.
	for _, n := range nodes[1:] {
		n.signal(t, syscall.SIGSTOP)
		stopped = append(stopped, n)
	}
	_, ack, err := connectV5(t, nodes[0].mqtt, "alone", true, 0)
	if err == nil || ack == nil || ack.ReasonCode != 0x88 {
		t.Fatalf("CONNECT on A with B and C stopped: err %v, ack %+v; want CONNACK 0x88 Server unavailable", err, ack)
	}
	for _, n := range stopped {
		n.signal(t, syscall.SIGCONT)
	}
	stopped = nil
	waitClaims(t, nodes)
}

// resumeV5 connects id to addr without clean start, retrying while the
// node refuses with 0x88 (the bucket's leader moving after a node died),
// and checks that the CONNACK says the session is present.
func resumeV5(t *testing.T, n *clusterNode, id string) *sessV5 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, ack, err := connectV5(t, n.mqtt, id, false, 600)
		if err == nil {
			if !ack.SessionPresent {
				t.Fatalf("%s on node %s: CONNACK Session Present 0, want 1 (the session resumed from another node)", id, n.name)
			}
			return v
		}
		if ack == nil || ack.ReasonCode != 0x88 || time.Now().After(deadline) {
			t.Fatalf("%s on node %s: %v (ack %+v)", id, n.name, err, ack)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestClusterPersistentSession: a persistent session (paho.golang, Session
// Expiry 600 s) subscribed on node A moves to node B after a DISCONNECT,
// and to node C after B is killed with SIGKILL: each time the CONNACK says
// Session Present and the subscriptions, with their Subscription
// Identifier and QoS, deliver what is published after the resume.
func TestClusterPersistentSession(t *testing.T) {
	nodes := startCluster(t, 3)
	pub := dialV5(t, nodes[2].mqtt, "ps-pub")

	a := mustConnectV5(t, nodes[0].mqtt, "ps", true, 600)
	a.sub(t, paho.SubscribeOptions{Topic: "ps/#", QoS: 1}, 5)
	a.sub(t, paho.SubscribeOptions{Topic: "other/+", QoS: 0}, 0)
	// The record goes to the bucket after the SUBACK, off the loop.
	time.Sleep(time.Second)
	if err := a.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}

	b := resumeV5(t, nodes[1], "ps")
	eventuallyGot(t, pub, b, "ps/probe")
	check := func(v *sessV5, where string) {
		t.Helper()
		pub.pub(t, "ps/x", where, 1, false)
		p := v.next(t)
		if p.Topic != "ps/x" || string(p.Payload) != where || p.QoS != 1 {
			t.Fatalf("%s: got %s %q qos %d, want ps/x %q qos 1", where, p.Topic, p.Payload, p.QoS, where)
		}
		if p.Properties == nil || p.Properties.SubscriptionIdentifier == nil || *p.Properties.SubscriptionIdentifier != 5 {
			t.Fatalf("%s: subscription identifier %+v, want 5", where, p.Properties)
		}
		pub.pub(t, "other/y", where, 0, false)
		if p := v.next(t); p.Topic != "other/y" {
			t.Fatalf("%s: got %s, want other/y", where, p.Topic)
		}
	}
	check(b, "on B after a move")

	time.Sleep(time.Second) // B's record of the resumed session
	nodes[1].signal(t, syscall.SIGKILL)
	c := resumeV5(t, nodes[2], "ps")
	eventuallyGot(t, pub, c, "ps/probe")
	check(c, "on C after B was killed")
}
