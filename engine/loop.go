package engine

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/trie"
)

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
// The small fields come first so that the struct stays at 72 bytes.
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
}

// loopStats are the counters of one loop. The loop accumulates them in
// plain fields during a batch and folds them into the atomics once at the
// end of it (STYLE.md §5.8).
type loopStats struct {
	msgsIn, msgsOut, bytesIn, bytesOut, dropped, pubIn, pubOut uint64
	// Limit hits (limits.go), also counted in dropped.
	queueDropped, handoverDropped uint64
}

type loopAtomics struct {
	msgsIn, msgsOut, bytesIn, bytesOut, dropped, pubIn, pubOut atomic.Uint64
	queueDropped, handoverDropped                              atomic.Uint64
}

// loop is the broker's state for one event loop (network.Loop). Everything
// but the inbox and the atomics (ast, thr.has) is touched only on that
// loop's goroutine.
type loop struct {
	b   *Broker
	idx int
	nl  network.Loop // the event loop this runs on

	handover           // what other loops hand to this one, and what it hands them
	dirty    []*client // clients with pending bytes this round
	depth    int       // finish re-entrancy guard
	seq      uint64    // messages routed by this loop
	clients  []*client // every client of the loop; client.idx is its position

	scratch      loopScratch // reused for every packet and message (§5.1)
	matchCache               // match results by topic
	loopCounters             // statistics and queued-bytes accounting
	thr          throttle    // publisher throttle (throttle.go)
	shared       sharedPick  // shared-subscription hand-over (shared.go)
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

// loopScratch is what a loop reuses for every packet it decodes and every
// message it routes, so that neither allocates (§5.1). What it holds is
// valid during one handler call or one route, but slab, the rest of a
// chunk of small write buffers. Loop-only.
type loopScratch struct {
	// Decoded packets.
	pub   codec.Publish
	ack   codec.Ack
	sub   codec.Subscribe
	unsub codec.Unsubscribe
	conn  codec.Connect
	disc  codec.Disconnect

	encs      [2][]byte          // QoS 0 wire forms of the message being routed (v3, v5)
	encID     []byte             // a v5 QoS 0 wire form with Subscription Identifiers
	res       trie.Result        // a match not cached (match)
	codes     []codec.ReasonCode // SUBACK and UNSUBACK reason codes
	retainQ   []retainReq        // retained messages a SUBSCRIBE asks for (subscribe.go)
	retainIdx map[string]int     // retainQ positions of one large SUBSCRIBE (queueRetained)
	info      ClientInfo         // for the Authoriser (client.clientInfo)
	slab      []byte             // what is left of the chunk smallPending carves from
}

// matchCache holds a loop's match results by topic (match), emptied when
// the trie's generation moves or cacheBytes, their estimated size, would
// pass Config.MatchCacheBytes. Loop-only.
type matchCache struct {
	cache      map[string]*trie.Result
	cacheGen   uint64
	cacheBytes int
}

// loopCounters are a loop's statistics: the round's counters (st), added
// to the atomics Stats reads (ast) at the end of each round (foldStats),
// and the queued-bytes accounting (limits.go): the change of the sessions'
// MaxQueuedBytes measure this round, folded into the broker's total once
// per round, and the last drop for its log line.
type loopCounters struct {
	st  loopStats
	ast loopAtomics // read by any goroutine

	heldDelta   int64
	dropWho     *session
	dropSetting string
	dropLimit   int
}

// sharedPick is a loop's state for handing shared messages to another
// member of their group (shared.go). Loop-only.
type sharedPick struct {
	pickOther func(trie.SubscriberID) bool // l.isOtherLive, bound once
	skip      [maxSkip]trie.SubscriberID   // members pickOther excludes
	nskip     int
	orphans   []item // itemOrphan items taken under the store lock, adopted after it
}

func newLoop(b *Broker, idx int, nl network.Loop) *loop {
	l := &loop{
		b:          b,
		idx:        idx,
		nl:         nl,
		handover:   handover{free: make(chan *batch, freeBatches)},
		matchCache: matchCache{cache: make(map[string]*trie.Result)},
	}
	l.userPropsLimit()
	l.shared.pickOther = l.isOtherLive
	l.thr.l = l
	return l
}

// Small write buffers, so that an idle connection holds little memory. A
// connection's first write buffer, the one its CONNACK goes in, is carved
// from a chunk shared by slabConns connections rather than allocated
// alone: a lone 8-byte buffer
// would share a 16-byte block with unrelated objects, and once
// housekeeping drops it from the idle connection (idlePending) it would
// leave a hole that keeps the block's span resident. A chunk is freed
// whole once its connections dropped or outgrew their slice.
const (
	smallPendingCap = 8 // a v3 CONNACK is 4 bytes
	slabConns       = 512
)

// smallPending returns an empty write buffer of capacity smallPendingCap
// carved from the loop's current chunk. Appending past its capacity moves
// it to a buffer of its own, as for any slice. Loop-only.
func (l *loop) smallPending() []byte {
	if len(l.scratch.slab) < smallPendingCap {
		l.scratch.slab = make([]byte, smallPendingCap*slabConns)
	}
	b := l.scratch.slab[:0:smallPendingCap]
	l.scratch.slab = l.scratch.slab[smallPendingCap:]
	return b
}

// addClient records a new client of l. Loop-only.
func (l *loop) addClient(c *client) {
	c.idx = int32(len(l.clients))
	l.clients = append(l.clients, c)
}

// removeClient forgets c, moving the last client into its place: a loop
// over l.clients that may close clients runs backwards, so the moved client
// has been visited already. A slice instead of a set saves a map entry and
// its growth garbage per connection. Loop-only.
func (l *loop) removeClient(c *client) {
	i := int(c.idx)
	if i >= len(l.clients) || l.clients[i] != c {
		return
	}
	last := len(l.clients) - 1
	l.clients[i] = l.clients[last]
	l.clients[i].idx = int32(i)
	l.clients[last] = nil
	l.clients = l.clients[:last]
	if cap(l.clients) > 1024 && last < cap(l.clients)/4 {
		l.clients = append([]*client(nil), l.clients...) // give a storm's capacity back
	}
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

// markDirty records that c has bytes to flush at the end of the round.
// Loop-only.
func (l *loop) markDirty(c *client) {
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

// finish ends one round (one OnTraffic, one inbox drain, one close): it
// hands the built batches to their loops, writes every dirty client once and
// folds the counters. It is re-entrant: the network may call OnClose from inside a
// Write, and a will published there adds work that the outer call picks up.
// Loop-only.
func (l *loop) finish() {
	if l.depth > 0 {
		return
	}
	l.depth++
	for len(l.targets) > 0 || len(l.dirty) > 0 {
		for i := 0; i < len(l.targets); i++ {
			t := l.targets[i]
			bt := l.out[t.idx]
			l.out[t.idx] = nil
			t.push(bt)
		}
		l.targets = l.targets[:0]
		for i := 0; i < len(l.dirty); i++ {
			l.dirty[i].flush()
		}
		clear(l.dirty)
		l.dirty = l.dirty[:0]
	}
	l.depth--
	l.foldStats()
	l.thr.endRound()
}

// foldStats publishes the round's counters with one atomic add each.
func (l *loop) foldStats() {
	if l.st == (loopStats{}) && l.heldDelta == 0 {
		return
	}
	l.foldLimits()
	l.ast.msgsIn.Add(l.st.msgsIn)
	l.ast.msgsOut.Add(l.st.msgsOut)
	l.ast.bytesIn.Add(l.st.bytesIn)
	l.ast.bytesOut.Add(l.st.bytesOut)
	l.ast.dropped.Add(l.st.dropped)
	l.ast.pubIn.Add(l.st.pubIn)
	l.ast.pubOut.Add(l.st.pubOut)
	l.st = loopStats{}
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

// drain applies every batch in the inbox. Loop-only.
func (l *loop) drain() {
	l.in.mu.Lock()
	q := l.in.q
	l.in.q = nil
	l.in.rung = false
	l.in.mu.Unlock()
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
			if it.qos > 0 {
				l.thr.applied(it.s)
			}
			l.deliver(it.s, it.m, it.qos, it.ids, it.retain, it.group)
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
