package engine

import (
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
	"github.com/gust-mqtt/gust/trie"
)

// Durability: the changes a loop makes to durable state during a round go
// into one persist.Batch, committed at the end of the round (finish)
// without waiting. An acknowledgement that promises durability (a PUBACK
// or PUBREC for a retained message) is held in its client's pending bytes,
// with everything written to that client after it, until the commit of
// its round completes: the committer's callback marks the commit done and
// wakes the loop through its inbox, and the loop releases the held bytes
// (or closes the client if the commit failed, so that nothing it was not
// told is durable is acknowledged). The event loop never waits on the
// disk.
//
// Stored: retained messages (set, clear, expiry); persistent sessions
// (expiry, will, when they went offline) with their subscriptions, whose
// CONNACK and SUBACK/UNSUBACK wait like a PUBACK; their inbound QoS 2
// packet ids (PUBREC and PUBCOMP wait); their queued and in-flight QoS 1/2
// messages (durqueue.go).

// durable is a loop's side of the store. Loop-only but for done, failed
// and the inbox flag.
type durable struct {
	st   persist.Store
	b    *persist.Batch // this round's changes; nil until the first
	next uint64         // sequence number of the batch being built
	done atomic.Uint64  // highest sequence number whose commit completed
	// failed are the sequence numbers whose commit failed and that a held
	// client may still name; guarded by mu.
	mu     sync.Mutex
	failed []uint64
	held   []*client // clients holding bytes for a commit
	free   chan *persist.Batch

	// Durable queues (durqueue.go): the message whose record this loop
	// may write, whether the round stored a delivery (the publisher's
	// acknowledgement waits), and scratch for records.
	mayStore *message
	routed   bool
	props    []byte
	group    []byte
	// The route's message while it has at most one delivery record
	// (pend), and that delivery's record, not written yet (first, with
	// firstSeq its Seq, 0 for none): written with the message inside it
	// if no second delivery comes before the route ends (endStore).
	pend       *message
	first      persist.Delivery
	firstSeq   uint64
	firstGroup []byte
	msg        persist.Message // scratch
}

// clientHold is the part of a client's pending bytes waiting for
// commits, as marks oldest first: the bytes from marks[i].off wait for
// commit marks[i].seq (and those of later marks for later commits too),
// so that a client whose every round adds acknowledgements still gets
// those of each commit as it completes. first is the earliest commit the
// hold has waited for since it began: a failed commit from first on
// closes the client.
type clientHold struct {
	marks []holdMark
	first uint64
}

// holdMark starts a stretch of held bytes.
type holdMark struct {
	off int
	seq uint64
}

// start is where the held bytes begin.
func (h *clientHold) start() int { return h.marks[0].off }

// sent shifts the marks once the first n bytes of pending are written.
func (h *clientHold) sent(n int) {
	for i := range h.marks {
		h.marks[i].off -= n
	}
}

// A loop keeps spareBatches emptied batches for its next rounds (commits
// complete a few rounds behind), but not one that held over
// maxSpareBatchBytes: one big round does not pin its memory.
const (
	spareBatches       = 32
	maxSpareBatchBytes = 1 << 20
)

func newDurable(st persist.Store) *durable {
	return &durable{st: st, next: 1, free: make(chan *persist.Batch, spareBatches)}
}

// batch returns the round's batch. Loop-only.
func (d *durable) batch() *persist.Batch {
	if d.b == nil {
		select {
		case d.b = <-d.free:
		default:
			d.b = new(persist.Batch)
		}
	}
	return d.b
}

// durBatch returns the round's batch, nil without a store. Loop-only.
func (l *loop) durBatch() *persist.Batch {
	if l.dur == nil {
		return nil
	}
	return l.dur.batch()
}

// storeFull reports whether the store refuses commits for lack of space.
// Safe from any goroutine.
func (b *Broker) storeFull() bool {
	f, ok := b.store.(interface{ Full() bool })
	return ok && f.Full()
}

// hold makes c's pending bytes from now on wait for the round's commit.
// Loop-only.
func (l *loop) hold(c *client) {
	l.holdFrom(c, len(c.pending))
}

// holdFrom makes c's pending bytes from off on wait for the round's
// commit: off is where an acknowledgement written earlier in the round
// starts, when what it promises turned out to need the store. Loop-only.
func (l *loop) holdFrom(c *client, off int) {
	d := l.dur
	x := c.x()
	if x.hold == nil {
		x.hold = &clientHold{first: d.next}
		d.held = append(d.held, c)
	}
	h := x.hold
	if n := len(h.marks); n > 0 && h.marks[n-1].seq == d.next {
		h.marks[n-1].off = min(h.marks[n-1].off, off) // this round's stretch
	} else {
		h.marks = append(h.marks, holdMark{off: off, seq: d.next})
	}
	d.batch() // a commit at the end of this round, even if empty
}

// commit hands the round's batch to the store. Loop-only (finish).
func (l *loop) commit() {
	d := l.dur
	b := d.b
	if b == nil {
		return
	}
	d.b = nil
	seq := d.next
	d.next++
	d.st.Commit(b, func(err error) { // on the store's goroutine
		if err != nil {
			d.mu.Lock()
			d.failed = append(d.failed, seq)
			d.mu.Unlock()
			l.b.log.Error("store commit failed: held acknowledgements are not sent, their clients are closed", "err", err)
		}
		if b.Size() <= maxSpareBatchBytes {
			b.Reset()
			select {
			case d.free <- b:
			default:
			}
		}
		d.done.Store(seq) // the store completes commits in order
		l.wakeDurable()
	})
}

// wakeDurable tells l that a commit completed. Safe from any goroutine.
func (l *loop) wakeDurable() {
	l.in.mu.Lock()
	l.in.committed = true
	wake := !l.in.rung
	l.in.rung = true
	l.in.mu.Unlock()
	if wake {
		l.nl.Wake()
	}
}

// releaseHeld sends the held bytes whose commits have completed, and
// closes the clients one of whose commits failed. Loop-only.
func (l *loop) releaseHeld() {
	d := l.dur
	done := d.done.Load()
	d.mu.Lock()
	failed := slices.Clone(d.failed)
	d.failed = slices.DeleteFunc(d.failed, func(s uint64) bool { return s <= done && !d.anyHolds(s) })
	d.mu.Unlock()
	keep := d.held[:0]
	for _, c := range d.held {
		h := c.heldFor()
		if h == nil || c.state == stateClosed {
			continue
		}
		n := 0 // marks whose commits completed
		for n < len(h.marks) && h.marks[n].seq <= done {
			n++
		}
		switch {
		case n == 0:
			keep = append(keep, c)
		case slices.ContainsFunc(failed, func(s uint64) bool { return s >= h.first && s <= h.marks[n-1].seq }):
			c.ext.hold = nil
			c.pending = c.pending[:h.start()] // never acknowledged
			c.closeNow(closeStoreFailed)
		case n == len(h.marks):
			c.ext.hold = nil
			l.markDirty(c)
		default:
			h.marks = h.marks[:copy(h.marks, h.marks[n:])]
			h.first = done + 1
			keep = append(keep, c)
			l.markDirty(c)
		}
	}
	clear(d.held[len(keep):])
	d.held = keep
}

// anyHolds reports whether a held client names commit s. Loop-only.
func (d *durable) anyHolds(s uint64) bool {
	for _, c := range d.held {
		if h := c.heldFor(); h != nil && s >= h.first && s <= h.marks[len(h.marks)-1].seq {
			return true
		}
	}
	return false
}

// heldFor returns c's hold, nil if none. Loop-only.
func (c *client) heldFor() *clientHold {
	if c.ext == nil {
		return nil
	}
	return c.ext.hold
}

// sessionConnected keeps the record of s in step with the CONNECT that
// has just taken it: a persistent session's record holds its expiry and
// its client's will; one that became clean (expiry 0) loses its record.
// It reports whether the store changed (the CONNACK then waits for it).
// Loop-only (s's owner).
func (l *loop) sessionConnected(s *session, c *client) bool {
	switch {
	case !s.clean():
		l.putSession(s, c.will, 0)
		s.mu.Lock()
		s.peer.Or(peerDurable)
		s.mu.Unlock()
		return true
	case s.durable():
		l.dur.batch().DeleteSession(s.clientID)
		unstoreAll(s, l.dur.batch()) // its queue stays, in memory only
		s.mu.Lock()
		s.peer.And(^uint32(peerDurable))
		s.mu.Unlock()
		return true
	}
	return l.dur.b != nil // a previous session of the id was deleted
}

// putSession writes the record of s with will (nil: none), offline since
// offlineAt (0: online). Loop-only.
func (l *loop) putSession(s *session, will *message, offlineAt int64) {
	rec := persist.Session{ClientID: s.clientID, Version: byte(s.peer.Load()), Expiry: s.expiry, OfflineAt: offlineAt}
	if will != nil {
		rec.Will = &persist.Will{Topic: will.topic, Payload: will.payload, QoS: will.qos, Retain: will.retain, Delay: will.delay}
		if will.hasProps {
			rec.Will.Props = codec.AppendProperties(nil, &will.props)
		}
	}
	l.dur.batch().PutSession(&rec)
}

// openStore opens the configured store and reads the retained messages
// back. Start calls it before the loops run.
func (b *Broker) openStore() error {
	st := b.cfg.Persist
	if st == nil {
		if b.cfg.Store != StoreDisk {
			return nil
		}
		sync, err := persist.ParseSync(b.cfg.Fsync)
		if err != nil {
			return err // Validate has checked it
		}
		d, err := persist.OpenDisk(b.cfg.DataDir, persist.DiskOptions{Sync: sync, MemTableSize: b.cfg.StoreMemTableBytes, Log: b.log})
		if err != nil {
			return err
		}
		st = d
	}
	start := time.Now()
	// Nearly all that recovery allocates stays live: collecting as often
	// as usual finds little garbage and costs a quarter of its time
	// (BenchmarkRecover).
	if gc := debug.SetGCPercent(-1); gc > 0 {
		debug.SetGCPercent(gc * recoverGCFactor)
		defer debug.SetGCPercent(gc)
	} else {
		debug.SetGCPercent(gc)
	}
	r := &recoverer{b: b, now: time.Now().UnixNano()}
	if err := st.Recover(r); err != nil {
		if b.cfg.Persist == nil {
			_ = st.Close()
		}
		return err
	}
	r.finishQueues()
	if r.expired.Len() > 0 {
		r.commitExpired(st)
	}
	b.store = st
	b.recoveredWills = r.wills
	b.log.Info("store recovered", "store", b.cfg.Store, "data_dir", b.cfg.DataDir, "fsync", b.cfg.Fsync,
		"retained", r.retained, "sessions", r.sessions, "subscriptions", r.subs, "wills", len(r.wills),
		"queued", r.queued, "messages", r.messages, "expired_dropped", r.dropped, "stray_deleted", r.stray,
		"took", time.Since(start).Round(time.Microsecond))
	return nil
}

// recoverGCFactor multiplies the garbage collector's GOGC while the
// store is read back.
const recoverGCFactor = 4

// publishRecoveredWills publishes, on the first loop, the wills of the
// sessions whose clients were connected when the broker stopped without
// closing them [MQTT-3.1.2-8]; a will with a delay waits for it as after
// any unclean close. Start calls it once the loops run.
func (b *Broker) publishRecoveredWills() {
	ws := b.recoveredWills
	b.recoveredWills = nil
	if len(ws) == 0 {
		return
	}
	l := b.loops[0]
	l.run("recovered wills", func() {
		now := b.now()
		for _, rw := range ws {
			if rw.at > now && rw.s != nil && !rw.s.gone() {
				if b.delayWill(rw.s, rw.w, rw.at) == "" {
					continue
				}
			}
			l.publishWill(rw.w)
			if rw.s != nil {
				l.willPublished(rw.s)
			}
		}
		l.finish()
	})
}

// storeLogEvery is the period of the store's log line.
const storeLogEvery = time.Minute

// storeRates turns the store's counters into the rates of its log line.
// Ticker goroutine only.
type storeRates struct {
	at             time.Time
	commits, syncs uint64
}

// log writes the store's size and its commit and sync rates since the
// last call (the first call only starts the count).
func (r *storeRates) log(b *Broker, now time.Time) {
	st := b.store.Stats()
	if secs := now.Sub(r.at).Seconds(); !r.at.IsZero() && secs > 0 {
		b.log.Info("store", "disk_bytes", st.DiskBytes,
			"commits_per_s", strconv.FormatFloat(float64(st.Commits-r.commits)/secs, 'f', 1, 64),
			"fsyncs_per_s", strconv.FormatFloat(float64(st.Syncs-r.syncs)/secs, 'f', 1, 64),
			"failures", st.Failures, "recovered_in", st.Recovered.Round(time.Millisecond))
	}
	r.at, r.commits, r.syncs = now, st.Commits, st.Syncs
}

// closeStore closes the store the broker opened. Shutdown calls it once
// the loops have stopped.
func (b *Broker) closeStore() {
	if b.store != nil && b.cfg.Persist == nil {
		if err := b.store.Close(); err != nil {
			b.log.Error("store close", "err", err)
		}
	}
}

// recoverer rebuilds the broker's state from the store's records.
type recoverer struct {
	b                                 *Broker
	now                               int64
	retained, dropped, sessions, subs int
	expired                           persist.Batch // records to delete or rewrite
	cur                               *session      // the session whose records come now
	wills                             []recoveredWill
	// Durable queues: the stored messages by id until their deliveries
	// are read, the shared deliveries to link to their groups, the
	// highest ids met, and counts for the log.
	msgs                    map[uint64]*message
	groups                  []recoveredGroup
	maxMsg, maxDel          uint64
	messages, queued, stray int
	// queue and inflight gather the deliveries of cur, which take slices
	// of their exact size once its records are read (endSession).
	queue, inflight []outMsg
}

// recoveredWill is the will of a session whose client was connected when
// the broker stopped.
type recoveredWill struct {
	s  *session // nil if the session has ended
	w  *message
	at int64 // when it is due (unix nanoseconds)
}

func (r *recoverer) Retained(rt *persist.Retained) error {
	if rt.ExpireAt != 0 && r.now > rt.ExpireAt {
		r.dropped++
		r.expired.DeleteRetained(rt.Topic)
		return nil
	}
	var props *codec.Properties
	if len(rt.Props) > 0 {
		props = new(codec.Properties)
		if err := codec.DecodeProperties(rt.Props, codec.TypePublish, false, props); err != nil {
			return fmt.Errorf("retained message %q: properties: %w", rt.Topic, err)
		}
	}
	m := newMessageProps(rt.Topic, rt.Payload, rt.QoS, true, props, r.now)
	m.expireAt = rt.ExpireAt
	if m.expireAt != 0 {
		r.b.limits.retainedExpiring.Store(true)
	}
	old, replaced := r.b.retained.Swap(string(m.topic), m)
	r.b.limits.retainedBytes.Add(int64(m.size()) - oldSize(old, replaced))
	r.retained++
	return nil
}

// Session makes rs an offline session, or drops it if it has expired.
// The will of a session that was online goes out once the loops run.
func (r *recoverer) Session(rs *persist.Session) error {
	b := r.b
	r.endSession()
	offAt := rs.OfflineAt
	if offAt == 0 {
		offAt = r.now // its client was connected: offline from now
	}
	d := b.sessionLifetime(rs.Expiry)
	if rs.Will != nil {
		// The will of a client the stop disconnected, or one that was
		// waiting for its delay when the broker stopped: due after its
		// delay from when the client went, or when its session ends
		// [MQTT-3.1.3-9].
		w, err := recoveredWillMessage(rs, r.now)
		if err != nil {
			return err
		}
		wait := int64(w.delay) * 1e9
		if d > 0 {
			wait = min(wait, int64(d))
		}
		r.wills = append(r.wills, recoveredWill{w: w, at: offAt + wait})
	}
	if rs.Expiry == 0 || d > 0 && r.now > offAt+int64(d) {
		r.dropped++
		r.expired.DeleteSession(rs.ClientID)
		return nil
	}
	s := &session{clientID: rs.ClientID, expiry: rs.Expiry}
	s.peer.Store(uint32(rs.Version) | peerDurable)
	s.useExt()
	if d > 0 {
		s.expiresAt = offAt + int64(d)
		b.anyExpiry.Store(true)
	}
	st := &b.sessions
	st.mu.Lock()
	st.put(s)
	st.pushOffline(s, offAt)
	st.mu.Unlock()
	if n := len(r.wills); n > 0 && rs.Will != nil {
		r.wills[n-1].s = s
	}
	if rs.OfflineAt == 0 {
		r.expired.PutSession(&persist.Session{ClientID: rs.ClientID, Version: rs.Version, Expiry: rs.Expiry, OfflineAt: offAt, Will: rs.Will})
	}
	r.cur = s
	r.sessions++
	return nil
}

// recoveredWillMessage builds the will message of rs.
func recoveredWillMessage(rs *persist.Session, now int64) (*message, error) {
	var props *codec.Properties
	if len(rs.Will.Props) > 0 {
		props = new(codec.Properties)
		if err := codec.DecodeProperties(rs.Will.Props, codec.TypeConnect, true, props); err != nil {
			return nil, fmt.Errorf("will of %q: properties: %w", rs.ClientID, err)
		}
	}
	w := newMessageProps(rs.Will.Topic, rs.Will.Payload, rs.Will.QoS, rs.Will.Retain, props, now)
	w.delay = rs.Will.Delay
	return w, nil
}

// Subscription adds rs to the session read just before it (the records
// of a session follow its own).
func (r *recoverer) Subscription(rs *persist.Subscription) error {
	s := r.cur
	if s == nil || s.clientID != rs.ClientID {
		return nil // its session expired: deleted with it
	}
	b := r.b
	full := string(rs.Filter)
	group, filter, _, err := trie.ParseShared(full)
	if err != nil {
		return fmt.Errorf("subscription %q of %q: %w", rs.Filter, rs.ClientID, err)
	}
	st := s.subscriber()
	if st.id == 0 {
		id, ok := b.table.add(s)
		if !ok {
			return fmt.Errorf("subscription %q of %q: every subscriber id is in use", rs.Filter, rs.ClientID)
		}
		st.id = id
	}
	sub := trie.Subscription{Subscriber: st.id, Filter: filter, Group: group, QoS: rs.QoS,
		NoLocal: rs.NoLocal, RetainAsPublished: rs.RetainAsPublished, RetainHandling: rs.RetainHandling, Identifier: rs.ID}
	if _, err := b.subscribeTrie(sub); err != nil {
		return fmt.Errorf("subscription %q of %q: %w", rs.Filter, rs.ClientID, err)
	}
	if !st.subs.put(subEntry{full: full, sub: sub}) {
		b.subCount.Add(1)
	}
	r.subs++
	return nil
}

// Message keeps a stored message until the deliveries naming it are
// read (its records come before every session's).
func (r *recoverer) Message(pm *persist.Message) error {
	r.maxMsg = max(r.maxMsg, pm.ID)
	m, err := recoveredMessage(pm, r.now)
	if err != nil {
		return err
	}
	m.stored = storedSeparate
	if r.msgs == nil {
		r.msgs = make(map[uint64]*message)
	}
	r.msgs[pm.ID] = m
	return nil
}

// recoveredMessage builds the message of a stored record.
func recoveredMessage(pm *persist.Message, now int64) (*message, error) {
	var props *codec.Properties
	if len(pm.Props) > 0 {
		props = new(codec.Properties)
		if err := codec.DecodeProperties(pm.Props, codec.TypePublish, false, props); err != nil {
			return nil, fmt.Errorf("stored message %d: properties: %w", pm.ID, err)
		}
	}
	m := newMessageProps(pm.Topic, pm.Payload, pm.QoS, false, props, now)
	m.expireAt = pm.ExpireAt
	m.did = pm.ID
	return m, nil
}

// Delivery puts a message owed to the session read before it back in its
// queue, or in flight with its packet id; sent again, it will carry DUP
// (resend). A delivery whose session or message is gone, or whose message
// has expired, is deleted.
func (r *recoverer) Delivery(pd *persist.Delivery) error {
	r.maxDel = max(r.maxDel, pd.Seq)
	s := r.cur
	var m *message
	switch {
	case pd.Message != nil:
		r.maxMsg = max(r.maxMsg, pd.Message.ID)
		var err error
		if m, err = recoveredMessage(pd.Message, r.now); err != nil {
			return err
		}
		m.stored = storedInline
	case pd.State != persist.Released:
		m = r.msgs[pd.MessageID]
	}
	switch {
	case s == nil || s.clientID != pd.ClientID, pd.State != persist.Released && m == nil:
		r.expired.DeleteDelivery(pd.ClientID, pd.Seq)
		r.stray++
		return nil
	case m != nil && m.expired(r.now):
		r.expired.DeleteDelivery(pd.ClientID, pd.Seq)
		r.dropped++
		return nil
	}
	om := outMsg{m: m, qos: pd.QoS, pid: pd.PacketID, retain: pd.Retain, dseq: pd.Seq}
	if len(pd.SubIDs) > 0 {
		om.subIDs = slices.Clone(pd.SubIDs)
	}
	if m != nil {
		m.drefs.Add(1)
		n := heldSize(m)
		s.held += n
		r.b.limits.queuedBytes.Add(n)
	}
	var list *[]outMsg
	switch {
	case pd.QoS == 1:
		// Its record does not say whether it was sent (sentDelivery):
		// queued again, sent with DUP [MQTT-3.3.1-1].
		om.pid, om.dup = 0, true
		list = &r.queue
	case pd.State == persist.Queued:
		om.pid = 0
		list = &r.queue
	case pd.State == persist.Released:
		om.state = outReleased
		list = &r.inflight
	default:
		om.state = outPublished
		list = &r.inflight
	}
	if om.pid != 0 {
		s.nextPID = max(s.nextPID, om.pid)
	}
	*list = append(*list, om)
	if len(pd.Group) > 0 && m != nil {
		r.groups = append(r.groups, recoveredGroup{s: s, seq: pd.Seq, full: string(pd.Group)})
	}
	r.queued++
	return nil
}

// endSession gives the session whose records were being read its
// recovered deliveries.
func (r *recoverer) endSession() {
	if s := r.cur; s != nil {
		if len(r.queue) > 0 {
			s.queue = append(s.queue, r.queue...)
		}
		if len(r.inflight) > 0 {
			s.inflight = append(s.inflight, r.inflight...)
		}
	}
	clear(r.queue)
	clear(r.inflight)
	r.queue, r.inflight = r.queue[:0], r.inflight[:0]
	r.cur = nil
}

// recoveredGroup is a recovered delivery that came through a shared
// subscription, whose group is found once every subscription is back.
type recoveredGroup struct {
	s    *session
	seq  uint64
	full string // $share/{group}/{filter}
}

// finishQueues links the recovered shared deliveries to their groups,
// deletes the stored messages no delivery names, and sets the counters of
// new records past the stored ones.
func (r *recoverer) finishQueues() {
	r.endSession()
	var res trie.Result
	for _, rg := range r.groups {
		name, filter, _, err := trie.ParseShared(rg.full)
		if err != nil {
			continue
		}
		for _, list := range [2][]outMsg{rg.s.inflight, rg.s.queue} {
			for i := range list {
				om := &list[i]
				if om.dseq != rg.seq {
					continue
				}
				res.Reset()
				r.b.trie.Match(om.m.topic, &res)
				for _, g := range res.Groups {
					if g.Name == name && g.Filter == filter {
						om.group = g
					}
				}
			}
		}
	}
	for id, m := range r.msgs {
		if m.drefs.Load() == 0 {
			r.expired.DeleteMessage(id)
		} else {
			r.messages++
		}
	}
	r.msgs = nil
	r.b.msgSeq.Store(r.maxMsg)
	r.b.delSeq.Store(r.maxDel)
}

// InQoS2 restores an inbound QoS 2 id awaiting its PUBREL.
func (r *recoverer) InQoS2(clientID string, pid uint16) error {
	if s := r.cur; s != nil && s.clientID == clientID && !s.hasInQoS2(pid) {
		s.useExt()
		s.inQoS2 = append(s.inQoS2, pid)
	}
	return nil
}

// commitExpired deletes the expired records met during recovery.
func (r *recoverer) commitExpired(st persist.Store) {
	done := make(chan error, 1)
	st.Commit(&r.expired, func(err error) { done <- err })
	if err := <-done; err != nil {
		r.b.log.Warn("store: expired records not deleted", "err", err)
	}
}

// retainedRecord fills rt from m for the store.
func retainedRecord(rt *persist.Retained, m *message, scratch []byte) []byte {
	*rt = persist.Retained{Topic: m.topic, Payload: m.payload, QoS: m.qos, ExpireAt: m.expireAt}
	if m.hasProps {
		scratch = codec.AppendProperties(scratch[:0], &m.props)
		rt.Props = scratch
	}
	return scratch
}
