package engine

import (
	"sync/atomic"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/trie"
)

// loopStats are the counters of one loop. The loop accumulates them in
// plain fields during a batch and folds them into the atomics once at the
// end of it (STYLE.md §5.8).
type loopStats struct {
	msgsIn, msgsOut, bytesIn, bytesOut, dropped, pubIn, pubOut uint64
	// Limit hits (limits.go), also counted in dropped: queueFull is the
	// QoS 1/2 messages dropped at MaxQueuedMessages.
	queueDropped, handoverDropped, queueFull uint64
}

type loopAtomics struct {
	msgsIn, msgsOut, bytesIn, bytesOut, dropped, pubIn, pubOut atomic.Uint64
	queueDropped, handoverDropped                              atomic.Uint64
}

// loopTotals are a loop's counters that only the operations view reads
// (admin.go): plain fields, touched only on the loop and read there
// through Execute, so they cost no atomic on the publish path.
type loopTotals struct {
	pktIn, pktBytesIn   [16]uint64 // packets received, by codec.Type
	pubIn, pubBytesIn   [4]uint64  // PUBLISH received, by QoS
	pubOut, pubBytesOut [4]uint64  // PUBLISH sent, by QoS
	// refused counts CONNECTs refused, by v5 reason code (a 3.1.1 code
	// is counted as its v5 equivalent).
	refused [256]uint64
	// handovers and handoverItems count the batches this loop handed to
	// other loops and the items in them.
	handovers, handoverItems uint64
	throttled                uint64 // publishers held by the throttle
	kicked                   uint64 // clients closed by Broker.Kick
	aclReadDenied            uint64 // deliveries the ACL's read check withheld
	busy                     int64  // nanoseconds spent in the loop's callbacks
}

// loop is the broker's state for one event loop (network.Loop). Everything
// but the inbox and the atomics (ast, thr.has) is touched only on that
// loop's goroutine.
type loop struct {
	b   *Broker
	idx int
	nl  network.Loop // the event loop this runs on

	clusterIn clusterInbox // batches from other nodes, in order (cluster_inbox.go)
	// groupsHere is set by toCluster for the route that follows it: the
	// topic's shared groups all live on this node only, so route serves
	// them (cluster_shared.go).
	groupsHere bool

	handover           // what other loops hand to this one, and what it hands them
	dirty    []*client // clients with pending bytes this round
	depth    int       // finish re-entrancy guard
	seq      uint64    // messages routed by this loop
	clients  []*client // every client of the loop; client.idx is its position
	// lingering are closed clients whose sockets linger (linger.go);
	// client.idx is their position.
	lingering []*client

	scratch      loopScratch // reused for every packet and message (§5.1)
	matchCache               // match results by topic
	loopCounters             // statistics and queued-bytes accounting
	tot          loopTotals  // counters of the operations view (admin.go)
	thr          throttle    // publisher throttle (throttle.go)
	shared       sharedPick  // shared-subscription hand-over (shared.go)
	dur          *durable    // the store's side, nil without a store (durable.go)
	acl          aclCache    // publish decisions of the ACL (aclcheck.go)
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

	clusterRec  []byte // a record for the other nodes (cluster.go)
	clusterSubj []byte // its NATS subject
	clusterIn   record // a record from another node, decoded
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
	fullWho     *session // the last session that dropped at MaxQueuedMessages
	dropSetting string
	dropLimit   int
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
	if b.store != nil {
		l.dur = newDurable(b.store)
	}
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
	for {
		if l.dur != nil {
			// Before the hand-overs and flushes: held bytes wait for it,
			// and records other loops' work names are committed first.
			l.commit()
		}
		if len(l.targets) == 0 && len(l.dirty) == 0 {
			break
		}
		l.tot.handovers += uint64(len(l.targets))
		for i := 0; i < len(l.targets); i++ {
			t := l.targets[i]
			bt := l.out[t.idx]
			l.out[t.idx] = nil
			l.tot.handoverItems += uint64(len(bt.items))
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

// publishShutdownWills publishes the will of every connected client of the
// loop, as the coming server-side close requires [MQTT-3.1.2-8]. Loop-only.
func (l *loop) publishShutdownWills() {
	// Delayed wills wait for their delay across a restart when their
	// sessions are stored (durable.go); without a store the sessions end
	// with the broker.
	if ls := l.b.loopSnapshot(); len(ls) > 0 && ls[0] == l && l.dur == nil {
		for _, d := range l.b.takeDueWills(0, true) {
			l.publishWill(d.w)
		}
	}
	for i := len(l.clients) - 1; i >= 0; i-- { // backwards: see removeClient
		if i >= len(l.clients) {
			continue
		}
		c := l.clients[i]
		if c.state == stateConnected && c.will != nil {
			w := c.will
			c.will = nil // [MQTT-3.1.2-10]
			l.publishWill(w)
		}
	}
	l.finish()
}

// closeAll delivers what other loops handed over, then closes every client
// of the loop for shutdown. Loop-only.
func (l *loop) closeAll() {
	l.drain()
	for len(l.clients) > 0 {
		c := l.clients[len(l.clients)-1]
		c.closeNow(closeShutdown)
		l.removeClient(c) // in case the network did not call OnClose
	}
	for len(l.lingering) > 0 {
		c := l.lingering[len(l.lingering)-1]
		_ = l.nl.Close(c.nc)
		l.removeLinger(c) // in case the network did not call OnClose
	}
	l.finish()
}
