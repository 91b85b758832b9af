package engine

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gust-mqtt/gust/trie"
)

// Hand-over between loops: what one loop gives another to do (items in
// a batch), the inbox a loop drains when woken, and the batches' reuse.

// itemKind says what one hand-over item asks the target loop to do.
type itemKind byte

const (
	itemQoS0            itemKind = iota // write buf[off:off+n] to s's client
	itemMessage                         // deliver m to s at qos (QoS 1/2 or encoded per session)
	itemTakeover                        // close s's client and hand s to next
	itemResume                          // s has been released to client next: finish its CONNECT
	itemClose                           // close client c (shutdown)
	itemResumeThrottled                 // a congested session drained: resume throttled publishers
	itemOrphan                          // m's shared member's session ended: give it to another (shared.go)
)

// item is one entry of a hand-over batch.
// The small fields come first so that the struct stays at 80 bytes.
type item struct {
	kind   itemKind
	qos    byte
	fam    byte // wire form of a QoS 0 item (see family)
	retain bool // itemMessage: RETAIN as published (Retain As Published)
	off, n int32
	s      *session
	m      *message
	c      *client
	ids    []uint32    // itemMessage: Subscription Identifiers (immutable)
	group  *trie.Group // itemMessage: shared subscription it came through, nil if none
	// dseq is the durable record of an itemMessage delivery, or the stored
	// delivery an itemOrphan comes from (holding its reference to m); 0 if
	// none (durqueue.go).
	dseq uint64
}

// batch is what one loop hands over to another in one go: the QoS 0 wire
// bytes it encoded for the target's clients and the items to apply. A batch
// is owned by its producer until pushed, then by the target until it is
// returned to home.
type batch struct {
	home  chan *batch
	buf   []byte
	items []item
	// room is what the target's inbox could still take of QoS 0 bytes
	// (MaxHandoverBytes) when the producer started the batch.
	room int

	// The last message copied into buf by the producer, per wire form
	// (see family), so that every item for this loop shares one copy per
	// message and wire form even when v3 and v5 subscribers alternate.
	last [2]struct {
		seq    uint64
		off, n int32
	}
}

// Spare batches keep at most this much capacity, so that one burst of big
// messages does not pin memory in every spare batch.
const (
	maxKeptBatchBytes = 256 << 10
	maxKeptBatchItems = 4096
)

// reset empties bt for reuse, dropping oversized buffers.
func (bt *batch) reset() {
	bt.last = [2]struct {
		seq    uint64
		off, n int32
	}{}
	if cap(bt.buf) > maxKeptBatchBytes {
		bt.buf = nil
	} else {
		bt.buf = bt.buf[:0]
	}
	clear(bt.items)
	if cap(bt.items) > maxKeptBatchItems {
		bt.items = nil
	} else {
		bt.items = bt.items[:0]
	}
}

// inbox receives batches from other loops.
type inbox struct {
	mu    sync.Mutex // leaf lock
	q     []*batch
	bytes atomic.Int64 // batch.size of the batches in q, read by producers once per batch (outFor)
	rung  bool         // a wake-up is pending; producers don't wake it again
	// committed is set when a store commit of this loop completed
	// (durable.go).
	committed bool
}

// handover is a loop's side of the hand-over between loops (STYLE.md
// §5.7): the inbox others push batches to (safe from any goroutine), and,
// loop-only, the loop's spare batches and those it builds this round for
// other loops, pushed by finish.
type handover struct {
	in      inbox
	free    chan *batch // this loop's spare batches
	out     []*batch    // per target loop idx: batch being built in this round
	targets []*loop     // loops with a non-nil out entry
}

// freeBatches is how many spare batches a loop keeps. A busy target loop
// may hold many of a producer's batches between two drains; dropping the
// spares meant regrowing new ones (growslice in a fan-in profile).
const freeBatches = 512

// getBatch returns an empty batch for a hand-over. Loop-only.
func (l *loop) getBatch() *batch {
	select {
	case bt := <-l.free:
		return bt
	default:
		return &batch{home: l.free, buf: make([]byte, 0, 16<<10), items: make([]item, 0, 64)}
	}
}

// outFor returns the batch being built for target t. Loop-only.
func (l *loop) outFor(t *loop) *batch {
	for len(l.out) <= t.idx {
		l.out = append(l.out, nil)
	}
	bt := l.out[t.idx]
	if bt == nil {
		bt = l.getBatch()
		bt.room = l.b.cfg.MaxHandoverBytes - int(t.in.bytes.Load())
		l.out[t.idx] = bt
		l.targets = append(l.targets, t)
	}
	return bt
}

// itemSize is what one hand-over item costs in a batch.
const itemSize = int(unsafe.Sizeof(item{}))

// size is what bt holds: its wire bytes and items.
func (bt *batch) size() int {
	return len(bt.buf) + len(bt.items)*itemSize
}

// full reports whether a QoS 0 item of n wire bytes would take bt past the
// room its target had (MaxHandoverBytes); the caller drops the message and
// counts it. Loop-only (the producer's).
func (l *loop) full(bt *batch, n int) bool {
	if bt.size()+n+itemSize <= bt.room {
		return false
	}
	l.st.dropped++
	l.st.handoverDropped++
	return true
}

// push hands bt to l and wakes l if it is idle. Safe from any goroutine.
func (l *loop) push(bt *batch) {
	l.in.bytes.Add(int64(bt.size()))
	l.in.mu.Lock()
	l.in.q = append(l.in.q, bt)
	wake := !l.in.rung
	l.in.rung = true
	l.in.mu.Unlock()
	if wake {
		l.nl.Wake() // no allocation: OnWake drains
	}
}

// drain applies every batch in the inbox, and starts the resume round
// of the QoS 0 throttle's timer when it is due. Loop-only.
func (l *loop) drain() {
	l.thr.wake()
	l.in.mu.Lock()
	q := l.in.q
	l.in.q = nil
	l.in.rung = false
	committed := l.in.committed
	l.in.committed = false
	l.in.mu.Unlock()
	if committed {
		l.releaseHeld()
	}
	for _, bt := range q {
		n := bt.size()
		l.apply(bt)
		l.in.bytes.Add(int64(-n))
		bt.reset()
		select {
		case bt.home <- bt:
		default:
		}
	}
	clear(q)
	l.in.mu.Lock()
	if l.in.q == nil {
		l.in.q = q[:0] // recycle the slice when nobody pushed meanwhile
	}
	l.in.mu.Unlock()
	l.finish()
}

// apply performs the items of one batch. Loop-only.
func (l *loop) apply(bt *batch) {
	for i := range bt.items {
		it := &bt.items[i]
		switch it.kind {
		case itemQoS0:
			// The session may have a new client, maybe of another version,
			// since the producer encoded the bytes.
			if it.s.owner.Load() != l {
				break // s.c belongs to another loop or to nobody
			}
			if c := it.s.c; c != nil && family(c.version) == int(it.fam) {
				c.writeQoS0(bt.buf[it.off : it.off+it.n])
			}
		case itemMessage:
			var prev *message
			if it.dseq != 0 {
				prev = l.beginStore(it.m) // its record may name m again (redirect)
			}
			l.deliver(it.s, it.m, it.qos, it.ids, it.retain, it.group, it.dseq)
			if it.dseq != 0 {
				l.endStore(it.m, prev, false)
			}
			if it.qos > 0 {
				l.thr.applied(it.s) // after: a later one may go straight to the queue now
			}
		case itemTakeover:
			l.takeover(it.s, it.c)
		case itemResume:
			it.c.resumeConnect()
		case itemClose:
			it.c.closeNow(closeShutdown)
		case itemResumeThrottled:
			l.thr.askResume()
		case itemOrphan:
			l.adoptOrphan(it)
		}
	}
}

// sendItem queues it for loop t (run directly when t is l). Loop-only (l).
func (l *loop) sendItem(t *loop, it item) {
	if t == l {
		bt := batch{items: []item{it}}
		l.apply(&bt)
		return
	}
	bt := l.outFor(t)
	bt.items = append(bt.items, it)
}
