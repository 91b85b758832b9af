package main

import (
	"net"
	"strconv"
	"strings"
	"sync"
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
