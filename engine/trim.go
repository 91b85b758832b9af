package engine

import (
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Idle trim (Config.TrimIdle). The Go runtime gives memory that
// the garbage collector freed back to the operating system slowly, and
// collects garbage only as the heap grows: after a storm of connections
// the process keeps the storm's garbage and GC headroom resident while the
// connections sit idle. Once the broker has been quiet for TrimIdle after
// some activity, it runs one collection and returns every free page
// (debug.FreeOSMemory), so the resident memory of an idle broker is close
// to its live heap. A steady trickle of activity never triggers it, and a
// quiet broker trims once, not periodically.

// idleTrim is the ticker's view of activity. Ticker goroutine only, but
// running is also read by the trim goroutine.
type idleTrim struct {
	sig     uint64    // activity signature at the last check
	since   time.Time // when sig last changed
	pending bool      // activity since the last trim
	running atomic.Bool
}

// activity returns a number that changes whenever a connection is opened
// or closed or a PUBLISH is received. Safe from any goroutine.
func (b *Broker) activity() uint64 {
	sig := b.churn.Load()
	for _, l := range b.loopSnapshot() {
		sig += l.ast.pubIn.Load()
	}
	return sig
}

// trimIdle returns freed memory to the OS when the broker has been quiet
// for Config.TrimIdle since its last activity. Ticker goroutine only; the
// collection runs on its own goroutine so the coarse clock keeps moving.
func (b *Broker) trimIdle(now time.Time) {
	if b.cfg.TrimIdle <= 0 {
		return
	}
	t := &b.trim
	if sig := b.activity(); sig != t.sig {
		t.sig, t.since, t.pending = sig, now, true
		return
	}
	if !t.pending || now.Sub(t.since) < b.cfg.TrimIdle || !t.running.CompareAndSwap(false, true) {
		return
	}
	t.pending = false
	b.trims.Add(1)
	go func() {
		defer t.running.Store(false)
		debug.FreeOSMemory()
	}()
}

// Spike trim (Config.TrimExcess). The idle trim waits for quiet, which a
// single client publishing now and then never gives, so the memory a spike
// left (an attack's buffers, a storm's garbage) would stay resident. Two
// signs say that much of what the runtime holds could go back:
//
//   - it holds more than twice the live heap of the last collection plus
//     TrimExcess, for spikeHold: a collection freed the memory but the
//     runtime's scavenger returns it slowly (the GC headroom alone is at
//     most the live heap);
//   - connections closed (a quarter of the most seen since the last trim,
//     and at least spikeClosedMin) while it holds more than TrimExcess:
//     what they held is garbage that no collection has seen yet, so the
//     live heap figure cannot show it.
//
// Either runs debug.FreeOSMemory (one collection, then every free page
// returned) on its own goroutine. The first sign is followed at most once
// per spikeWaitMin, backing off to spikeWaitMax while trims free little
// (a fragmented heap stays over); the second at most once per
// spikeWaitMin and only after more connections closed.
const (
	spikeHold      = 2 * time.Second
	spikeWaitMin   = 5 * time.Second
	spikeWaitMax   = 2 * time.Minute
	spikeClosedMin = 64
)

// spikeTrim is the ticker's state for the spike trim. Ticker goroutine
// only, but for freed, which the trim goroutine writes.
type spikeTrim struct {
	samples   []metrics.Sample // retained, released and live heap figures
	overSince time.Time        // since when the first sign holds; zero when it does not
	last      time.Time        // when the last spike trim started
	wait      time.Duration    // backoff of the first sign
	maxOpen   int64            // most open connections seen since the last trim
	freed     atomic.Int64     // bytes the last trim returned, -1 once read
}

// memSamples are the runtime/metrics figures the spike trim reads.
func memSamples() []metrics.Sample {
	return []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
}

// readMem returns the memory the runtime holds (mapped and not returned to
// the operating system) and the live heap of the last collection. It
// allocates nothing once s exists.
func readMem(s []metrics.Sample) (held, live int64) {
	metrics.Read(s)
	u := func(i int) int64 {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return int64(s[i].Value.Uint64())
	}
	return u(0) - u(1), u(2)
}

// trimSpike returns memory to the OS after a spike (see above). Ticker
// goroutine only; the trim runs on its own goroutine.
func (b *Broker) trimSpike(now time.Time) {
	excess := int64(b.cfg.TrimExcess)
	if excess <= 0 {
		return
	}
	t := &b.spike
	if t.samples == nil {
		t.samples = memSamples()
	}
	held, live := readMem(t.samples)
	open := b.open.Load()
	if !t.due(now, held, live, open, excess) || !b.trim.running.CompareAndSwap(false, true) {
		return
	}
	t.started(now, open)
	b.spikeTrims.Add(1)
	go func() {
		defer b.trim.running.Store(false)
		debug.FreeOSMemory()
		after, _ := readMem(memSamples())
		t.freed.Store(max(held-after, 0))
	}()
}

// due updates t with one tick's figures (memory held, live heap, open
// connections) and reports whether a trim is due. Ticker goroutine only.
func (t *spikeTrim) due(now time.Time, held, live, open, excess int64) bool {
	if t.wait == 0 {
		t.wait = spikeWaitMin
	}
	if f := t.freed.Swap(-1); f >= 0 && !t.last.IsZero() { // the last trim has finished
		if f < excess/2 {
			t.wait = min(2*t.wait, spikeWaitMax)
		} else {
			t.wait = spikeWaitMin
		}
	}
	t.maxOpen = max(t.maxOpen, open)
	if held <= 2*live+excess {
		t.overSince = time.Time{}
	} else if t.overSince.IsZero() {
		t.overSince = now
	}
	over := !t.overSince.IsZero() && now.Sub(t.overSince) >= spikeHold && now.Sub(t.last) >= t.wait
	closed := held > excess && t.maxOpen-open >= spikeClosedMin && open <= t.maxOpen/4*3 &&
		now.Sub(t.last) >= spikeWaitMin
	return over || closed
}

// started records a trim begun at now with open connections. Ticker
// goroutine only.
func (t *spikeTrim) started(now time.Time, open int64) {
	t.last, t.maxOpen, t.overSince = now, open, time.Time{}
	t.freed.Store(-1)
}
