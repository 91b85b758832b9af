package trie

import (
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
			require.Equal(t, tc.want, refMatch(tc.filter, tc.topic), "reference matcher")
			tr := New()
			_, err := tr.Subscribe(Subscription{Subscriber: 7, Filter: tc.filter, QoS: 1})
			require.NoError(t, err)
			var res Result
			tr.Match([]byte(tc.topic), &res)
			require.Equal(t, tc.want, len(res.Deliveries) == 1)
			_, err = tr.Subscribe(Subscription{Subscriber: 8, Filter: tc.filter, Group: "g"})
			require.NoError(t, err)
			tr.Match([]byte(tc.topic), &res)
			require.Equal(t, tc.want, len(res.Groups) == 1, "shared group")
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
		require.NoError(t, err)
		require.False(t, existed)
	}
	var res Result
	tr.Match([]byte("a/b"), &res)
	require.Equal(t, []SubscriberID{1, 2, 3}, subscribers(&res))
	for _, d := range res.Deliveries {
		switch d.Subscriber {
		case 1:
			require.Equal(t, byte(2), d.QoS)
			require.True(t, d.Local)
			require.Equal(t, byte(1), d.LocalQoS)
			require.True(t, d.RetainAsPublished)
			require.ElementsMatch(t, []uint32{10, 11}, d.Identifiers)
		case 3:
			require.False(t, d.Local, "[MQTT-3.8.3-3] NoLocal only")
		}
	}
	// Replacing keeps one subscription [MQTT-3.8.4-3].
	existed, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "a/#", QoS: 0})
	require.NoError(t, err)
	require.True(t, existed)
	require.Equal(t, 5, tr.Len())
	tr.Match([]byte("a/b"), &res)
	require.Equal(t, byte(1), res.Deliveries[slices.IndexFunc(res.Deliveries, func(d Delivery) bool { return d.Subscriber == 1 })].QoS)
}

func TestUnsubscribe(t *testing.T) {
	tr := New()
	g0 := tr.Generation()
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "a/b/c"})
	require.NoError(t, err)
	require.NotEqual(t, g0, tr.Generation())
	// Exact character comparison only [MQTT-3.10.4-1].
	require.False(t, tr.Unsubscribe(1, "a/b/+", ""))
	require.False(t, tr.Unsubscribe(2, "a/b/c", ""))
	require.False(t, tr.Unsubscribe(1, "a/b/c", "g"))
	g1 := tr.Generation()
	require.True(t, tr.Unsubscribe(1, "a/b/c", ""))
	require.NotEqual(t, g1, tr.Generation())
	require.False(t, tr.Unsubscribe(1, "a/b/c", ""))
	var res Result
	tr.Match([]byte("a/b/c"), &res)
	require.Empty(t, res.Deliveries) // [MQTT-3.10.4-2]
	for i := range tr.shards {
		require.True(t, tr.shards[i].root.empty(), "pruned")
	}
}

func TestSharedGroups(t *testing.T) {
	tr := New()
	for id := SubscriberID(1); id <= 3; id++ {
		_, err := tr.Subscribe(Subscription{Subscriber: id, Filter: "s/+", Group: "g", QoS: byte(id - 1)})
		require.NoError(t, err)
	}
	_, err := tr.Subscribe(Subscription{Subscriber: 4, Filter: "s/#", Group: "g"})
	require.NoError(t, err)
	_, err = tr.Subscribe(Subscription{Subscriber: 5, Filter: "s/+", Group: "h"})
	require.NoError(t, err)
	_, err = tr.Subscribe(Subscription{Subscriber: 6, Filter: "s/+", Group: "g", NoLocal: true})
	require.ErrorIs(t, err, ErrSharedNoLocal) // [MQTT-3.8.3-4]
	var res Result
	tr.Match([]byte("s/x"), &res)
	require.Len(t, res.Groups, 3, "g on s/+, h on s/+, g on s/#")
	require.Empty(t, res.Deliveries)
	var g *Group
	for _, x := range res.Groups {
		if x.Name == "g" && x.Filter == "s/+" {
			g = x
		}
	}
	require.NotNil(t, g)
	// Round robin is fair: each member once per round.
	seen := map[SubscriberID]int{}
	for range 30 {
		s, ok := g.Pick(nil)
		require.True(t, ok)
		require.Equal(t, byte(s.Subscriber-1), s.QoS) // [MQTT-4.8.2-3]
		seen[s.Subscriber]++
	}
	require.Equal(t, map[SubscriberID]int{1: 10, 2: 10, 3: 10}, seen)
	// Ineligible members are skipped.
	for range 10 {
		s, ok := g.Pick(func(id SubscriberID) bool { return id == 2 })
		require.True(t, ok)
		require.Equal(t, SubscriberID(2), s.Subscriber)
	}
	_, ok := g.Pick(func(SubscriberID) bool { return false })
	require.False(t, ok)
	for id := SubscriberID(1); id <= 3; id++ {
		require.True(t, tr.Unsubscribe(id, "s/+", "g"))
	}
	require.Empty(t, g.Members())
	tr.Match([]byte("s/x"), &res)
	require.Len(t, res.Groups, 2)
}

// TestPickMemberIdentifiers checks that PickMember returns the chosen
// member's own Subscription Identifier [MQTT-3.3.4-3], nil for a member
// without one, that the slice survives the member's replacement, and that
// picking allocates nothing.
func TestPickMemberIdentifiers(t *testing.T) {
	tr := New()
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "p/+", Group: "g", Identifier: 11})
	require.NoError(t, err)
	_, err = tr.Subscribe(Subscription{Subscriber: 2, Filter: "p/+", Group: "g"})
	require.NoError(t, err)
	var res Result
	tr.Match([]byte("p/x"), &res)
	require.Len(t, res.Groups, 1)
	g := res.Groups[0]
	got := map[SubscriberID][]uint32{}
	for range 4 {
		s, ids, ok := g.PickMember(nil)
		require.True(t, ok)
		got[s.Subscriber] = ids
	}
	require.Equal(t, map[SubscriberID][]uint32{1: {11}, 2: nil}, got)
	only1 := func(id SubscriberID) bool { return id == 1 }
	_, ids, _ := g.PickMember(only1)
	_, err = tr.Subscribe(Subscription{Subscriber: 1, Filter: "p/+", Group: "g", Identifier: 12})
	require.NoError(t, err)
	require.Equal(t, []uint32{11}, ids, "an old snapshot is never modified")
	_, ids, _ = g.PickMember(only1)
	require.Equal(t, []uint32{12}, ids)
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _, _ = g.PickMember(only1) }))
}

func TestRandomStrategy(t *testing.T) {
	tr := New(WithStrategy(Random{}), WithShards(3))
	require.Len(t, tr.shards, 4)
	for id := SubscriberID(0); id < 4; id++ {
		_, err := tr.Subscribe(Subscription{Subscriber: id, Filter: "r", Group: "g"})
		require.NoError(t, err)
	}
	var res Result
	tr.Match([]byte("r"), &res)
	require.Len(t, res.Groups, 1)
	seen := map[SubscriberID]int{}
	for range 4000 {
		s, ok := res.Groups[0].Pick(nil)
		require.True(t, ok)
		seen[s.Subscriber]++
	}
	for id, n := range seen {
		require.Greater(t, n, 800, "member %d picked %d of 4000", id, n)
	}
	require.Len(t, seen, 4)
}

func TestResultClone(t *testing.T) {
	tr := New()
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "a", Identifier: 5})
	require.NoError(t, err)
	_, err = tr.Subscribe(Subscription{Subscriber: 1, Filter: "#", Identifier: 6})
	require.NoError(t, err)
	var res Result
	tr.Match([]byte("a"), &res)
	c := res.Clone()
	tr.Match([]byte("b"), &res)
	require.Len(t, c.Deliveries, 1)
	require.ElementsMatch(t, []uint32{5, 6}, c.Deliveries[0].Identifiers)
}

func TestLargeSubscriberIDs(t *testing.T) {
	tr := New()
	for _, id := range []SubscriberID{1 << 40, 1<<40 + 1, 3} {
		_, err := tr.Subscribe(Subscription{Subscriber: id, Filter: "a/+"})
		require.NoError(t, err)
		_, err = tr.Subscribe(Subscription{Subscriber: id, Filter: "a/#", QoS: 2})
		require.NoError(t, err)
	}
	var res Result
	for range 2 {
		tr.Match([]byte("a/b"), &res)
		require.Equal(t, []SubscriberID{3, 1 << 40, 1<<40 + 1}, subscribers(&res))
		for _, d := range res.Deliveries {
			require.Equal(t, byte(2), d.QoS)
		}
	}
}

func TestSubscribeRejects(t *testing.T) {
	tr := New()
	for _, f := range []string{"", "a/#/b", "a+", "#a", "a/b#", string([]byte{'a', 0})} {
		_, err := tr.Subscribe(Subscription{Filter: f})
		require.Error(t, err, "%q", f)
	}
	_, err := tr.Subscribe(Subscription{Filter: "a", QoS: 3})
	require.ErrorIs(t, err, ErrBadQoS)
	_, err = tr.Subscribe(Subscription{Filter: "a", Group: "x/y"})
	require.ErrorIs(t, err, ErrBadShareName)
	require.Zero(t, tr.Len())
}

func TestMatchAllocs(t *testing.T) {
	tr := New()
	for i := range 100 {
		_, err := tr.Subscribe(Subscription{Subscriber: SubscriberID(i), Filter: []string{"a/b/c", "a/+/c", "a/#", "#"}[i%4], Identifier: uint32(i % 3)})
		require.NoError(t, err)
	}
	_, err := tr.Subscribe(Subscription{Subscriber: 1000, Filter: "a/b/c", Group: "g"})
	require.NoError(t, err)
	var res Result
	topic := []byte("a/b/c")
	tr.Match(topic, &res)
	allocs := testing.AllocsPerRun(100, func() { tr.Match(topic, &res) })
	require.Zero(t, allocs)
	require.Len(t, res.Deliveries, 100)
	require.Len(t, res.Groups, 1)
}

func TestGenerationOf(t *testing.T) {
	tr := New(WithShards(64))
	a, b, sys := []byte("a/x"), []byte("b/x"), []byte("$SYS/x")
	ga, gb := tr.GenerationOf(a), tr.GenerationOf(b)
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: "a/+"})
	require.NoError(t, err)
	require.NotEqual(t, ga, tr.GenerationOf(a), "own shard changed")
	if tr.shardOf("a") != tr.shardOf("b") {
		require.Equal(t, gb, tr.GenerationOf(b), "other shard unchanged")
	}
	ga, gb, gs := tr.GenerationOf(a), tr.GenerationOf(b), tr.GenerationOf(sys)
	_, err = tr.Subscribe(Subscription{Subscriber: 1, Filter: "+/x"})
	require.NoError(t, err)
	require.NotEqual(t, ga, tr.GenerationOf(a), "wildcard shard covers every topic")
	require.NotEqual(t, gb, tr.GenerationOf(b), "wildcard shard covers every topic")
	require.NotEqual(t, gs, tr.GenerationOf(sys), "conservative for $ topics")
	ga = tr.GenerationOf(a)
	require.True(t, tr.Unsubscribe(1, "a/+", ""))
	require.NotEqual(t, ga, tr.GenerationOf(a))
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
			require.NoError(t, err)
		}
	}
	var res Result
	for range 3 {
		tr.Match([]byte("a/b"), &res)
		require.Len(t, res.Deliveries, n)
		seen := map[SubscriberID]bool{}
		for _, d := range res.Deliveries {
			require.False(t, seen[d.Subscriber], "duplicate %d", d.Subscriber)
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
			require.Equal(t, want, d.QoS, "subscriber %d", d.Subscriber)
			require.ElementsMatch(t, ids, d.Identifiers)
		}
		tr.Match([]byte("x"), &res)               // a small match in between
		require.Len(t, res.Deliveries, n-(n+2)/3) // "#" only: i%3 != 0
	}
}
