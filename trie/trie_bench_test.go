package trie

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The benchmarks measure each operation on Gust's index and on mochi-mqtt's
// TopicsIndex in the same run (sub-benchmark index=gust / index=mochi), so
// the ratio is read from one output.

// fanout is the number of distinct values per level of the generated
// namespace; level 0 is narrow (sites), deeper levels wide.
var fanout = [7]int{8, 64, 64, 32, 32, 16, 16}

// genTopic returns a topic of depth 3 to 7 in the generated namespace.
func genTopic(r *rand.Rand) string {
	depth := 3 + r.IntN(5)
	var sb strings.Builder
	for j := range depth {
		if j > 0 {
			sb.WriteByte('/')
		}
		sb.WriteString(levelNames[j][r.IntN(fanout[j])])
	}
	return sb.String()
}

var levelNames = func() (n [7][]string) {
	prefix := []string{"site", "bldg", "floor", "room", "dev", "sensor", "ch"}
	for j := range n {
		for k := range fanout[j] {
			n[j] = append(n[j], prefix[j]+strconv.Itoa(k))
		}
	}
	return n
}()

// genFilter returns a mixed filter: 80% exact, 10% with one '+' and 10%
// ending in '#' below the first level; 1% of all have a '+' first level.
func genFilter(r *rand.Rand) string {
	l := strings.Split(genTopic(r), "/")
	switch x := r.IntN(100); {
	case x < 80:
	case x < 90:
		i := 1 + r.IntN(len(l)-1)
		if x == 80 {
			i = 0
		}
		l[i] = "+"
	default:
		i := 1 + r.IntN(len(l)-1)
		l = append(l[:i], "#")
	}
	return strings.Join(l, "/")
}

// fixture is one generated subscription set loaded into both indexes.
type fixture struct {
	gust    *Trie
	mochi   *mqtt.TopicsIndex
	filters []string
	topics  []string // half are exact filters, half random: realistic hit rates
	btopics [][]byte
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[int]*fixture{}
)

// getFixture builds (once per process) n subscriptions, one subscriber each.
func getFixture(n int) *fixture {
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f := fixtures[n]; f != nil {
		return f
	}
	r := rand.New(rand.NewPCG(uint64(n), 42))
	f := &fixture{gust: New(), mochi: mqtt.NewTopicsIndex(), filters: make([]string, n)}
	for i := range f.filters {
		fl := genFilter(r)
		f.filters[i] = fl
		if _, err := f.gust.Subscribe(Subscription{Subscriber: SubscriberID(i), Filter: fl, QoS: byte(i % 3)}); err != nil {
			panic(err)
		}
		f.mochi.Subscribe("c"+strconv.Itoa(i), packets.Subscription{Filter: fl, Qos: byte(i % 3)})
	}
	for i := range 1024 {
		tp := genTopic(r)
		if fl := f.filters[r.IntN(n)]; i%2 == 0 && !strings.ContainsAny(fl, "+#") {
			tp = fl
		}
		f.topics = append(f.topics, tp)
		f.btopics = append(f.btopics, []byte(tp))
	}
	fixtures[n] = f
	return f
}

var sink int

// BenchmarkMatch measures one topic match against n mixed subscriptions.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("subs=%d/index=gust", n), func(b *testing.B) {
			f := getFixture(n)
			var res Result
			for _, tp := range f.btopics {
				f.gust.Match(tp, &res) // grow res's buffers: measure steady state
			}
			matched := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f.gust.Match(f.btopics[i&1023], &res)
				matched += len(res.Deliveries)
			}
			b.ReportMetric(float64(matched)/float64(b.N), "subs/op")
			sink += matched
		})
		b.Run(fmt.Sprintf("subs=%d/index=mochi", n), func(b *testing.B) {
			f := getFixture(n)
			matched := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				matched += len(f.mochi.Subscribers(f.topics[i&1023]).Subscriptions)
			}
			b.ReportMetric(float64(matched)/float64(b.N), "subs/op")
			sink += matched
		})
	}
	// The 1M fixture holds GBs (mostly mochi's); drop it so that the GC work
	// it causes does not slow down the benchmarks that follow.
	fixturesMu.Lock()
	delete(fixtures, 1_000_000)
	fixturesMu.Unlock()
	runtime.GC()
}

// churn subscribes and unsubscribes on idx until stop is set; it is the
// writer competing with the parallel matchers.
func churn(stop *atomic.Bool, done *sync.WaitGroup, changes *atomic.Int64, sub func(i int, f string), unsub func(i int, f string)) {
	defer done.Done()
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; !stop.Load(); i++ {
		f := genFilter(r)
		sub(i, f)
		unsub(i, f)
		changes.Add(2)
		// Bursts of 16 subscribe/unsubscribe pairs per sleep (about 1ms, the
		// timer's real resolution here): a steady stream of thousands of
		// changes per second that leaves the cores to the matchers.
		if i%16 == 15 {
			time.Sleep(time.Millisecond)
		}
	}
}

// BenchmarkMatchParallel matches from all cores while one goroutine
// subscribes and unsubscribes. Compare its ns/op with BenchmarkMatch at the
// same size: on c cores a scaling index shows about 1/c of the serial time.
func BenchmarkMatchParallel(b *testing.B) {
	const n = 100_000
	const churnID = 1 << 30
	b.Run(fmt.Sprintf("subs=%d/index=gust", n), func(b *testing.B) {
		f := getFixture(n)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var changes atomic.Int64
		wg.Add(1)
		go churn(&stop, &wg, &changes,
			func(i int, fl string) { _, _ = f.gust.Subscribe(Subscription{Subscriber: churnID, Filter: fl}) },
			func(i int, fl string) { f.gust.Unsubscribe(churnID, fl, "") })
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var res Result
			i := rand.IntN(1024)
			for pb.Next() {
				f.gust.Match(f.btopics[i&1023], &res)
				i++
			}
		})
		b.StopTimer()
		stop.Store(true)
		wg.Wait()
		b.ReportMetric(float64(changes.Load())/b.Elapsed().Seconds(), "changes/s")
	})
	b.Run(fmt.Sprintf("subs=%d/index=mochi", n), func(b *testing.B) {
		f := getFixture(n)
		var stop atomic.Bool
		var wg sync.WaitGroup
		var changes atomic.Int64
		wg.Add(1)
		go churn(&stop, &wg, &changes,
			func(i int, fl string) { f.mochi.Subscribe("churn", packets.Subscription{Filter: fl}) },
			func(i int, fl string) { f.mochi.Unsubscribe(fl, "churn") })
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(1024)
			for pb.Next() {
				_ = f.mochi.Subscribers(f.topics[i&1023])
				i++
			}
		})
		b.StopTimer()
		stop.Store(true)
		wg.Wait()
		b.ReportMetric(float64(changes.Load())/b.Elapsed().Seconds(), "changes/s")
	})
}

// BenchmarkSubscribe measures one subscribe plus one unsubscribe of a fresh
// filter on an index holding 100k subscriptions.
func BenchmarkSubscribe(b *testing.B) {
	const n = 100_000
	r := rand.New(rand.NewPCG(9, 9))
	filters := make([]string, 4096)
	for i := range filters {
		filters[i] = genFilter(r)
	}
	b.Run(fmt.Sprintf("subs=%d/index=gust", n), func(b *testing.B) {
		f := getFixture(n)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			fl := filters[i&4095]
			_, _ = f.gust.Subscribe(Subscription{Subscriber: 1 << 30, Filter: fl})
			f.gust.Unsubscribe(1<<30, fl, "")
		}
	})
	b.Run(fmt.Sprintf("subs=%d/index=mochi", n), func(b *testing.B) {
		f := getFixture(n)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			fl := filters[i&4095]
			f.mochi.Subscribe("bench", packets.Subscription{Filter: fl})
			f.mochi.Unsubscribe(fl, "bench")
		}
	})
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// measureMemory runs b.N subscriptions (sub), into a fresh index (fresh)
// every n of them, and reports the live heap per subscription of the last
// fill (metric bytes/sub): of n subscriptions when b.N >= n, as with the
// default -benchtime.
func measureMemory[T any](b *testing.B, n int, fresh func() T, sub func(idx T, i int)) {
	b.ReportAllocs()
	var idx T
	var start int64
	per := 0.0
	for i := 0; i < b.N; i++ {
		k := i % n
		if k == 0 {
			b.StopTimer()
			var zero T
			idx = zero
			start = int64(heapInUse())
			idx = fresh()
			b.StartTimer()
		}
		sub(idx, k)
		if k == n-1 || i == b.N-1 {
			b.StopTimer()
			per = float64(int64(heapInUse())-start) / float64(k+1)
			b.StartTimer()
		}
	}
	runtime.KeepAlive(idx)
	b.ReportMetric(per, "bytes/sub")
}

// BenchmarkMemory reports the heap bytes per subscription of an index
// holding 100k generated subscriptions (metric bytes/sub); ns/op is the
// subscribe cost while the index fills.
func BenchmarkMemory(b *testing.B) {
	const n = 100_000
	r := rand.New(rand.NewPCG(11, 11))
	filters := make([]string, n)
	for i := range filters {
		filters[i] = genFilter(r)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
	}
	b.Run(fmt.Sprintf("subs=%d/index=gust", n), func(b *testing.B) {
		measureMemory(b, n, func() *Trie { return New() }, func(t *Trie, i int) {
			_, _ = t.Subscribe(Subscription{Subscriber: SubscriberID(i), Filter: filters[i]})
		})
	})
	b.Run(fmt.Sprintf("subs=%d/index=mochi", n), func(b *testing.B) {
		measureMemory(b, n, mqtt.NewTopicsIndex, func(x *mqtt.TopicsIndex, i int) {
			x.Subscribe(names[i], packets.Subscription{Filter: filters[i]})
		})
	})
}

// retainedFixture holds 100k retained topics in both indexes.
type retainedFixture struct {
	gust  *Retained[int]
	mochi *mqtt.TopicsIndex
	first string // the first topic stored, for the exact lookup
}

var retainedOnce = sync.OnceValue(func() *retainedFixture {
	r := rand.New(rand.NewPCG(13, 13))
	f := &retainedFixture{gust: NewRetained[int](), mochi: mqtt.NewTopicsIndex()}
	for f.gust.Count() < 100_000 {
		tp := genTopic(r)
		if f.first == "" {
			f.first = tp
		}
		f.gust.Set(tp, 1)
		f.mochi.RetainMessage(packets.Packet{TopicName: tp, Payload: []byte("x"),
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true}})
	}
	return f
})

// BenchmarkRetainedMatch looks up the retained messages matching a filter
// among 100k retained topics.
func BenchmarkRetainedMatch(b *testing.B) {
	filters := []struct{ name, filter string }{
		{name: "site", filter: "site3/#"},          // 1/8 of all topics
		{name: "bldg", filter: "site3/bldg5/#"},    // 1/512
		{name: "plus", filter: "site3/+/floor7/#"}, // 1/512 over 64 branches
		{name: "exact"}, // the first stored topic: one message
	}
	for _, fc := range filters {
		if fc.filter == "" {
			fc.filter = retainedOnce().first
		}
		b.Run("filter="+fc.name+"/index=gust", func(b *testing.B) {
			f := retainedOnce()
			bf := []byte(fc.filter)
			n := 0
			count := func(string, int) bool { n++; return true }
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f.gust.Match(bf, count)
			}
			b.ReportMetric(float64(n)/float64(b.N), "msgs/op")
		})
		b.Run("filter="+fc.name+"/index=mochi", func(b *testing.B) {
			f := retainedOnce()
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				n += len(f.mochi.Messages(fc.filter))
			}
			b.ReportMetric(float64(n)/float64(b.N), "msgs/op")
		})
	}
}

// BenchmarkMatchFanout matches a topic that n subscribers share one filter
// of (plus one '+' and one '#' filter each for a tenth of them), the shape
// of a broadcast topic.
func BenchmarkMatchFanout(b *testing.B) {
	const n = 10_000
	g, m := New(), mqtt.NewTopicsIndex()
	for i := range n {
		for j, fl := range []string{"news/world/today", "news/+/today", "news/#"} {
			if j > 0 && i%10 != 0 {
				continue
			}
			_, _ = g.Subscribe(Subscription{Subscriber: SubscriberID(i), Filter: fl, QoS: byte(j)})
			m.Subscribe("c"+strconv.Itoa(i), packets.Subscription{Filter: fl, Qos: byte(j)})
		}
	}
	topic := "news/world/today"
	b.Run(fmt.Sprintf("subs=%d/index=gust", n), func(b *testing.B) {
		var res Result
		g.Match([]byte(topic), &res)
		bt := []byte(topic)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			g.Match(bt, &res)
		}
		sink += len(res.Deliveries)
	})
	b.Run(fmt.Sprintf("subs=%d/index=mochi", n), func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sink += len(m.Subscribers(topic).Subscriptions)
		}
	})
}
