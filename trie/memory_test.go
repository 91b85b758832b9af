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
	require.NoError(t, err)
	require.True(t, tr.Unsubscribe(1, string(buf), ""))

	start := heapInUse()
	for i := range n {
		buf = memFilter(buf, i)
		if _, err := tr.Subscribe(Subscription{Subscriber: SubscriberID(i), Filter: string(buf), QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	require.Equal(t, n, tr.Len())
	peak := heapInUse()
	for i := range n {
		buf = memFilter(buf, i)
		if !tr.Unsubscribe(SubscriberID(i), string(buf), "") {
			t.Fatalf("filter %q not found", buf)
		}
	}
	end := heapInUse()
	require.Zero(t, tr.Len())
	used, left := int64(peak)-int64(start), int64(end)-int64(start)
	t.Logf("heap: start %d, after 1M subscribes +%d (%d B/sub), after unsubscribing all %+d",
		start, used, used/n, left)
	// Allow 1% of the peak for runtime noise (metadata, test buffers).
	if left > used/100 {
		t.Fatalf("heap after unsubscribing all is %+d bytes over the start (peak +%d)", left, used)
	}
	for i := range tr.shards {
		require.True(t, tr.shards[i].root.empty(), "shard %d not empty", i)
	}
	require.True(t, tr.wild.root.empty(), "wildcard shard not empty")
	runtime.KeepAlive(tr)
}
