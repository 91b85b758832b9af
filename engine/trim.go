package engine

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// Idle trim (Config.TrimIdle, issue 6). The Go runtime gives memory that
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
