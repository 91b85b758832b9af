package trie

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func retainedMatches(r *Retained[int], filter string) []string {
	var got []string
	r.Match([]byte(filter), func(topic string, _ int) bool {
		got = append(got, topic)
		return true
	})
	slices.Sort(got)
	return got
}

func TestRetained(t *testing.T) {
	r := NewRetained[int]()
	topics := []string{"a", "a/b", "a/b/c", "a//c", "/", "/a", "$SYS/x", "$SYS/x/y", "b/b", "a/"}
	for i, tp := range topics {
		require.False(t, r.Set(tp, i))
	}
	require.True(t, r.Set("a/b", 100), "replace [MQTT-3.3.1-5]")
	require.Equal(t, len(topics), r.Count())
	v, ok := r.Get("a/b")
	require.True(t, ok)
	require.Equal(t, 100, v)
	_, ok = r.Get("a/b/c/d")
	require.False(t, ok)
	cases := []struct {
		filter string
		want   []string
	}{
		{filter: "#", want: []string{"/", "/a", "a", "a/", "a//c", "a/b", "a/b/c", "b/b"}},
		{filter: "a/#", want: []string{"a", "a/", "a//c", "a/b", "a/b/c"}},
		{filter: "a/+", want: []string{"a/", "a/b"}},
		{filter: "+", want: []string{"a"}},
		{filter: "+/+", want: []string{"/", "/a", "a/", "a/b", "b/b"}},
		{filter: "+/b", want: []string{"a/b", "b/b"}},
		{filter: "a/+/c", want: []string{"a//c", "a/b/c"}},
		{filter: "$SYS/#", want: []string{"$SYS/x", "$SYS/x/y"}},
		{filter: "+/x", want: nil}, // [MQTT-4.7.2-1]
		{filter: "/", want: []string{"/"}},
		{filter: "a/b/c/#", want: []string{"a/b/c"}},
		{filter: "x/#", want: nil},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, retainedMatches(r, tc.filter), "filter %q", tc.filter)
	}
	// Early stop.
	n := 0
	r.Match([]byte("#"), func(string, int) bool { n++; return n < 3 })
	require.Equal(t, 3, n)
	for _, tp := range topics {
		require.True(t, r.Delete(tp))
		require.False(t, r.Delete(tp))
	}
	require.Zero(t, r.Count())
	for i := range r.shards {
		require.True(t, r.shards[i].root.children.Load() == nil, "pruned shard %d", i)
	}
}

// TestRetainedSwapDeleteFuncRange checks the forms that return the
// message replaced or removed (the engine's byte accounting needs them), a
// conditional delete that leaves a newer message alone, and a walk of every
// topic, $ topics included.
func TestRetainedSwapDeleteFuncRange(t *testing.T) {
	r := NewRetained[int]()
	old, ok := r.Swap("a/b", 1)
	require.False(t, ok)
	require.Equal(t, 0, old)
	old, ok = r.Swap("a/b", 2)
	require.True(t, ok)
	require.Equal(t, 1, old)
	r.Set("$SYS/x", 3)
	r.Set("c", 4)
	got := map[string]int{}
	r.Range(func(topic string, v int) bool { got[topic] = v; return true })
	require.Equal(t, map[string]int{"a/b": 2, "$SYS/x": 3, "c": 4}, got)
	n := 0
	r.Range(func(string, int) bool { n++; return false })
	require.Equal(t, 1, n, "early stop")
	_, ok = r.DeleteFunc("a/b", func(v int) bool { return v == 1 })
	require.False(t, ok, "not the message the caller saw")
	old, ok = r.DeleteFunc("a/b", func(v int) bool { return v == 2 })
	require.True(t, ok)
	require.Equal(t, 2, old)
	_, ok = r.DeleteFunc("nothing/here", nil)
	require.False(t, ok)
	require.Equal(t, 2, r.Count())
}

// TestRetainedProperty compares Retained.Match with the reference matcher.
func TestRetainedProperty(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	r := NewRetained[int]()
	set := map[string]bool{}
	for range 500 {
		tp := randTopic(rnd)
		if rnd.IntN(4) == 0 && set[tp] {
			r.Delete(tp)
			delete(set, tp)
			continue
		}
		r.Set(tp, 1)
		set[tp] = true
	}
	require.Equal(t, len(set), r.Count())
	for range 300 {
		f := randFilter(rnd)
		var want []string
		for tp := range set {
			if refMatch(f, tp) {
				want = append(want, tp)
			}
		}
		slices.Sort(want)
		require.Equal(t, want, retainedMatches(r, f), "filter %q", f)
	}
}

// TestRetainedConcurrent exercises lock-free reads during writes under -race.
func TestRetainedConcurrent(t *testing.T) {
	r := NewRetained[int]()
	for i := range 100 {
		r.Set("s/"+strconv.Itoa(i), i)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			tp := "c/" + strconv.Itoa(i%50) + "/x"
			r.Set(tp, i)
			r.Delete(tp)
		}
	}()
	go func() {
		defer wg.Done()
		for range 300 {
			n := 0
			r.Match([]byte("s/+"), func(string, int) bool { n++; return true })
			if n != 100 {
				t.Errorf("stable retained: %d, want 100", n)
				return
			}
			r.Match([]byte("#"), func(string, int) bool { return true })
		}
	}()
	wg.Wait()
	require.Equal(t, 100, r.Count())
}

func TestRetainedAllocs(t *testing.T) {
	r := NewRetained[int]()
	for i := range 100 {
		r.Set("a/"+strconv.Itoa(i)+"/x", i)
	}
	n := 0
	count := func(string, int) bool { n++; return true }
	filters := [][]byte{[]byte("#"), []byte("a/+/x"), []byte("a/7/#"), []byte("a/7/x")}
	allocs := testing.AllocsPerRun(50, func() {
		for _, f := range filters {
			r.Match(f, count)
		}
		if _, ok := r.Get("a/7/x"); !ok {
			t.Fatal("missing a/7/x")
		}
	})
	require.Zero(t, allocs)
	require.Greater(t, n, 0)
}

// FuzzRetainedMatch compares Retained.Match with the reference matcher. The
// input is newline-separated topic names followed by one filter.
func FuzzRetainedMatch(f *testing.F) {
	f.Add("a\na/b\n$SYS/x\n/\n#")
	f.Add("a/b/c\na//c\na/+/c")
	f.Add("a\na/\na/#")
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		filter := lines[len(lines)-1]
		if ValidTopicFilter([]byte(filter)) != nil {
			return
		}
		r := NewRetained[int]()
		set := map[string]bool{}
		for i, tp := range lines[:len(lines)-1] {
			if ValidTopicName([]byte(tp)) != nil {
				continue
			}
			r.Set(tp, i)
			set[tp] = true
		}
		var want []string
		for tp := range set {
			if refMatch(filter, tp) {
				want = append(want, tp)
			}
		}
		slices.Sort(want)
		require.Equal(t, want, retainedMatches(r, filter), "filter %q", filter)
		for tp := range set {
			require.True(t, r.Delete(tp))
		}
		require.Zero(t, r.Count())
	})
}
