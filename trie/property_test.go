package trie

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// alphabet keeps random levels colliding often enough to exercise matches.
var alphabet = []string{"", "a", "b", "c", "$s", "ab"}

func randTopic(r *rand.Rand) string {
	n := 1 + r.IntN(5)
	l := make([]string, n)
	for i := range l {
		l[i] = alphabet[r.IntN(len(alphabet))]
	}
	t := strings.Join(l, "/")
	if t == "" {
		return "a"
	}
	return t
}

func randFilter(r *rand.Rand) string {
	n := 1 + r.IntN(5)
	l := make([]string, n)
	for i := range l {
		switch x := r.IntN(10); {
		case x < 2:
			l[i] = "+"
		case x == 2 && i == n-1:
			l[i] = "#"
		default:
			l[i] = alphabet[r.IntN(len(alphabet))]
		}
	}
	f := strings.Join(l, "/")
	if f == "" {
		return "#"
	}
	return f
}

// refResult is what the reference matcher expects: per subscriber, the
// highest QoS; per (group, filter), presence.
func refResult(subs []Subscription, topic string) (map[SubscriberID]byte, map[string]bool) {
	want := map[SubscriberID]byte{}
	groups := map[string]bool{}
	for _, s := range subs {
		if !refMatch(s.Filter, topic) {
			continue
		}
		if s.Group != "" {
			groups[s.Group+"|"+s.Filter] = true
			continue
		}
		if q, ok := want[s.Subscriber]; !ok || s.QoS > q {
			want[s.Subscriber] = s.QoS
		}
	}
	return want, groups
}

func checkAgainstRef(t testing.TB, tr *Trie, subs []Subscription, topic string, res *Result) {
	t.Helper()
	tr.Match([]byte(topic), res)
	want, groups := refResult(subs, topic)
	got := map[SubscriberID]byte{}
	for _, d := range res.Deliveries {
		if _, dup := got[d.Subscriber]; dup {
			t.Fatalf("topic %q: subscriber %d delivered twice", topic, d.Subscriber)
		}
		got[d.Subscriber] = d.QoS
	}
	gotGroups := map[string]bool{}
	for _, g := range res.Groups {
		k := g.Name + "|" + g.Filter
		if gotGroups[k] {
			t.Fatalf("topic %q: group %s twice", topic, k)
		}
		gotGroups[k] = true
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("topic %q: got %v, want %v", topic, got, want)
	}
	if !reflect.DeepEqual(groups, gotGroups) {
		t.Fatalf("topic %q groups: got %v, want %v", topic, gotGroups, groups)
	}
}

// uniqueSubs keeps the last subscription per (subscriber, filter, group), as
// Subscribe does [MQTT-3.8.4-3].
func uniqueSubs(subs []Subscription) []Subscription {
	type key struct {
		id   SubscriberID
		f, g string
	}
	idx := map[key]int{}
	var out []Subscription
	for _, s := range subs {
		k := key{s.Subscriber, s.Filter, s.Group}
		if i, ok := idx[k]; ok {
			out[i] = s
			continue
		}
		idx[k] = len(out)
		out = append(out, s)
	}
	return out
}

// TestMatchProperty compares Match with the reference matcher over random
// filter sets and topics, with random unsubscribes in between.
func TestMatchProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var res Result
	for round := range 200 {
		tr := New(WithShards(1 + round%8))
		var subs []Subscription
		for range 1 + r.IntN(60) {
			s := Subscription{Subscriber: SubscriberID(r.IntN(8)), Filter: randFilter(r), QoS: byte(r.IntN(3))}
			if r.IntN(5) == 0 {
				s.Group = []string{"g", "h"}[r.IntN(2)]
			}
			_, err := tr.Subscribe(s)
			if err != nil {
				t.Fatalf("%q: %v", s.Filter, err)
			}
			subs = append(subs, s)
		}
		subs = uniqueSubs(subs)
		if got := tr.Len(); got != len(subs) {
			t.Fatalf("got %v, want %v", got, len(subs))
		}
		for range 20 {
			checkAgainstRef(t, tr, subs, randTopic(r), &res)
		}
		// Remove about half, then check again.
		keep := subs[:0:0]
		for _, s := range subs {
			if r.IntN(2) == 0 {
				if !tr.Unsubscribe(s.Subscriber, s.Filter, s.Group) {
					t.Fatal("tr.Unsubscribe(s.Subscriber, s.Filter, s.Group) is false")
				}
			} else {
				keep = append(keep, s)
			}
		}
		for range 20 {
			checkAgainstRef(t, tr, keep, randTopic(r), &res)
		}
		checkTrie(t, tr)
	}
}

// FuzzMatch compares the trie with the reference matcher. The input is a
// list of filters and one topic separated by newlines (the last line is the
// topic); invalid filters must be rejected, valid ones matched exactly.
func FuzzMatch(f *testing.F) {
	f.Add("a/+\n#\n+/+\na/#\na")
	f.Add("$SYS/#\n#\n+/x\n$SYS/x")
	f.Add("/\n+/+\n#\n+\n/")
	f.Add("a/b/c\na/+/c\na/#\na/b/c")
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		topic := lines[len(lines)-1]
		if ValidTopicName([]byte(topic)) != nil {
			return
		}
		tr := New(WithShards(2))
		var subs []Subscription
		for i, fl := range lines[:len(lines)-1] {
			s := Subscription{Subscriber: SubscriberID(i % 5), Filter: fl, QoS: byte(i % 3)}
			if i%4 == 3 {
				s.Group = "g"
			}
			_, err := tr.Subscribe(s)
			if (err == nil) != (ValidTopicFilter([]byte(fl)) == nil) {
				t.Fatalf("filter %q: Subscribe error %v disagrees with ValidTopicFilter", fl, err)
			}
			if err == nil {
				subs = append(subs, s)
			}
		}
		var res Result
		checkAgainstRef(t, tr, uniqueSubs(subs), topic, &res)
		checkTrie(t, tr)
	})
}

// TestMatchConcurrent runs matchers against a stable set of subscriptions
// while writers churn other subscriptions on overlapping filters. Every match
// must include exactly the stable set plus only churned subscribers that
// could match. Run under -race.
func TestMatchConcurrent(t *testing.T) {
	tr := New(WithShards(4))
	r := rand.New(rand.NewPCG(3, 4))
	var stable []Subscription
	for i := range 200 {
		s := Subscription{Subscriber: SubscriberID(i), Filter: randFilter(r), QoS: byte(i % 3)}
		_, err := tr.Subscribe(s)
		if err != nil {
			t.Fatal(err)
		}
		stable = append(stable, s)
	}
	stable = uniqueSubs(stable)
	topics := make([]string, 64)
	for i := range topics {
		topics[i] = randTopic(r)
	}
	const churnBase = 1000 // churned subscribers have ids >= churnBase
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < 3000 && !stop.Load(); i++ {
				s := Subscription{Subscriber: churnBase + SubscriberID(w*8+r.IntN(8)), Filter: randFilter(r)}
				if r.IntN(4) == 0 {
					s.Group = "g"
				}
				if _, err := tr.Subscribe(s); err != nil {
					t.Error(err)
					return
				}
				tr.Unsubscribe(s.Subscriber, s.Filter, s.Group)
			}
		}()
	}
	for m := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res Result
			for i := range 3000 {
				topic := topics[(i+m)%len(topics)]
				tr.Match([]byte(topic), &res)
				want, _ := refResult(stable, topic)
				got := map[SubscriberID]byte{}
				for _, d := range res.Deliveries {
					if d.Subscriber >= churnBase {
						continue
					}
					got[d.Subscriber] = d.QoS
				}
				if !mapsEqual(want, got) {
					t.Errorf("topic %q: want %v got %v", topic, want, got)
					stop.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := tr.Len(); got != len(stable) {
		t.Fatalf("got %v, want %v", got, len(stable))
	}
	checkTrie(t, tr)
	var res Result
	for _, topic := range topics {
		checkAgainstRef(t, tr, stable, topic, &res)
	}
}

func mapsEqual(a, b map[SubscriberID]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestPickConcurrent picks members from several goroutines while members
// join and leave; stable members must share the picks evenly under
// round-robin. Run under -race.
func TestPickConcurrent(t *testing.T) {
	tr := New()
	for id := SubscriberID(1); id <= 4; id++ {
		_, err := tr.Subscribe(Subscription{Subscriber: id, Filter: "jobs/+", Group: "workers"})
		if err != nil {
			t.Fatal(err)
		}
	}
	var res Result
	tr.Match([]byte("jobs/x"), &res)
	if n := len(res.Groups); n != 1 {
		t.Fatalf("len %d, want %d", n, 1)
	}
	g := res.Groups[0]
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 500 {
			id := SubscriberID(100 + i%3)
			if _, err := tr.Subscribe(Subscription{Subscriber: id, Filter: "jobs/+", Group: "workers"}); err != nil {
				t.Error(err)
				return
			}
			tr.Unsubscribe(id, "jobs/+", "workers")
		}
	}()
	var counts [5]atomic.Int64
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stable := func(id SubscriberID) bool { return id <= 4 }
			for range 2000 {
				s, ok := g.Pick(stable)
				if !ok || s.Subscriber < 1 || s.Subscriber > 4 {
					t.Errorf("picked %+v, %v", s, ok)
					return
				}
				counts[s.Subscriber].Add(1)
			}
		}()
	}
	wg.Wait()
	for id := 1; id <= 4; id++ {
		// 6000 picks over 4 stable members; churned members are skipped, so
		// the member after one gets a little more.
		if int(counts[id].Load()) <= 6000/4/2 {
			t.Fatalf("member %d: %d <= %d", id, int(counts[id].Load()), 6000/4/2)
		}
	}
}
