package trie

import (
	"math/rand/v2"
	"reflect"
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
		if r.Set(tp, i) {
			t.Fatal("r.Set(tp, i) is true")
		}
	}
	if !r.Set("a/b", 100) {
		t.Fatal("replace [MQTT-3.3.1-5]")
	}
	if got := r.Count(); got != len(topics) {
		t.Fatalf("got %v, want %v", got, len(topics))
	}
	v, ok := r.Get("a/b")
	if !ok {
		t.Fatal("ok is false")
	}
	if v != 100 {
		t.Fatalf("got %v, want %v", v, 100)
	}
	_, ok = r.Get("a/b/c/d")
	if ok {
		t.Fatal("ok is true")
	}
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
		if got := retainedMatches(r, tc.filter); !reflect.DeepEqual(tc.want, got) {
			t.Fatalf("filter %q: got %v, want %v", tc.filter, got, tc.want)
		}
	}
	// Early stop.
	n := 0
	r.Match([]byte("#"), func(string, int) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("got %v, want %v", n, 3)
	}
	for _, tp := range topics {
		if !r.Delete(tp) {
			t.Fatal("r.Delete(tp) is false")
		}
		if r.Delete(tp) {
			t.Fatal("r.Delete(tp) is true")
		}
	}
	if got := r.Count(); got != 0 {
		t.Fatalf("got %v, want 0", got)
	}
	for i := range r.shards {
		if r.shards[i].root.children.Load() != nil {
			t.Fatalf("pruned shard %d", i)
		}
	}
}

// TestRetainedSwapDeleteFuncRange checks the forms that return the
// message replaced or removed (the engine's byte accounting needs them), a
// conditional delete that leaves a newer message alone, and a walk of every
// topic, $ topics included.
func TestRetainedSwapDeleteFuncRange(t *testing.T) {
	r := NewRetained[int]()
	old, ok := r.Swap("a/b", 1)
	if ok {
		t.Fatal("ok is true")
	}
	if old != 0 {
		t.Fatalf("got %v, want %v", old, 0)
	}
	old, ok = r.Swap("a/b", 2)
	if !ok {
		t.Fatal("ok is false")
	}
	if old != 1 {
		t.Fatalf("got %v, want %v", old, 1)
	}
	r.Set("$SYS/x", 3)
	r.Set("c", 4)
	got := map[string]int{}
	r.Range(func(topic string, v int) bool { got[topic] = v; return true })
	if !reflect.DeepEqual(map[string]int{"a/b": 2, "$SYS/x": 3, "c": 4}, got) {
		t.Fatalf("got %v, want %v", got, map[string]int{"a/b": 2, "$SYS/x": 3, "c": 4})
	}
	n := 0
	r.Range(func(string, int) bool { n++; return false })
	if n != 1 {
		t.Fatalf("early stop: got %v, want %v", n, 1)
	}
	_, ok = r.DeleteFunc("a/b", func(v int) bool { return v == 1 })
	if ok {
		t.Fatal("not the message the caller saw")
	}
	old, ok = r.DeleteFunc("a/b", func(v int) bool { return v == 2 })
	if !ok {
		t.Fatal("ok is false")
	}
	if old != 2 {
		t.Fatalf("got %v, want %v", old, 2)
	}
	_, ok = r.DeleteFunc("nothing/here", nil)
	if ok {
		t.Fatal("ok is true")
	}
	if got := r.Count(); got != 2 {
		t.Fatalf("got %v, want %v", got, 2)
	}
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
	if got := r.Count(); got != len(set) {
		t.Fatalf("got %v, want %v", got, len(set))
	}
	for range 300 {
		f := randFilter(rnd)
		var want []string
		for tp := range set {
			if refMatch(f, tp) {
				want = append(want, tp)
			}
		}
		slices.Sort(want)
		if got := retainedMatches(r, f); !reflect.DeepEqual(want, got) {
			t.Fatalf("filter %q: got %v, want %v", f, got, want)
		}
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
	if got := r.Count(); got != 100 {
		t.Fatalf("got %v, want %v", got, 100)
	}
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
	if allocs != 0 {
		t.Fatalf("got %v, want 0", allocs)
	}
	if n <= 0 {
		t.Fatalf("%d <= %d", n, 0)
	}
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
		if got := retainedMatches(r, filter); !reflect.DeepEqual(want, got) {
			t.Fatalf("filter %q: got %v, want %v", filter, got, want)
		}
		for tp := range set {
			if !r.Delete(tp) {
				t.Fatal("r.Delete(tp) is false")
			}
		}
		if got := r.Count(); got != 0 {
			t.Fatalf("got %v, want 0", got)
		}
	})
}
