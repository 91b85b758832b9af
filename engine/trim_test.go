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

	check(t, !st.due(at(0), 100*mb, 40*mb, 10, excess), "under the bound")
	check(t, !st.due(at(time.Second), 300*mb, 40*mb, 10, excess), "over for 0 s")
	check(t, !st.due(at(2*time.Second), 100*mb, 40*mb, 10, excess), "back under")
	check(t, !st.due(at(3*time.Second), 300*mb, 40*mb, 10, excess), "over again for 0 s")
	check(t, !st.due(at(4*time.Second), 300*mb, 40*mb, 10, excess), "over for 1 s")
	check(t, st.due(at(5*time.Second), 300*mb, 40*mb, 10, excess), "over for spikeHold")
	st.started(at(5*time.Second), 10)
	st.freed.Store(10 * mb) // freed little: back off
	check(t, !st.due(at(8*time.Second), 300*mb, 40*mb, 10, excess), "within spikeWaitMin")
	equal(t, st.wait, 2*spikeWaitMin, "wait after a trim that freed little")
	check(t, !st.due(at(14*time.Second), 300*mb, 40*mb, 10, excess), "within the back-off")
	check(t, st.due(at(16*time.Second), 300*mb, 40*mb, 10, excess), "after the back-off")
	st.started(at(16*time.Second), 10)
	st.freed.Store(200 * mb) // freed much: back to the minimum
	check(t, !st.due(at(17*time.Second), 100*mb, 40*mb, 10, excess), "under after the trim")
	equal(t, st.wait, spikeWaitMin, "wait after a trim that freed much")

	// Connections closing: the live heap figure is stale (held is close to
	// twice it), yet a trim is due once a quarter of them and at least
	// spikeClosedMin closed.
	check(t, !st.due(at(30*time.Second), 300*mb, 250*mb, 400, excess), "many connections, none closed")
	check(t, !st.due(at(31*time.Second), 300*mb, 250*mb, 350, excess), "an eighth closed")
	check(t, st.due(at(32*time.Second), 300*mb, 250*mb, 20, excess), "most closed")
	st.started(at(32*time.Second), 20)
	check(t, !st.due(at(40*time.Second), 300*mb, 250*mb, 20, excess), "no more closed since the trim")
	check(t, !st.due(at(41*time.Second), 300*mb, 250*mb, 400, excess), "reopened")
	check(t, !st.due(at(42*time.Second), 30*mb, 10*mb, 20, excess), "closed but little held")
	check(t, st.due(at(43*time.Second), 300*mb, 250*mb, 20, excess), "closed again")
}

// TestSpikeTrimRuns: the ticker's spike trim returns memory after many
// connections closed, counted, once.
func TestSpikeTrimRuns(t *testing.T) {
	b, err := New(func() Config { c := DefaultConfig(); c.TrimExcess = 1; return c }())
	noErr(t, err)
	now := time.Now()
	b.open.Store(200)
	b.trimSpike(now)
	equal(t, b.spikeTrims.Load(), uint64(0), "trims with connections open")
	b.open.Store(0)
	b.trimSpike(now.Add(time.Second))
	equal(t, b.spikeTrims.Load(), uint64(1), "trims after they closed")
	waitFor(t, "trim finished", func() bool { return !b.trim.running.Load() })
	b.trimSpike(now.Add(2 * time.Second))
	equal(t, b.spikeTrims.Load(), uint64(1), "trims without more closes")
	equal(t, b.Stats().SpikeTrims, uint64(1), "SpikeTrims in Stats")
}
