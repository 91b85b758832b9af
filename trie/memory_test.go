package trie

import (
	"runtime"
	"strconv"
	"testing"
)

// memFilter returns the i-th filter of the memory test: distinct paths of
// depth 3 to 7 mixing exact, '+' and '#' levels, into buf.
func memFilter(buf []byte, i int) []byte {
	buf = append(buf[:0], "site"...)
	buf = strconv.AppendInt(buf, int64(i%61), 10)
	switch i % 5 {
	case 0:
		buf = append(buf, "/+/dev"...)
	case 1:
		buf = append(buf, "/b/c/d"...)
	case 2:
		buf = append(buf, "/x/y/z/w"...)
	}
	buf = append(buf, '/')
	buf = strconv.AppendInt(buf, int64(i), 10)
	if i%3 == 0 {
		buf = append(buf, "/#"...)
	}
	return buf
}

// TestUnsubscribeFreesMemory subscribes 1M filters, unsubscribes them all
// and checks that the heap returns to near where it started: no node, table
// or subscription survives.
func TestUnsubscribeFreesMemory(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("1M subscriptions: skipped under -short and -race")
	}
	const n = 1_000_000
	tr := New()
	var buf []byte
	// Warm up once so that lazily allocated runtime state is not counted.
	buf = memFilter(buf, 0)
	_, err := tr.Subscribe(Subscription{Subscriber: 1, Filter: string(buf)})
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Unsubscribe(1, string(buf), "") {
		t.Fatal("tr.Unsubscribe(1, string(buf), \"\") is false")
	}

	start := heapInUse()
	for i := range n {
		buf = memFilter(buf, i)
		if _, err := tr.Subscribe(Subscription{Subscriber: SubscriberID(i), Filter: string(buf), QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := tr.Len(); got != n {
		t.Fatalf("got %v, want %v", got, n)
	}
	peak := heapInUse()
	for i := range n {
		buf = memFilter(buf, i)
		if !tr.Unsubscribe(SubscriberID(i), string(buf), "") {
			t.Fatalf("filter %q not found", buf)
		}
	}
	end := heapInUse()
	if got := tr.Len(); got != 0 {
		t.Fatalf("got %v, want 0", got)
	}
	used, left := int64(peak)-int64(start), int64(end)-int64(start)
	t.Logf("heap: start %d, after 1M subscribes +%d (%d B/sub), after unsubscribing all %+d",
		start, used, used/n, left)
	// Allow 1% of the peak for runtime noise (metadata, test buffers).
	if left > used/100 {
		t.Fatalf("heap after unsubscribing all is %+d bytes over the start (peak +%d)", left, used)
	}
	for i := range tr.shards {
		if !tr.shards[i].root.empty() {
			t.Fatalf("shard %d not empty", i)
		}
	}
	if !tr.wild.root.empty() {
		t.Fatal("wildcard shard not empty")
	}
	runtime.KeepAlive(tr)
}

// TestDeepTopicMemory measures what one level of a deep filter costs in
// the trie and of a deep topic in the retained index: the engine bounds
// the levels (max_topic_levels), so this per-level cost times that bound
// is the most one filter or retained topic can hold in nodes.
func TestDeepTopicMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures are not meaningful under -race")
	}
	const filters, levels = 100, 200
	deep := func(i int) string {
		b := strconv.AppendInt(nil, int64(i), 10)
		for range levels - 1 {
			b = append(b, "/l"...)
		}
		return string(b)
	}
	tr := New()
	ret := NewRetained[int]()
	start := heapInUse()
	for i := range filters {
		if _, err := tr.Subscribe(Subscription{Subscriber: SubscriberID(i + 1), Filter: deep(i)}); err != nil {
			t.Fatal(err)
		}
	}
	mid := heapInUse()
	for i := range filters {
		ret.Set(deep(i), i)
	}
	end := heapInUse()
	perSub := (int64(mid) - int64(start)) / (filters * levels)
	perRet := (int64(end) - int64(mid)) / (filters * levels)
	t.Logf("per level: trie %d B, retained %d B (%d-level filters: %d KiB each)", perSub, perRet, levels, perSub*levels>>10)
	if perSub > 256 || perRet > 256 {
		t.Fatalf("a level costs %d B in the trie and %d B in the retained index, want <= 256", perSub, perRet)
	}
	runtime.KeepAlive(tr)
	runtime.KeepAlive(ret)
}
