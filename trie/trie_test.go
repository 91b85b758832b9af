package trie

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// refMatch is the reference matcher: written independently of the trie, it
// splits both strings on '/' and compares level by level.
func refMatch(filter, topic string) bool {
	fl := strings.Split(filter, "/")
	tl := strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (fl[0] == "+" || fl[0] == "#") {
		return false // [MQTT-4.7.2-1]
	}
	for i, f := range fl {
		if f == "#" {
			return true // covers the parent level too: len(tl) >= i
		}
		if i >= len(tl) {
			return false
		}
		if f != "+" && f != tl[i] {
			return false
		}
	}
	return len(fl) == len(tl)
}

func subscribers(res *Result) []SubscriberID {
	var ids []SubscriberID
	for _, d := range res.Deliveries {
		ids = append(ids, d.Subscriber)
	}
	slices.Sort(ids)
	return ids
}

// TestMatchTable is the conformance table of filters against topics.
func TestMatchTable(t *testing.T) {
	cases := []struct {
		name   string
		filter string
		topic  string
		want   bool
	}{
		{name: "exact", filter: "a/b/c", topic: "a/b/c", want: true},
		{name: "exact differs", filter: "a/b/c", topic: "a/b/d", want: false},
		{name: "plus one level", filter: "a/+/c", topic: "a/b/c", want: true},
		{name: "plus not two levels", filter: "a/+", topic: "a/b/c", want: false},
		{name: "plus matches empty level", filter: "a/+/c", topic: "a//c", want: true},
		{name: "hash matches parent [MQTT-4.7.1-2]", filter: "a/#", topic: "a", want: true},
		{name: "hash matches below", filter: "a/#", topic: "a/b/c/d", want: true},
		{name: "hash matches empty child", filter: "a/#", topic: "a/", want: true},
		{name: "hash alone", filter: "#", topic: "x/y", want: true},
		{name: "hash alone on slash", filter: "#", topic: "/", want: true},
		{name: "plus plus on slash", filter: "+/+", topic: "/", want: true},
		{name: "plus on slash", filter: "+", topic: "/", want: false},
		{name: "slash filter", filter: "/", topic: "/", want: true},
		{name: "leading empty level", filter: "/a", topic: "/a", want: true},
		{name: "leading empty vs none", filter: "/a", topic: "a", want: false},
		{name: "plus leading empty", filter: "+/a", topic: "/a", want: true},
		{name: "trailing slash distinct", filter: "a/", topic: "a", want: false},
		{name: "sys not by hash [MQTT-4.7.2-1]", filter: "#", topic: "$SYS/x", want: false},
		{name: "sys not by plus [MQTT-4.7.2-1]", filter: "+/x", topic: "$SYS/x", want: false},
		{name: "sys exact", filter: "$SYS/#", topic: "$SYS/broker/load", want: true},
		{name: "sys plus later", filter: "$SYS/+/load", topic: "$SYS/broker/load", want: true},
		{name: "dollar inside level ok", filter: "+/$x", topic: "a/$x", want: true},
		{name: "case sensitive [MQTT-4.7.3-4]", filter: "A/b", topic: "a/b", want: false},
		{name: "no normalisation [MQTT-4.7.3-4]", filter: "a/b ", topic: "a/b", want: false},
		{name: "plus then hash", filter: "+/#", topic: "a", want: true},
		{name: "deep", filter: "a/+/c/+/e/#", topic: "a/b/c/d/e/f/g", want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := refMatch(tc.filter, tc.topic); got != tc.want {
				t.Fatalf("reference matcher: got %v, want %v", got, tc.want)
			}
			tr := New()
			_, err := tr.Subscribe(Subscription{Subscriber: 7, Filter: tc.filter, QoS: 1})
			if err != nil {
				t.Fatal(err)
			}
			var res Result
			tr.Match([]byte(tc.topic), &res)
			if (len(res.Deliveries) == 1) != tc.want {
				t.Fatalf("got %v, want %v", len(res.Deliveries) == 1, tc.want)
			}
			_, err = tr.Subscribe(Subscription{Subscriber: 8, Filter: tc.filter, Group: "g"})
			if err != nil {
				t.Fatal(err)
			}
			tr.Match([]byte(tc.topic), &res)
			if (len(res.Groups) == 1) != tc.want {
				t.Fatalf("shared group: got %v, want %v", len(res.Groups) == 1, tc.want)
			}
		})
	}
}

// TestOverlap checks one delivery per subscriber at the highest QoS with all
// identifiers (3.1.1 section 3.3.5, 5.0 section 3.3.4).
func TestOverlap(t *testing.T) {
	tr := New()
	subs := []Subscription{
		{Subscriber: 1, Filter: "a/+", QoS: 0, Identifier: 10},
		{Subscriber: 1, Filter: "a/#", QoS: 2, NoLocal: true, Identifier: 11},
		{Subscriber: 1, Filter: "a/b", QoS: 1, RetainAsPublished: true},
		{Subscriber: 2, Filter: "#", QoS: 1},
		{Subscriber: 3, Filter: "a/#", QoS: 2, NoLocal: true},
	}
	for _, s := range subs {
		existed, err := tr.Subscribe(s)
		if err != nil {
			t.Fatal(err)
		}
		if existed {
			t.Fatal("existed is true")
		}
	}
	var res Result
	tr.Match([]byte("a/b"), &res)
	if got := subscribers(&res); !reflect.DeepEqual([]SubscriberID{1, 2, 3}, got) {
		t.Fatalf("got %v, want %v", got, []SubscriberID{1, 2, 3})
	}
	for _, d := range res.Deliveries {
		switch d.Subscriber {
		case 1:
			if d.QoS != byte(2) {
				t.Fatalf("got %v, want %v", d.QoS, byte(2))
			}
			if !d.Local {
				t.Fatal("d.Local is false")
			}
			if d.LocalQoS != byte(1) {
				t.Fatalf("got %v, want %v", d.LocalQoS, byte(1))
			}
			if !d.RetainAsPublished {
				t.Fatal("d.RetainAsPublished is false")
			}
			if !sameElements([]uint32{10, 11}, d.Identifiers) {
				t.Fatalf("want elements %v, got %v", []uint32{10, 11}, d.Identifiers)
			}
		case 3:
			if d.Local {
				t.Fatal("[MQTT-3.8.3-3] NoLocal only")
			}
		}
	}
	// Replacing keeps one subscription [MQTT-3.8.4-3].
	existed, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "a/#", QoS: 0})
	if err != nil {
		t.Fatal(err)
	}
	if !existed {
		t.Fatal("existed is false")
	}
	if got := tr.Len(); got != 5 {
		t.Fatalf("got %v, want %v", got, 5)
	}
	tr.Match([]byte("a/b"), &res)
	if got := res.Deliveries[slices.IndexFunc(res.Deliveries, func(d Delivery) bool { return d.Subscriber == 1 })].QoS; got != byte(1) {
		t.Fatalf("got %v, want %v", got, byte(1))
	}
}

func TestUnsubscribe(t *testing.T) {
	tr := New()
	g0 := tr.Generation()
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "a/b/c"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Generation(); got == g0 {
		t.Fatalf("both %v", g0)
	}
	// Exact character comparison only [MQTT-3.10.4-1].
	if tr.Unsubscribe(1, "a/b/+", "") {
		t.Fatal("tr.Unsubscribe(1, \"a/b/+\", \"\") is true")
	}
	if tr.Unsubscribe(2, "a/b/c", "") {
		t.Fatal("tr.Unsubscribe(2, \"a/b/c\", \"\") is true")
	}
	if tr.Unsubscribe(1, "a/b/c", "g") {
		t.Fatal("tr.Unsubscribe(1, \"a/b/c\", \"g\") is true")
	}
	g1 := tr.Generation()
	if !tr.Unsubscribe(1, "a/b/c", "") {
		t.Fatal("tr.Unsubscribe(1, \"a/b/c\", \"\") is false")
	}
	if got := tr.Generation(); got == g1 {
		t.Fatalf("both %v", g1)
	}
	if tr.Unsubscribe(1, "a/b/c", "") {
		t.Fatal("tr.Unsubscribe(1, \"a/b/c\", \"\") is true")
	}
	var res Result
	tr.Match([]byte("a/b/c"), &res)
	if n := len(res.Deliveries); n != 0 { // [MQTT-3.10.4-2]
		t.Fatalf("len %d, want %d", n, 0)
	}
	for i := range tr.shards {
		if !tr.shards[i].root.empty() {
			t.Fatal("pruned")
		}
	}
}

func TestSharedGroups(t *testing.T) {
	tr := New()
	for id := SubscriberID(1); id <= 3; id++ {
		_, err := tr.Subscribe(Subscription{Subscriber: id, Filter: "s/+", Group: "g", QoS: byte(id - 1)})
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := tr.Subscribe(Subscription{Subscriber: 4, Filter: "s/#", Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Subscribe(Subscription{Subscriber: 5, Filter: "s/+", Group: "h"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Subscribe(Subscription{Subscriber: 6, Filter: "s/+", Group: "g", NoLocal: true})
	if !errors.Is(err, ErrSharedNoLocal) { // [MQTT-3.8.3-4]
		t.Fatalf("error %v, want %v", err, ErrSharedNoLocal)
	}
	var res Result
	tr.Match([]byte("s/x"), &res)
	if n := len(res.Groups); n != 3 {
		t.Fatalf("g on s/+, h on s/+, g on s/#: len %d, want %d", n, 3)
	}
	if n := len(res.Deliveries); n != 0 {
		t.Fatalf("len %d, want %d", n, 0)
	}
	var g *Group
	for _, x := range res.Groups {
		if x.Name == "g" && x.Filter == "s/+" {
			g = x
		}
	}
	if g == nil {
		t.Fatal("nil")
	}
	// Round robin is fair: each member once per round.
	seen := map[SubscriberID]int{}
	for range 30 {
		s, ok := g.Pick(nil)
		if !ok {
			t.Fatal("ok is false")
		}
		if s.QoS != byte(s.Subscriber-1) { // [MQTT-4.8.2-3]
			t.Fatalf("got %v, want %v", s.QoS, byte(s.Subscriber-1))
		}
		seen[s.Subscriber]++
	}
	if !reflect.DeepEqual(map[SubscriberID]int{1: 10, 2: 10, 3: 10}, seen) {
		t.Fatalf("got %v, want %v", seen, map[SubscriberID]int{1: 10, 2: 10, 3: 10})
	}
	// Ineligible members are skipped.
	for range 10 {
		s, ok := g.Pick(func(id SubscriberID) bool { return id == 2 })
		if !ok {
			t.Fatal("ok is false")
		}
		if s.Subscriber != SubscriberID(2) {
			t.Fatalf("got %v, want %v", s.Subscriber, SubscriberID(2))
		}
	}
	_, ok := g.Pick(func(SubscriberID) bool { return false })
	if ok {
		t.Fatal("ok is true")
	}
	for id := SubscriberID(1); id <= 3; id++ {
		if !tr.Unsubscribe(id, "s/+", "g") {
			t.Fatal("tr.Unsubscribe(id, \"s/+\", \"g\") is false")
		}
	}
	if n := len(g.Members()); n != 0 {
		t.Fatalf("len %d, want %d", n, 0)
	}
	tr.Match([]byte("s/x"), &res)
	if n := len(res.Groups); n != 2 {
		t.Fatalf("len %d, want %d", n, 2)
	}
}

// TestPickMemberIdentifiers checks that PickMember returns the chosen
// member's own Subscription Identifier [MQTT-3.3.4-3], nil for a member
// without one, that the slice survives the member's replacement, and that
// picking allocates nothing.
func TestPickMemberIdentifiers(t *testing.T) {
	tr := New()
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "p/+", Group: "g", Identifier: 11})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Subscribe(Subscription{Subscriber: 2, Filter: "p/+", Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	tr.Match([]byte("p/x"), &res)
	if n := len(res.Groups); n != 1 {
		t.Fatalf("len %d, want %d", n, 1)
	}
	g := res.Groups[0]
	got := map[SubscriberID][]uint32{}
	for range 4 {
		s, ids, ok := g.PickMember(nil)
		if !ok {
			t.Fatal("ok is false")
		}
		got[s.Subscriber] = ids
	}
	if !reflect.DeepEqual(map[SubscriberID][]uint32{1: {11}, 2: nil}, got) {
		t.Fatalf("got %v, want %v", got, map[SubscriberID][]uint32{1: {11}, 2: nil})
	}
	only1 := func(id SubscriberID) bool { return id == 1 }
	_, ids, _ := g.PickMember(only1)
	_, err = tr.Subscribe(Subscription{Subscriber: 1, Filter: "p/+", Group: "g", Identifier: 12})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual([]uint32{11}, ids) {
		t.Fatalf("an old snapshot is never modified: got %v, want %v", ids, []uint32{11})
	}
	_, ids, _ = g.PickMember(only1)
	if !reflect.DeepEqual([]uint32{12}, ids) {
		t.Fatalf("got %v, want %v", ids, []uint32{12})
	}
	if got := testing.AllocsPerRun(100, func() { _, _, _ = g.PickMember(only1) }); got != 0 {
		t.Fatalf("got %v, want 0", got)
	}
}

func TestRandomStrategy(t *testing.T) {
	tr := New(WithStrategy(Random{}), WithShards(3))
	if n := len(tr.shards); n != 4 {
		t.Fatalf("len %d, want %d", n, 4)
	}
	for id := SubscriberID(0); id < 4; id++ {
		_, err := tr.Subscribe(Subscription{Subscriber: id, Filter: "r", Group: "g"})
		if err != nil {
			t.Fatal(err)
		}
	}
	var res Result
	tr.Match([]byte("r"), &res)
	if n := len(res.Groups); n != 1 {
		t.Fatalf("len %d, want %d", n, 1)
	}
	seen := map[SubscriberID]int{}
	for range 4000 {
		s, ok := res.Groups[0].Pick(nil)
		if !ok {
			t.Fatal("ok is false")
		}
		seen[s.Subscriber]++
	}
	for id, n := range seen {
		if n <= 800 {
			t.Fatalf("member %d picked %d of 4000: %d <= %d", id, n, n, 800)
		}
	}
	if n := len(seen); n != 4 {
		t.Fatalf("len %d, want %d", n, 4)
	}
}

func TestResultClone(t *testing.T) {
	tr := New()
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "a", Identifier: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Subscribe(Subscription{Subscriber: 1, Filter: "#", Identifier: 6})
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	tr.Match([]byte("a"), &res)
	c := res.Clone()
	tr.Match([]byte("b"), &res)
	if n := len(c.Deliveries); n != 1 {
		t.Fatalf("len %d, want %d", n, 1)
	}
	if !sameElements([]uint32{5, 6}, c.Deliveries[0].Identifiers) {
		t.Fatalf("want elements %v, got %v", []uint32{5, 6}, c.Deliveries[0].Identifiers)
	}
}

func TestLargeSubscriberIDs(t *testing.T) {
	tr := New()
	for _, id := range []SubscriberID{1 << 40, 1<<40 + 1, 3} {
		_, err := tr.Subscribe(Subscription{Subscriber: id, Filter: "a/+"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tr.Subscribe(Subscription{Subscriber: id, Filter: "a/#", QoS: 2})
		if err != nil {
			t.Fatal(err)
		}
	}
	var res Result
	for range 2 {
		tr.Match([]byte("a/b"), &res)
		if got := subscribers(&res); !reflect.DeepEqual([]SubscriberID{3, 1 << 40, 1<<40 + 1}, got) {
			t.Fatalf("got %v, want %v", got, []SubscriberID{3, 1 << 40, 1<<40 + 1})
		}
		for _, d := range res.Deliveries {
			if d.QoS != byte(2) {
				t.Fatalf("got %v, want %v", d.QoS, byte(2))
			}
		}
	}
}

func TestSubscribeRejects(t *testing.T) {
	tr := New()
	for _, f := range []string{"", "a/#/b", "a+", "#a", "a/b#", string([]byte{'a', 0})} {
		_, err := tr.Subscribe(Subscription{Filter: f})
		if err == nil {
			t.Fatalf("%q: no error", f)
		}
	}
	_, err := tr.Subscribe(Subscription{Filter: "a", QoS: 3})
	if !errors.Is(err, ErrBadQoS) {
		t.Fatalf("error %v, want %v", err, ErrBadQoS)
	}
	_, err = tr.Subscribe(Subscription{Filter: "a", Group: "x/y"})
	if !errors.Is(err, ErrBadShareName) {
		t.Fatalf("error %v, want %v", err, ErrBadShareName)
	}
	if got := tr.Len(); got != 0 {
		t.Fatalf("got %v, want 0", got)
	}
}

func TestMatchAllocs(t *testing.T) {
	tr := New()
	for i := range 100 {
		_, err := tr.Subscribe(Subscription{Subscriber: SubscriberID(i), Filter: []string{"a/b/c", "a/+/c", "a/#", "#"}[i%4], Identifier: uint32(i % 3)})
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := tr.Subscribe(Subscription{Subscriber: 1000, Filter: "a/b/c", Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	var res Result
	topic := []byte("a/b/c")
	tr.Match(topic, &res)
	allocs := testing.AllocsPerRun(100, func() { tr.Match(topic, &res) })
	if allocs != 0 {
		t.Fatalf("got %v, want 0", allocs)
	}
	if n := len(res.Deliveries); n != 100 {
		t.Fatalf("len %d, want %d", n, 100)
	}
	if n := len(res.Groups); n != 1 {
		t.Fatalf("len %d, want %d", n, 1)
	}
}

func TestGenerationOf(t *testing.T) {
	tr := New(WithShards(64))
	a, b, sys := []byte("a/x"), []byte("b/x"), []byte("$SYS/x")
	ga, gb := tr.GenerationOf(a), tr.GenerationOf(b)
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "a/+"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.GenerationOf(a); got == ga {
		t.Fatalf("own shard changed: both %v", ga)
	}
	if tr.shardOf("a") != tr.shardOf("b") {
		if got := tr.GenerationOf(b); got != gb {
			t.Fatalf("other shard unchanged: got %v, want %v", got, gb)
		}
	}
	ga, gb, gs := tr.GenerationOf(a), tr.GenerationOf(b), tr.GenerationOf(sys)
	_, err = tr.Subscribe(Subscription{Subscriber: 1, Filter: "+/x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.GenerationOf(a); got == ga {
		t.Fatalf("wildcard shard covers every topic: both %v", ga)
	}
	if got := tr.GenerationOf(b); got == gb {
		t.Fatalf("wildcard shard covers every topic: both %v", gb)
	}
	if got := tr.GenerationOf(sys); got == gs {
		t.Fatalf("conservative for $ topics: both %v", gs)
	}
	ga = tr.GenerationOf(a)
	if !tr.Unsubscribe(1, "a/+", "") {
		t.Fatal("tr.Unsubscribe(1, \"a/+\", \"\") is false")
	}
	if got := tr.GenerationOf(a); got == ga {
		t.Fatalf("both %v", ga)
	}
}

// TestMergeManySources merges hundreds of subscribers with sparse ids over
// several nodes, reusing one Result.
func TestMergeManySources(t *testing.T) {
	tr := New()
	const n = 700
	for i := range n {
		id := SubscriberID(i * 7919) // sparse ids
		for j, f := range []string{"a/b", "a/+", "a/#", "#"} {
			if (i+j)%3 == 0 {
				continue
			}
			_, err := tr.Subscribe(Subscription{Subscriber: id, Filter: f, QoS: byte(j % 3), Identifier: uint32(j + 1)})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var res Result
	for range 3 {
		tr.Match([]byte("a/b"), &res)
		if got := len(res.Deliveries); got != n {
			t.Fatalf("len %d, want %d", got, n)
		}
		seen := map[SubscriberID]bool{}
		for _, d := range res.Deliveries {
			if seen[d.Subscriber] {
				t.Fatalf("duplicate %d", d.Subscriber)
			}
			seen[d.Subscriber] = true
			i := int(d.Subscriber / 7919)
			var want byte
			var ids []uint32
			for j := range 4 {
				if (i+j)%3 != 0 {
					want = max(want, byte(j%3))
					ids = append(ids, uint32(j+1))
				}
			}
			if d.QoS != want {
				t.Fatalf("subscriber %d: got %v, want %v", d.Subscriber, d.QoS, want)
			}
			if !sameElements(ids, d.Identifiers) {
				t.Fatalf("want elements %v, got %v", ids, d.Identifiers)
			}
		}
		tr.Match([]byte("x"), &res)                       // a small match in between
		if got := len(res.Deliveries); got != n-(n+2)/3 { // "#" only: i%3 != 0
			t.Fatalf("len %d, want %d", got, n-(n+2)/3)
		}
	}
}
