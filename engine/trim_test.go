package engine

import (
	"testing"
	"time"
)

// TestSpikeTrimDue walks the spike trim's decisions through synthetic
// figures: memory held over twice the live heap plus the excess for
// spikeHold, connections closing, the minimum interval and the back-off
// while trims free little.
func TestSpikeTrimDue(t *testing.T) {
	const mb = 1 << 20
	excess := int64(64 * mb)
	var st spikeTrim
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	if st.due(at(0), 100*mb, 40*mb, 10, excess) {
		t.Fatal("under the bound")
	}
	if st.due(at(time.Second), 300*mb, 40*mb, 10, excess) {
		t.Fatal("over for 0 s")
	}
	if st.due(at(2*time.Second), 100*mb, 40*mb, 10, excess) {
		t.Fatal("back under")
	}
	if st.due(at(3*time.Second), 300*mb, 40*mb, 10, excess) {
		t.Fatal("over again for 0 s")
	}
	if st.due(at(4*time.Second), 300*mb, 40*mb, 10, excess) {
		t.Fatal("over for 1 s")
	}
	if !st.due(at(5*time.Second), 300*mb, 40*mb, 10, excess) {
		t.Fatal("over for spikeHold")
	}
	st.started(at(5*time.Second), 10)
	st.freed.Store(10 * mb) // freed little: back off
	if st.due(at(8*time.Second), 300*mb, 40*mb, 10, excess) {
		t.Fatal("within spikeWaitMin")
	}
	if st.wait != (2 * spikeWaitMin) {
		t.Fatalf("wait after a trim that freed little: got %v, want %v", st.wait, 2*spikeWaitMin)
	}
	if st.due(at(14*time.Second), 300*mb, 40*mb, 10, excess) {
		t.Fatal("within the back-off")
	}
	if !st.due(at(16*time.Second), 300*mb, 40*mb, 10, excess) {
		t.Fatal("after the back-off")
	}
	st.started(at(16*time.Second), 10)
	st.freed.Store(200 * mb) // freed much: back to the minimum
	if st.due(at(17*time.Second), 100*mb, 40*mb, 10, excess) {
		t.Fatal("under after the trim")
	}
	if st.wait != spikeWaitMin {
		t.Fatalf("wait after a trim that freed much: got %v, want %v", st.wait, spikeWaitMin)
	}

	// Connections closing: the live heap figure is stale (held is close to
	// twice it), yet a trim is due once a quarter of them and at least
	// spikeClosedMin closed.
	if st.due(at(30*time.Second), 300*mb, 250*mb, 400, excess) {
		t.Fatal("many connections, none closed")
	}
	if st.due(at(31*time.Second), 300*mb, 250*mb, 350, excess) {
		t.Fatal("an eighth closed")
	}
	if !st.due(at(32*time.Second), 300*mb, 250*mb, 20, excess) {
		t.Fatal("most closed")
	}
	st.started(at(32*time.Second), 20)
	if st.due(at(40*time.Second), 300*mb, 250*mb, 20, excess) {
		t.Fatal("no more closed since the trim")
	}
	if st.due(at(41*time.Second), 300*mb, 250*mb, 400, excess) {
		t.Fatal("reopened")
	}
	if st.due(at(42*time.Second), 30*mb, 10*mb, 20, excess) {
		t.Fatal("closed but little held")
	}
	if !st.due(at(43*time.Second), 300*mb, 250*mb, 20, excess) {
		t.Fatal("closed again")
	}
}

// TestSpikeTrimRuns: the ticker's spike trim returns memory after many
// connections closed, counted, once.
func TestSpikeTrimRuns(t *testing.T) {
	b, err := New(func() Config { c := DefaultConfig(); c.TrimExcess = 1; return c }())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b.open.Store(200)
	b.trimSpike(now)
	if got := b.spikeTrims.Load(); got != uint64(0) {
		t.Fatalf("trims with connections open: got %v, want %v", got, uint64(0))
	}
	b.open.Store(0)
	b.trimSpike(now.Add(time.Second))
	if got := b.spikeTrims.Load(); got != uint64(1) {
		t.Fatalf("trims after they closed: got %v, want %v", got, uint64(1))
	}
	waitFor(t, "trim finished", func() bool { return !b.trim.running.Load() })
	b.trimSpike(now.Add(2 * time.Second))
	if got := b.spikeTrims.Load(); got != uint64(1) {
		t.Fatalf("trims without more closes: got %v, want %v", got, uint64(1))
	}
	if got := b.Stats().SpikeTrims; got != uint64(1) {
		t.Fatalf("SpikeTrims in Stats: got %v, want %v", got, uint64(1))
	}
}
