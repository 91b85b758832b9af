package bench

import (
	"fmt"
	"sort"
	"time"

	"github.com/gust-mqtt/gust/loadgen"
)

// Scenario is one named workload. Load is the measured run (its Addr is
// filled per target); Setup, when set, runs first against the same
// broker and is not measured (the retained scenario stores messages).
type Scenario struct {
	// Name is the scenario's fixed name (fanin, fanout, ...).
	Name string
	// Description says in one sentence what is measured.
	Description string
	// QoS lists the QoS levels the scenario runs at.
	QoS []byte
	// Load is the measured load.
	Load loadgen.Config
	// Setup is an optional unmeasured load run before Load.
	Setup *loadgen.Config
	// PerConn reports broker RSS per connection instead of per-message
	// figures (the conn scenario).
	PerConn bool
	// Durable marks the durable group: QoS 1 into persistent sessions and
	// retained messages, the work a broker's store does (DurableSet).
	Durable bool
	// Place says how the clients are spread over the nodes of a cluster
	// target (PlaceLocal, PlaceCross, PlaceSpread; cluster.go).
	Place string
}

// Size scales scenarios: Quick is for `make bench` (a few minutes on two
// cores), Standard for the committed comparison.
type Size int

// Scenario sizes.
const (
	Quick Size = iota
	Standard
)

// base is the common load configuration of the message scenarios.
func base(size Size) loadgen.Config {
	c := loadgen.DefaultConfig()
	c.PayloadSize = 64
	c.Inflight = 64
	c.Duration = 10 * time.Second
	c.Drain = 5 * time.Second
	if size == Quick {
		c.Duration = 3 * time.Second
		c.Drain = 2 * time.Second
	}
	return c
}

// ConnWarmUp is how many connections the conn scenario opens and closes
// before its RSS baseline.
const ConnWarmUp = 1000

// Scenarios returns every named scenario at the given size.
func Scenarios(size Size) map[string]Scenario {
	clients := 50
	conns := 19000
	retained := 10000
	if size == Quick {
		clients, conns, retained = 20, 5000, 2000
	}
	m := map[string]Scenario{}
	add := func(s Scenario) { m[s.Name] = s }

	fanin := base(size)
	fanin.Publishers, fanin.Subscribers = clients, 1
	fanin.PubTopic, fanin.SubTopic = "bench/fanin/%i", "bench/fanin/#"
	add(Scenario{Name: "fanin", QoS: []byte{0, 1}, Load: fanin,
		Description: "many publishers flat out, one wildcard subscriber receiving everything"})

	fanout := base(size)
	fanout.Publishers, fanout.Subscribers = 1, clients
	fanout.PubTopic, fanout.SubTopic = "bench/fanout", "bench/fanout"
	add(Scenario{Name: "fanout", QoS: []byte{0, 1}, Load: fanout,
		Description: "one publisher flat out, every message delivered to many subscribers"})

	p2p := base(size)
	p2p.Publishers, p2p.Subscribers = clients, clients
	p2p.PubTopic, p2p.SubTopic = "bench/p2p/%i", "bench/p2p/%i"
	add(Scenario{Name: "p2p", QoS: []byte{0, 1, 2}, Load: p2p,
		Description: "publisher/subscriber pairs on distinct topics"})

	shared := base(size)
	shared.Publishers, shared.Subscribers = clients, 5
	shared.Version = 5
	shared.PubTopic, shared.SubTopic = "bench/shared/%i", "$share/g/bench/shared/#"
	add(Scenario{Name: "shared", QoS: []byte{0, 1}, Load: shared,
		Description: "fan-in to a $share group of five subscribers (MQTT 5)"})

	conn := loadgen.DefaultConfig()
	conn.Mode = loadgen.ModeConn
	conn.Conns = conns
	conn.Duration = holdAfter + 2*time.Second // RSS read after holdAfter
	// The warm-up opens and closes a few connections before the RSS
	// baseline is read, so what every broker touches once (code pages,
	// allocator and table set-up) is not charged to the connections: the
	// per-connection figures are the marginal cost, the one to multiply
	// for 1M connections.
	warm := conn
	warm.Conns = ConnWarmUp
	warm.Duration = time.Second
	add(Scenario{Name: "conn", QoS: []byte{0}, Load: conn, PerConn: true, Setup: &warm,
		Description: "connection storm as fast as possible, then idle connections held: connect rate, RSS per connection at the storm's peak and while held idle, above the RSS after a warm-up of 1,000 connections opened and closed (the marginal cost per connection)"})

	setup := base(size)
	setup.Mode = loadgen.ModePub
	setup.Publishers = 1
	setup.QoS = 1
	setup.Retain = true
	setup.Count = retained
	setup.PubTopic = "bench/retained/%n"
	ret := base(size)
	ret.Mode = loadgen.ModeSub
	ret.Subscribers = 10
	ret.SubTopic = "bench/retained/#"
	ret.ExpectRetained = retained
	ret.Duration = 20 * time.Second
	add(Scenario{Name: "retained", QoS: []byte{0}, Load: ret, Setup: &setup,
		Description: "subscribers subscribe over many stored retained messages; latency is the time to receive all"})

	slow := base(size)
	slow.Publishers, slow.Subscribers, slow.SlowSubscribers = 10, 11, 1
	slow.Rate = 500
	slow.PubTopic, slow.SubTopic = "bench/slow/%i", "bench/slow/#"
	add(Scenario{Name: "slow", QoS: []byte{0, 1}, Load: slow,
		Description: "one stuck subscriber among ten healthy ones, 10 publishers at 500 msg/s each: the healthy ones' latency and the broker's memory"})
	for _, name := range []string{"fanin", "fanout", "p2p"} {
		st := m[name]
		st.Name = name + "-steady"
		st.QoS = []byte{0, 1}
		st.Load.Rate = 200
		if name == "fanout" {
			st.Load.Rate = 200 * float64(clients) / 50
		}
		st.Description = "the " + name + " shape at a fixed 200 msg/s per publisher that every broker sustains: latency without saturation"
		add(st)
	}
	wide := base(size)
	wide.Publishers, wide.Subscribers = 1, 10*clients
	wide.Rate = 200
	wide.PubTopic, wide.SubTopic = "bench/wide", "bench/wide"
	add(Scenario{Name: "fanout-wide-steady", QoS: []byte{0}, Load: wide,
		Description: "one publisher at a fixed 200 msg/s to ten times as many subscribers as fanout (500 at the standard size): each message a separate write to every subscriber, the per-delivery syscall cost"})
	addOMB(add, size)
	addDurable(add, size)
	addCluster(add, size)
	return m
}

// addDurable adds the durable group: QoS 1 work that a durable broker
// must store before it acknowledges, to compare a broker's store with its
// in-memory mode and with Mosquitto's persistence. Subscribers keep
// persistent sessions (3.1.1 Clean Session 0, or v5 with a Session Expiry
// Interval), so each message is queued for a session that outlives its
// connection.
func addDurable(add func(Scenario), size Size) {
	clients, perPub := 50, 20000
	if size == Quick {
		clients, perPub = 20, 10000
	}
	p2p := base(size)
	p2p.Publishers, p2p.Subscribers, p2p.PersistentSubs = clients, clients, true
	p2p.PubTopic, p2p.SubTopic = "bench/dp2p/%i", "bench/dp2p/%i"
	add(Scenario{Name: "durable-p2p", QoS: []byte{1}, Load: p2p, Durable: true,
		Description: "publisher/subscriber pairs on distinct topics, QoS 1, each subscriber on a persistent MQTT 3.1.1 session (Clean Session 0)"})

	fanin := base(size)
	fanin.Publishers, fanin.Subscribers, fanin.PersistentSubs = clients, 1, true
	fanin.Version, fanin.SubSessionExpiry = 5, 3600
	fanin.PubTopic, fanin.SubTopic = "bench/dfanin/%i", "bench/dfanin/#"
	add(Scenario{Name: "durable-fanin", QoS: []byte{1}, Load: fanin, Durable: true,
		Description: "many publishers flat out at QoS 1 into one wildcard subscriber on a persistent MQTT 5 session (Session Expiry Interval 3600 s)"})

	off := base(size)
	off.Publishers, off.Subscribers, off.PersistentSubs, off.Offline = clients, clients, true, true
	off.Count = perPub
	off.PubTopic, off.SubTopic = "bench/doff/%i", "bench/doff/%i"
	off.Duration, off.Drain = 60*time.Second, 60*time.Second // bounds: the run ends when every message is in
	add(Scenario{Name: "durable-offline", QoS: []byte{1}, Load: off, Durable: true,
		Description: fmt.Sprintf("persistent 3.1.1 subscribers subscribe and disconnect; %d publishers each send %d QoS 1 messages to their own subscriber's topic "+
			"while it is away (publish rate: acknowledged publishes per second), then the subscribers reconnect to their sessions and drain (drain rate: "+
			"messages per second from the reconnect to the last delivery)", clients, perPub)})

	churn := base(size)
	churn.Mode, churn.Publishers, churn.Retain = loadgen.ModePub, 10, true
	churn.PubTopic, churn.TopicCycle = "bench/churn/%i/%n", retainedChurnTopics/10
	add(Scenario{Name: "durable-retained", QoS: []byte{1}, Load: churn, Durable: true,
		Description: fmt.Sprintf("10 publishers flat out at QoS 1 updating %d retained topics in turn (each publisher its own %d); rate: acknowledged publishes per second",
			retainedChurnTopics, retainedChurnTopics/10)})
}

// retainedChurnTopics is how many retained topics durable-retained updates.
const retainedChurnTopics = 10000

// DurableGroup is the --scenarios name that stands for DurableSet.
const DurableGroup = "durable"

// DurableSet is the durable group, run with `--scenarios durable`.
func DurableSet() []string {
	return []string{"durable-p2p", "durable-fanin", "durable-offline", "durable-retained"}
}

// expandGroups replaces each group name in names by its scenarios.
func expandGroups(names []string) []string {
	var out []string
	for _, n := range names {
		switch n {
		case DurableGroup:
			out = append(out, DurableSet()...)
			continue
		case ClusterGroup:
			out = append(out, ClusterSet()...)
			continue
		}
		out = append(out, n)
	}
	return out
}

// addOMB adds scenarios shaped like the Open MQTT Benchmark Suite's
// (emqx/mqttbs): many clients each publishing slowly at QoS 1, measured for
// latency at a steady load rather than for peak throughput. The client
// counts are scaled to fit this machine's open-file limit (about 19,500
// connections per process), so they are shapes, not the suite's sizes.
func addOMB(add func(Scenario), size Size) {
	pairs, fanin := 5000, 9000
	if size == Quick {
		pairs, fanin = 1000, 2000
	}
	p2p := base(size)
	p2p.Publishers, p2p.Subscribers, p2p.Rate, p2p.PayloadSize = pairs, pairs, 1, 16
	p2p.PubTopic, p2p.SubTopic = "omb/p2p/%i", "omb/p2p/%i"
	p2p.Duration = 20 * time.Second
	add(Scenario{Name: "omb-p2p", QoS: []byte{1}, Load: p2p,
		Description: "Open MQTT Benchmark shape: publisher/subscriber pairs, 1 msg/s each, 16-byte payload, QoS 1"})
	fi := base(size)
	fi.Publishers, fi.Subscribers, fi.Rate, fi.PayloadSize = fanin, 50, 1, 16
	fi.Version = 5
	fi.PubTopic, fi.SubTopic = "omb/fanin/%i", "$share/omb/omb/fanin/#"
	fi.Duration = 20 * time.Second
	add(Scenario{Name: "omb-fanin", QoS: []byte{1}, Load: fi,
		Description: "Open MQTT Benchmark shape: many publishers at 1 msg/s into a $share group of 50 subscribers, QoS 1"})
	fo := base(size)
	fo.Publishers, fo.Subscribers, fo.Rate, fo.PayloadSize = 1, pairs, 10, 16
	fo.PubTopic, fo.SubTopic = "omb/fanout", "omb/fanout"
	fo.Duration = 20 * time.Second
	add(Scenario{Name: "omb-fanout", QoS: []byte{1}, Load: fo,
		Description: "Open MQTT Benchmark shape: one publisher at 10 msg/s to thousands of subscribers, QoS 1"})
}

// DefaultSet is the scenario list of a standard comparison.
func DefaultSet() []string {
	return []string{"fanin", "fanout", "p2p", "fanin-steady", "fanout-steady", "p2p-steady", "shared", "conn", "retained", "slow"}
}

// QuickSet is the scenario list of `gust bench --quick`.
func QuickSet() []string { return []string{"fanin", "fanout", "p2p", "conn"} }

// Names returns every scenario name, sorted.
func Names() []string {
	var out []string
	for n := range Scenarios(Quick) {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
