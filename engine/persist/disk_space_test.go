package persist

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestReclaimDeleted queues messages to sessions, as the broker stores
// them, and deletes them all again, as sessions that drained their
// queues do: the store's files come back near their size at the start,
// and the deletions are really compacted (not only hidden).
func TestReclaimDeleted(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDisk(dir, DiskOptions{Sync: Sync{Every: Never}, Ballast: -1, ReclaimEvery: 100 * time.Millisecond, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	tables := func() int64 { m := d.db.Metrics(); return m.Total().TablesSize }
	const sessions, msgs, size = 2, 50_000, 2048
	rnd := rand.NewChaCha8([32]byte{})
	payload := make([]byte, size)
	var b Batch
	commit := func() {
		if err := commitWait(t, d, &b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
	}
	seq := uint64(0)
	for i := range msgs {
		_, _ = rnd.Read(payload) // incompressible
		b.PutMessage(&Message{ID: uint64(i + 1), Topic: []byte("space/x"), Payload: payload, QoS: 1})
		for s := range sessions {
			seq++
			b.PutDelivery(&Delivery{ClientID: fmt.Sprintf("s%d", s), Seq: seq, MessageID: uint64(i + 1), QoS: 1})
		}
		if i%50 == 49 {
			commit()
		}
	}
	commit()
	if err := d.db.Flush(); err != nil {
		t.Fatal(err)
	}
	peak := tables()
	if peak < msgs*size {
		t.Fatalf("%d bytes of tables for %d bytes of payloads", peak, msgs*size)
	}
	for s := range sessions {
		for i := range msgs {
			b.DeleteDelivery(fmt.Sprintf("s%d", s), uint64(i*sessions+s+1))
			if s == sessions-1 {
				b.DeleteMessage(uint64(i + 1))
			}
			if i%20 == 19 {
				commit()
			}
		}
	}
	commit()
	if err := d.db.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for tables() > peak/20 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := tables(); got > peak/20 {
		t.Fatalf("tables hold %d bytes after every record was deleted, %d at the peak", got, peak)
	}
	var c collected
	if err := d.Recover(&c); err != nil || len(c.lines) != 0 {
		t.Fatalf("recovered %v %v after deleting every record", c.lines, err)
	}
}

func TestMergeSpans(t *testing.T) {
	sp := func(a, b string) keySpan { return keySpan{[]byte(a), []byte(b)} }
	got := mergeSpans([]keySpan{sp("m", "p"), sp("a", "c"), sp("b", "d"), sp("e", "f"), sp("n", "o"), sp("f", "g")})
	want := []keySpan{sp("a", "d"), sp("e", "g"), sp("m", "p")}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Fatalf("mergeSpans: %q, want %q", got, want)
	}
}
