package cluster

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func (e *fakeEngine) sharedGot() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.shared...)
}

// TestSharedQueueOncePerGroup: three nodes with members of one group;
// each record published on one node reaches exactly one node's group,
// the publishing node's included, and reaches them all; a plain
// subscription gets its own copy of each, and a group on another filter
// with the same subject its own one.
func TestSharedQueueOncePerGroup(t *testing.T) {
	name := "t" + strconv.Itoa(time.Now().Nanosecond())
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	routes := strings.Join(addrs, ",")
	engines := []*fakeEngine{new(fakeEngine), new(fakeEngine), new(fakeEngine)}
	nodes := make([]*Node, 3)
	for i := range nodes {
		nodes[i] = startNode(t, Config{Name: name, Node: "n" + strconv.Itoa(i), Listen: addrs[i], Routes: routes}, engines[i])
	}
	for _, n := range nodes {
		n.SharedInterest("g", "x/#", true)
	}
	nodes[1].SharedInterest("g", "x/y", true) // the same name on another filter: another queue
	nodes[2].Interest("x/#", true)
	subj := string(AppendSubject(nil, nodes[0].Prefix(), []byte("x/y")))
	// Until every node's queue subscription has spread: each node's
	// group has had one.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		nodes[0].Publish(subj, []byte("warm"))
		time.Sleep(5 * time.Millisecond)
		all := len(engines[2].received()) > 0
		for _, e := range engines {
			all = all && len(e.sharedGot()) > 0
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("queue subscriptions not spread after 10 s")
		}
	}
	time.Sleep(100 * time.Millisecond)
	before := make([]int, 3)
	for i, e := range engines {
		before[i] = len(e.sharedGot())
	}
	plainBefore := len(engines[2].received())
	const total = 600
	for i := 0; i < total; i++ {
		nodes[0].Publish(subj, []byte("m"+strconv.Itoa(i)))
	}
	count := map[string]map[string]int{} // group filter -> record -> deliveries
	eventually := time.Now().Add(10 * time.Second)
	for {
		clear(count)
		per := make([]int, 3)
		for i, e := range engines {
			for _, s := range e.sharedGot()[before[i]:] {
				f := strings.Fields(s)
				k := f[0] + " " + f[1]
				if count[k] == nil {
					count[k] = map[string]int{}
				}
				count[k][f[2]]++
				if f[1] == "x/#" {
					per[i]++
				}
			}
		}
		if len(count["g x/#"]) == total && len(count["g x/y"]) == total && len(engines[2].received())-plainBefore == total {
			for k, c := range count {
				for r, n := range c {
					if n != 1 {
						t.Fatalf("%s: %s delivered %d times", k, r, n)
					}
				}
			}
			for i, n := range per {
				if n == 0 {
					t.Fatalf("node %d got none of the group's %d records: %v", i, total, per)
				}
			}
			t.Logf("group g x/# per node: %v", per)
			break
		}
		if time.Now().After(eventually) {
			t.Fatalf("after 10 s: g x/# %d, g x/y %d, plain %d of %d", len(count["g x/#"]), len(count["g x/y"]), len(engines[2].received())-plainBefore, total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, n := range nodes {
		n.SharedInterest("g", "x/#", false)
	}
	if st := nodes[1].Stats(); st.SharedQueues != 1 {
		t.Fatalf("node 1 holds %d queue subscriptions, want 1 (g x/y)", st.SharedQueues)
	}
}

// TestGroupLocalOnly: a group is local-only while no other node has
// members of it, and not once one has; a group with no member here never
// is.
func TestGroupLocalOnly(t *testing.T) {
	name := "t" + strconv.Itoa(time.Now().Nanosecond())
	addrs := []string{freeAddr(t), freeAddr(t)}
	routes := strings.Join(addrs, ",")
	a := startNode(t, Config{Name: name, Node: "a", Listen: addrs[0], Routes: routes}, new(fakeEngine))
	b := startNode(t, Config{Name: name, Node: "b", Listen: addrs[1], Routes: routes}, new(fakeEngine))
	until := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 10 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if a.GroupLocalOnly("g", "x/#") {
		t.Fatal("a group without a member here is local-only")
	}
	a.SharedInterest("g", "x/#", true)
	until("local-only with members on a only", func() bool { return a.GroupLocalOnly("g", "x/#") })
	b.SharedInterest("g", "x/#", true)
	until("not local-only once b has a member", func() bool { return !a.GroupLocalOnly("g", "x/#") })
	if a.GroupLocalOnly("g", "x/y") || a.GroupLocalOnly("h", "x/#") {
		t.Fatal("another group counted as local-only")
	}
	b.SharedInterest("g", "x/#", false)
	until("local-only again once b's member left", func() bool { return a.GroupLocalOnly("g", "x/#") })
}
