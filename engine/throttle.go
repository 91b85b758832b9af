package engine

import (
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/engine/network"
)

// Publisher throttle. A QoS 1/2 publisher whose message lands in a
// congested online session stops being read: its bytes wait in its input
// buffer and the kernel's, and since it cannot get more PUBACKs than its
// own window, it slows down to the subscriber's pace instead of the broker
// queueing (and delaying) without bound or dropping messages it has
// acknowledged.
//
// Congestion is absolute, tied to the session's delivery rate and
// in-flight window, not to MaxQueuedMessages (which may be huge): a session
// is congested when its queue, or the QoS 1/2 deliveries handed over to its
// owner loop and not yet applied, reach its bound. The bound is what the
// session delivers in throttleLag at the rate measured over the last
// coarse tick, at least throttleWindows windows (and throttleMinQueue),
// at most half of MaxQueuedMessages so the queue keeps room for what is
// already on its way. So a fast subscriber (fan-in: one taking 300k msg/s)
// keeps about throttleLag of backlog, enough not to run dry while its
// publishers are resumed, and a slower one (fifty pairs at 10k msg/s each)
// about one window. It stays congested until the queue drains to a quarter
// of the bound.
//
// The throttle lasts as long as the subscriber makes progress: a session
// throttles only while it is congested and its queue moved into the window
// (acknowledgements arrived, or outbound bytes left) within throttleMax,
// on a fine clock. A subscriber that stopped reading before its queue grew
// (stuck) never throttles anyone: its excess is queued up to
// MaxQueuedMessages and dropped (and counted) past it. One that gets stuck
// while throttling holds its publishers for throttleMax at most, plus one
// tick of the broker's ticker, which resumes throttled publishers every
// 100 ms (they throttle again at once if their session still throttles).
// A throttled publisher is also resumed when a congested session drains or
// when its buffered input passes throttleMaxBuffered. (An owner loop that
// lags on hand-overs throttles the publisher of the message that found it
// so, progress or not: that is the loop's lag, not the subscriber's.)
const (
	throttleMax         = 500 * time.Millisecond
	throttleMaxBuffered = 1 << 20
	// throttleLag is the delivery time a session's backlog may hold.
	throttleLag = 5 * time.Millisecond
	// throttleWindows is the least bound in in-flight windows: however
	// slow a subscriber is, it has a window queued behind the window in
	// flight before its publishers wait. A deeper bound only adds queueing
	// delay: it lengthens the tail latency without raising the rate.
	throttleWindows = 1
	// throttleMinQueue is the least bound, for tiny windows.
	throttleMinQueue = 64
)

// QoS 0 backpressure (Config.QoS0Backpressure). A QoS 0 message is never
// queued: a subscriber whose unsent bytes pass MaxOutboundBytes loses it.
// A publisher whose QoS 0 message found every online subscriber it went to
// congested (its unsent bytes past half of MaxOutboundBytes, or its loop's
// hand-over room spent) is held as a QoS 1/2 one is, and its connection is
// no longer watched for input (network.Loop PauseRead), so that what it
// sends waits in the kernel and TCP slows it down, instead of the broker
// reading messages only to drop them. It is read again after qos0Pause
// (one message, which holds it again while the subscribers stay
// congested). A message with one uncongested subscriber (fan-out to one
// slow subscriber among healthy ones), or with none online, never holds
// its publisher. A subscriber's congestion as other loops see it
// (subThrottle.busy0) is what its last write left in its outbound buffer,
// refreshed by every write, so it is at most one message stale.
const qos0Pause = time.Millisecond

// throttle is a loop's side of the publisher throttle: the publishers it
// stopped reading and when it reads them again. It is the field thr of
// loop and, but for has, touched only on the loop's goroutine. The rest of
// the engine calls only its hooks:
//
//   - enterRead and leaveRead around decoding a client's packets;
//   - afterRoute once a client's PUBLISH is routed, with whether the
//     message met congestion, as route reports it: a session that
//     throttles (session.throttles), or one a hand-over congested
//     (handedIn);
//   - handedIn when a QoS 1/2 delivery is handed over to another loop
//     (its session's owner, or where earlier ones went: inTransit),
//     applied once that loop has delivered or queued it;
//   - queued when the owner loop queues a QoS 1/2 message for a session;
//   - pumped when a session's queue moved into its window;
//   - detach when a session goes offline;
//   - overflow when a held client buffered too much to be left unread;
//   - askResume, tick and endRound for the rounds that read held
//     clients again.
//
// Invariants:
//   - a client whose thr.held() is set is in list (or, during a resume round,
//     in served); list may also hold clients no longer held (read again
//     through overflow, or closed), which a round skips, and a client held
//     again after an overflow twice;
//   - has is set while list is not empty: other loops read it to ask this
//     one to resume its publishers;
//   - reading is positive while a client's packets are decoded (the decode
//     scratch is in use) or a resume round runs, and no round starts then:
//     a resume asked meanwhile is pending until endRound finds reading 0.
type throttle struct {
	l       *loop
	list    []*client // held clients, in the order they are read again
	spare   []*client // list's previous array, reused by the next round
	served  []*client // scratch of resume
	has     atomic.Bool
	pending bool // a resume round is due at the end of the round
	reading int  // > 0 while a client's packets are decoded, or held clients resumed
	// The QoS 0 resume timer: armed (loop-only) while it runs; due set by
	// it, read by wake on the loop.
	timer *time.Timer
	armed bool
	due   atomic.Bool
}

// clientThrottle is a client's part of the throttle. Loop-only.
// One byte, so that client keeps its size class (TestIdleConnSizeClasses).
type clientThrottle uint8

const (
	thrHeld   clientThrottle = 1 << iota // not read until resumed
	thrPaused                            // its input is not watched (network.Loop PauseRead)
)

// held reports whether the client is not read until resumed.
func (t clientThrottle) held() bool { return t&thrHeld != 0 }

// paused reports whether the client's input is not watched.
func (t clientThrottle) paused() bool { return t&thrPaused != 0 }

// set sets or clears f.
func (t *clientThrottle) set(f clientThrottle, on bool) {
	if on {
		*t |= f
	} else {
		*t &^= f
	}
}

// subThrottle is a subscriber session's part of the throttle, in its
// subState: its congestion and the progress that makes it throttle. Safe
// from any goroutine.
type subThrottle struct {
	congested atomic.Int64 // coarse clock when congestion began; 0 if not
	progress  atomic.Int64 // fineNow of the last queue move while congested
	// transit counts the QoS 1/2 deliveries handed over to another
	// loop and not yet applied (low 32 bits), and names the loop the
	// first of them went to (high 32 bits: its index + 1), which stays
	// the way in while the count is above 0 (loop.inTransit).
	transit atomic.Uint64
	bound   atomic.Int32 // congestion bound from the delivery rate; 0 until measured
	busy0   atomic.Bool  // its client's outbound is past half of MaxOutboundBytes (QoS 0)
}

// deliveryRate is a session's delivery rate measure, in its sessionExt,
// from which its congestion bound is set. Owner loop only.
type deliveryRate struct {
	at int64 // coarse clock of the measure's start
	n  int64 // messages moved into the window since at
}

// baseCongestAt is the least congestion bound of any session. It reads
// only the configuration: safe from any goroutine.
func (b *Broker) baseCongestAt() int {
	return min(max(throttleWindows*b.cfg.MaxInflight, throttleMinQueue), b.cfg.MaxQueuedMessages/2)
}

// congestAt is the queue length at which s counts as congested. Safe from
// any goroutine.
func (s *session) congestAt(b *Broker) int {
	if st := s.sub.Load(); st != nil {
		if n := st.thr.bound.Load(); n > 0 {
			return int(n)
		}
	}
	return b.baseCongestAt()
}

// congestedSince returns when s's congestion began (coarse clock), 0 if it
// is not congested. Safe from any goroutine.
func (s *session) congestedSince() int64 {
	if st := s.sub.Load(); st != nil {
		return st.thr.congested.Load()
	}
	return 0
}

// throttles reports whether a delivery to s should throttle its publisher:
// s is congested and made progress within throttleMax. Safe from any
// goroutine.
func (s *session) throttles() bool {
	st := s.sub.Load()
	if st == nil || st.thr.congested.Load() == 0 {
		return false
	}
	p := st.thr.progress.Load()
	return p != 0 && fineNow()-p < int64(throttleMax)
}

// throttled reports whether c is held: not read until resumed. Loop-only.
func (c *client) throttled() bool {
	return c.thr.held()
}

// enterRead marks the start of decoding a client's packets: the decode
// scratch is in use, so no resume round starts until leaveRead.
func (t *throttle) enterRead() {
	t.reading++
}

// leaveRead ends what enterRead started.
func (t *throttle) leaveRead() {
	t.reading--
}

// afterRoute holds c, whose message at qos has just been routed, when that
// message met congestion: at QoS 1/2 a congested session (c's own window of
// PUBACKs bounds it), at QoS 0 every subscriber congested (route).
func (t *throttle) afterRoute(c *client, qos byte, congested bool) {
	if !congested {
		return
	}
	t.hold(c)
	if qos == 0 {
		t.pause(c)
	}
}

// pause stops watching held c's input, and arms the timer that reads it
// again after qos0Pause.
func (t *throttle) pause(c *client) {
	if !c.thr.paused() && t.l.nl.PauseRead(c.nc, true) {
		c.thr.set(thrPaused, true)
	}
	if t.armed {
		return
	}
	t.armed = true
	if t.timer == nil {
		t.timer = time.AfterFunc(qos0Pause, t.fire)
		return
	}
	t.timer.Reset(qos0Pause)
}

// fire is the QoS 0 resume timer's: it asks the loop for a resume round.
// On the timer's goroutine.
func (t *throttle) fire() {
	t.due.Store(true)
	t.l.nl.Wake()
}

// wake starts the resume round the timer asked for, at the end of the
// loop's round. Loop-only, when the loop is woken.
func (t *throttle) wake() {
	if t.due.Load() && t.due.CompareAndSwap(true, false) {
		t.armed = false
		t.pending = true
	}
}

// unpause watches c's input again. Loop-only.
func (t *throttle) unpause(c *client) {
	if c.thr.paused() {
		c.thr.set(thrPaused, false)
		t.l.nl.PauseRead(c.nc, false)
	}
}

// noteBusy records whether c's session, a subscriber, has over half of
// MaxOutboundBytes unsent (ob bytes in its outbound buffer), for the
// producers on other loops (subThrottle.busy0). Loop-only.
func (c *client) noteBusy(ob int) {
	if c.sess == nil {
		return
	}
	st := c.sess.sub.Load()
	if st == nil {
		return
	}
	if busy := ob > c.l.b.cfg.MaxOutboundBytes/2; st.thr.busy0.Load() != busy {
		st.thr.busy0.Store(busy)
	}
}

// lags0 reports whether the loop has over half of MaxOutboundBytes handed
// over to it and not yet applied: a subscriber it owns is congested for
// QoS 0 backpressure even when its outbound buffer is not, since what
// waits there reaches its client in one drain. Safe from any goroutine.
func (l *loop) lags0() bool {
	return l.in.bytes.Load() > int64(l.b.cfg.MaxOutboundBytes/2)
}

// busy0 reports whether s's client had over half of MaxOutboundBytes
// unsent at its last write. Safe from any goroutine.
func (s *session) busy0() bool {
	st := s.sub.Load()
	return st != nil && st.thr.busy0.Load()
}

// hold stops reading c until a resume round.
func (t *throttle) hold(c *client) {
	if c.thr.held() {
		return
	}
	c.thr.set(thrHeld, true)
	c.l.tot.throttled++
	t.list = append(t.list, c)
	t.has.Store(true)
}

// overflow reads held c again before its round: its buffered input passed
// throttleMaxBuffered, and it is read (and dropped) rather than buffer more.
func (t *throttle) overflow(c *client) {
	c.thr.set(thrHeld, false)
	t.unpause(c)
}

// handedIn counts a QoS 1/2 delivery for s handed over to loop to, and
// reports whether it congests s: when the owner lags the congestion bound
// behind, s counts as congested, the queue cannot tell yet. On the
// producer's loop.
func (t *throttle) handedIn(s *session, to *loop) bool {
	st := s.subscriber()
	var n uint32
	for {
		w := st.thr.transit.Load()
		n = uint32(w) + 1
		via := w >> 32
		if n == 1 {
			via = uint64(to.idx) + 1
		}
		if st.thr.transit.CompareAndSwap(w, via<<32|uint64(n)) {
			break
		}
	}
	if int64(n) > int64(s.congestAt(t.l.b)) && st.thr.congested.Load() == 0 {
		st.thr.congested.CompareAndSwap(0, t.l.b.now())
		return true
	}
	return false
}

// applied counts a QoS 1/2 delivery handed in by handedIn as applied,
// once it is delivered or queued. On the loop it was handed to.
func (t *throttle) applied(s *session) {
	s.subscriber().thr.transit.Add(^uint64(0)) // the count is at least 1
}

// inTransit returns the loop that QoS 1/2 deliveries to s are still on
// their way to, when it is neither l nor s's owner: s's client went
// offline or moved since they were handed over. A later delivery from l
// follows them there (that loop passes it on in turn), so it cannot
// overtake one from the same publisher [MQTT-4.6.0-6]. nil otherwise.
// Safe from any loop.
func (l *loop) inTransit(s *session) *loop {
	st := s.sub.Load()
	if st == nil {
		return nil
	}
	w := st.thr.transit.Load()
	if uint32(w) == 0 {
		return nil
	}
	v := l.b.loops[w>>32-1]
	if v == l || v == s.owner.Load() {
		return nil
	}
	return v
}

// queued records that s's queue reached the congestion bound, or that s
// holds half of MaxQueuedBytes with a queue: a subscriber of large
// messages throttles its publishers before its queue's bytes make it drop
// their messages. Owner loop only, after it queued a QoS 1/2 message for s.
func (t *throttle) queued(s *session) {
	if s.congestedSince() != 0 {
		return
	}
	b := t.l.b
	if s.queued() >= s.congestAt(b) || s.queued() > 0 && s.held >= int64(b.cfg.MaxQueuedBytes/2) {
		s.subscriber().thr.congested.Store(b.now())
	}
}

// pumped ends a pump of s that moved n messages into the window: progress
// of a congested session keeps it throttling for another throttleMax, and
// a queue drained to a quarter of the bound ends the congestion. Owner loop
// only.
func (t *throttle) pumped(s *session, n int) {
	t.measure(s, n)
	st := s.sub.Load()
	if st == nil || st.thr.congested.Load() == 0 {
		return
	}
	if n > 0 {
		st.thr.progress.Store(fineNow())
	}
	t.clearCongested(s, false)
}

// detach ends s's congestion as s goes offline: offline queues never
// throttle. Owner loop only.
func (t *throttle) detach(s *session) {
	t.clearCongested(s, true)
	if st := s.sub.Load(); st != nil {
		st.thr.busy0.Store(false)
	}
}

// measure adds n messages moved into s's window to the rate measure and,
// once per coarse tick, sets s's bound from the rate. Owner loop only.
func (t *throttle) measure(s *session, n int) {
	if s.sessionExt == nil {
		return // nothing was ever queued: no rate
	}
	r := &s.rate
	r.n += int64(n)
	b := t.l.b
	now := b.now()
	if now == r.at {
		return
	}
	if el := now - r.at; r.at != 0 && el > 0 {
		want := r.n * int64(throttleLag) / el
		s.subscriber().thr.bound.Store(int32(min(max(want, int64(b.baseCongestAt())), int64(b.cfg.MaxQueuedMessages/2), 1<<30)))
	}
	r.at, r.n = now, 0
}

// fineEpoch is the origin of fineNow.
var fineEpoch = time.Now()

// fineNow is a monotonic clock in nanoseconds, never 0. The coarse clock
// (100 ms) is too coarse to tell a slow subscriber from a stuck one.
func fineNow() int64 {
	return int64(time.Since(fineEpoch)) + 1
}

// clearCongested ends s's congestion once its queue is under 1/4 of the
// bound, and it holds under 1/4 of MaxQueuedBytes or has an empty queue
// (always when force), and asks every loop to resume its throttled
// publishers. Owner loop only.
func (t *throttle) clearCongested(s *session, force bool) {
	st := s.sub.Load()
	if st == nil || st.thr.congested.Load() == 0 {
		return
	}
	l := t.l
	if !force && (s.queued() > s.congestAt(l.b)/4 || s.queued() > 0 && s.held > int64(l.b.cfg.MaxQueuedBytes/4)) {
		return
	}
	st.thr.congested.Store(0)
	for _, o := range l.b.loopSnapshot() {
		if !o.thr.has.Load() {
			continue
		}
		if o == l {
			t.pending = true
			continue
		}
		bt := l.outFor(o)
		bt.items = append(bt.items, item{kind: itemResumeThrottled})
	}
}

// resumeThrottledLoops asks every loop with throttled publishers to read
// them again, so a session that stopped throttling (its subscriber stuck)
// holds them at most one tick more. Runs on the ticker goroutine.
func (b *Broker) resumeThrottledLoops() {
	for _, l := range b.loopSnapshot() {
		if l.thr.has.Load() {
			l.run("throttle resume", func() {
				l.thr.askResume()
				l.finish() // resumes unless a client is being read
			})
		}
	}
}

// askResume asks for a resume round at the end of the loop's round.
func (t *throttle) askResume() {
	t.pending = true
}

// tick bounds the throttle to one housekeeping period: held clients are
// read again at the end of the housekeeping round.
func (t *throttle) tick() {
	if len(t.list) > 0 {
		t.pending = true
	}
}

// endRound runs the pending resume round, unless a client is being read;
// called at the end of every round (loop.finish).
func (t *throttle) endRound() {
	if t.pending && t.reading == 0 {
		t.resume() // ends with finish
	}
}

// resume reads the buffered input of every held client of the loop again.
// Outside of any client's read.
//
// The round is fair: a congested session usually has room for a few
// publishers' windows, so the first clients read fill it and every later
// one throttles again after a single message. Those go first in the next
// round, ahead of the ones that were served, so the list turns round robin
// instead of the same head being served every round and the tail's
// messages waiting many rounds (fan-in at QoS 1: 50 publishers, one
// subscriber).
func (t *throttle) resume() {
	t.pending = false
	if len(t.list) == 0 {
		return
	}
	l := t.l
	list := t.list
	t.list = t.spare[:0]
	t.has.Store(false)
	served := t.served[:0]
	// No nested round: closing a client (closeNow, OnClose) finishes the
	// loop, and a congestion its session ends sets pending; a round
	// started there would take t.list, which shares its array with
	// t.spare, and served. The final finish starts it instead.
	t.reading++
	for i, c := range list {
		list[i] = nil
		if c.state != stateConnected {
			continue
		}
		t.unpause(c)
		if !c.thr.held() {
			continue
		}
		c.thr.set(thrHeld, false)
		seq := l.seq
		if c.onTraffic() == network.Close {
			c.closeNow(closeProtocol)
			continue
		}
		// Held again: c is the last entry (only c was read).
		if n := len(t.list); n > 0 && t.list[n-1] == c && l.seq-seq > 1 {
			t.list = t.list[:n-1]
			served = append(served, c)
		}
	}
	t.reading--
	t.list = append(t.list, served...)
	clear(served)
	t.served = served[:0]
	t.spare = list[:0]
	l.finish()
}
