package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/loadgen"
)

// Names of the clustered targets: three processes on loopback, each a
// node of one cluster, started and stopped together.
const (
	// NameGustCluster is three `gust serve --cluster` nodes, each embedding
	// its NATS server, routes between them.
	NameGustCluster = "gust-cluster"
	// NameNATSCluster is three nats-server processes (bench/peers/nats)
	// with JetStream clustered over their routes and MQTT on each.
	NameNATSCluster = "nats-cluster"
)

// clusterNodes is the node count of the clustered targets.
const clusterNodes = 3

// clusterReady bounds the wait for a started cluster to route a message
// from its first node to every other (NATS elects its JetStream meta
// leader first, which takes seconds).
const clusterReady = 60 * time.Second

// Placements of a scenario's clients over the nodes of a target; on a
// single-node target every client goes to its one address.
const (
	// PlaceLocal puts every client on the first node.
	PlaceLocal = ""
	// PlaceCross puts the publishers on the first node and the
	// subscribers on the second: every message crosses between nodes.
	PlaceCross = "cross"
	// PlaceSpread puts the publishers on the first node and spreads the
	// subscribers round-robin over every node.
	PlaceSpread = "spread"
)

// ClusterGroup is the --scenarios name that stands for ClusterSet.
const ClusterGroup = "cluster"

// ClusterSet is the cluster group: cross-node point-to-point, fan-out
// over every node, and the same-node pairs, to run on gust, gust-cluster
// and nats-cluster.
func ClusterSet() []string { return []string{"cluster-p2p", "cluster-fanout", "cluster-local"} }

// addCluster adds the cluster group's scenarios.
func addCluster(add func(Scenario), size Size) {
	clients := 50
	if size == Quick {
		clients = 20
	}
	// Subscriptions reach the other nodes after their SUBACK.
	const settle = 500 * time.Millisecond
	p2p := base(size)
	p2p.Publishers, p2p.Subscribers, p2p.Settle = clients, clients, settle
	p2p.PubTopic, p2p.SubTopic = "bench/cp2p/%i", "bench/cp2p/%i"
	add(Scenario{Name: "cluster-p2p", QoS: []byte{0, 1}, Load: p2p, Place: PlaceCross,
		Description: "publisher/subscriber pairs on distinct topics, publishers on the first node and subscribers on the second: every message crosses between nodes (one node: the p2p shape)"})
	fo := base(size)
	fo.Publishers, fo.Subscribers, fo.Settle = 1, clients, settle
	fo.PubTopic, fo.SubTopic = "bench/cfanout", "bench/cfanout"
	add(Scenario{Name: "cluster-fanout", QoS: []byte{0, 1}, Load: fo, Place: PlaceSpread,
		Description: "one publisher flat out on the first node, its subscribers spread round-robin over every node"})
	local := p2p
	local.PubTopic, local.SubTopic = "bench/clocal/%i", "bench/clocal/%i"
	add(Scenario{Name: "cluster-local", QoS: []byte{0, 1}, Load: local, Place: PlaceLocal,
		Description: "publisher/subscriber pairs all on the first node: what clustering costs traffic that stays on one node"})
}

// place sets the role addresses of load from the nodes of a started target.
func place(load *loadgen.Config, where string, nodes []string) {
	if len(nodes) == 0 {
		return
	}
	load.Addr = nodes[0]
	switch where {
	case PlaceCross:
		load.PubAddrs, load.SubAddrs = nodes[:1], []string{nodes[1%len(nodes)]}
	case PlaceSpread:
		load.PubAddrs, load.SubAddrs = nodes[:1], nodes
	}
}

// startCluster starts t's nodes on free loopback ports, each its own
// process, and returns once the first node routes a message to a
// subscriber on every other node.
func (t *Target) startCluster(ctx context.Context, dir, pin string) (*running, error) {
	mqttPorts, routePorts := make([]int, t.Nodes), make([]int, t.Nodes)
	var routes []string
	for i := range t.Nodes {
		var err error
		if mqttPorts[i], err = freePort(); err != nil {
			return nil, err
		}
		if routePorts[i], err = freePort(); err != nil {
			return nil, err
		}
		routes = append(routes, "127.0.0.1:"+strconv.Itoa(routePorts[i]))
	}
	cluster := "bench" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	var r *running
	for i := range t.Nodes {
		addr := "127.0.0.1:" + strconv.Itoa(mqttPorts[i])
		n := &running{addr: addr}
		args, err := t.command(n, addr, mqttPorts[i], 0, dir, nil)
		if err == nil {
			args, err = t.clusterArgs(args, cluster, i, routes)
		}
		if err != nil {
			n.removeDirs()
			if r != nil {
				r.stop()
			}
			return nil, err
		}
		if pin != "" {
			if tp, err := exec.LookPath("taskset"); err == nil {
				args = append([]string{tp, "-c", pin}, args...)
			}
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		killWithParent(cmd)
		if err := cmd.Start(); err != nil {
			n.removeDirs()
			if r != nil {
				r.stop()
			}
			return nil, err
		}
		n.cmd, n.pid = cmd, cmd.Process.Pid
		if r == nil {
			r = n
		} else {
			r.others = append(r.others, n)
		}
		r.nodes = append(r.nodes, addr)
	}
	for _, a := range r.nodes {
		if err := waitListening(ctx, a, 10*time.Second); err != nil {
			r.stop()
			return nil, fmt.Errorf("%w: %s at %s", ErrNotListening, t.Name, a)
		}
	}
	if err := meshReady(ctx, r.nodes, clusterReady); err != nil {
		r.stop()
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	return r, nil
}

// clusterArgs adds to a node's command line what makes it node i of
// cluster, with routes the route addresses of every node.
func (t *Target) clusterArgs(args []string, cluster string, i int, routes []string) ([]string, error) {
	name := "node" + strconv.Itoa(i)
	switch t.Kind {
	case KindGust:
		return append(args, "--cluster", "--cluster-name", cluster, "--cluster-node", name,
			"--cluster-listen", routes[i], "--cluster-routes", strings.Join(routes, ",")), nil
	case KindNATS:
		return append(args, "-name", name, "-cluster-listen", routes[i], "-routes", strings.Join(routes, ",")), nil
	}
	return nil, fmt.Errorf("%w: %s cannot run as a cluster", ErrUnknownTarget, t.Kind)
}

// meshReady subscribes on every node but the first and publishes from
// the first every 100 ms until each subscriber has a message, or timeout.
func meshReady(ctx context.Context, nodes []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	id := "mesh" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	topic := "bench/mesh/" + id
	connect := func(addr, cid string) (mqtt.Client, error) {
		for {
			o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(cid).
				SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(2 * time.Second)
			c := mqtt.NewClient(o)
			tok := c.Connect()
			if tok.WaitTimeout(3*time.Second) && tok.Error() == nil {
				return c, nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return nil, fmt.Errorf("%w: no CONNACK from %s", ErrNotListening, addr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	var mu sync.Mutex
	got := map[int]bool{}
	var clients []mqtt.Client
	defer func() {
		for _, c := range clients {
			c.Disconnect(0)
		}
	}()
	for i := 1; i < len(nodes); i++ {
		c, err := connect(nodes[i], id+"s"+strconv.Itoa(i))
		if err != nil {
			return err
		}
		clients = append(clients, c)
		for {
			tok := c.Subscribe(topic, 0, func(mqtt.Client, mqtt.Message) { mu.Lock(); got[i] = true; mu.Unlock() })
			if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%w: no SUBACK from %s", ErrNotListening, nodes[i])
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	pub, err := connect(nodes[0], id+"p")
	if err != nil {
		return err
	}
	clients = append(clients, pub)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		pub.Publish(topic, 0, false, "ready").WaitTimeout(time.Second)
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == len(nodes)-1 {
			return nil
		}
	}
	return fmt.Errorf("%w: %d of %d nodes received a message from the first within %s", ErrNotListening, len(got), len(nodes)-1, timeout)
}

// multiSampler samples several processes (the nodes of a cluster) and
// sums what it saw: CPU time, RSS and disk writes over every node.
type multiSampler []*Sampler

func startSamplers(pids []int, interval time.Duration) multiSampler {
	var m multiSampler
	for _, p := range pids {
		m = append(m, StartSampler(p, interval))
	}
	return m
}

// Stop stops every sampler and returns the sums (the peak is the sum of
// each node's peak, an upper bound of the cluster's).
func (m multiSampler) Stop() ProcUsage {
	var u ProcUsage
	for i, s := range m {
		p := s.Stop()
		if i == 0 {
			u = p
			continue
		}
		u.CPUSecs += p.CPUSecs
		u.RSSStart += p.RSSStart
		u.RSSPeak += p.RSSPeak
		u.RSSEnd += p.RSSEnd
		if u.DiskWriteBytes >= 0 && p.DiskWriteBytes >= 0 {
			u.DiskWriteBytes += p.DiskWriteBytes
		} else {
			u.DiskWriteBytes = -1
		}
	}
	return u
}
