package engine

import (
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

// baseCongestAt is the least congestion bound of any session. It reads
// only the configuration: safe from any goroutine.
func (b *Broker) baseCongestAt() int {
	return min(max(throttleWindows*b.cfg.MaxInflight, throttleMinQueue), b.cfg.MaxQueuedMessages/2)
}

// congestAt is the queue length at which s counts as congested. Safe from
// any goroutine.
func (s *session) congestAt(b *Broker) int {
	if st := s.sub.Load(); st != nil {
		if n := st.bound.Load(); n > 0 {
			return int(n)
		}
	}
	return b.baseCongestAt()
}

// measure adds n messages moved into s's window to the rate measure and,
// once per coarse tick, sets s's bound from the rate. Owner loop only.
func (s *session) measure(l *loop, n int) {
	if s.sessionExt == nil {
		return // nothing was ever queued: no rate
	}
	s.rateN += int64(n)
	now := l.b.now()
	if now == s.rateAt {
		return
	}
	if el := now - s.rateAt; s.rateAt != 0 && el > 0 {
		want := s.rateN * int64(throttleLag) / el
		s.subscriber().bound.Store(int32(min(max(want, int64(l.b.baseCongestAt())), int64(l.b.cfg.MaxQueuedMessages/2), 1<<30)))
	}
	s.rateAt, s.rateN = now, 0
}

// markCongested records that s's queue reached the congestion bound, or
// that s holds half of MaxQueuedBytes with a queue: a subscriber of large
// messages throttles its publishers before its queue's bytes make it drop
// their messages. Owner loop only.
func (s *session) markCongested(l *loop) {
	if s.congestedSince() != 0 {
		return
	}
	if s.queued() >= s.congestAt(l.b) || s.queued() > 0 && s.held >= int64(l.b.cfg.MaxQueuedBytes/2) {
		s.subscriber().congested.Store(l.b.now())
	}
}

// noteHandedIn counts a QoS 1/2 delivery handed to s's owner loop. When the
// owner lags the congestion bound behind, s counts as congested: the queue
// cannot tell yet. Loop-only (the producer's loop).
func (s *session) noteHandedIn(l *loop) {
	st := s.subscriber()
	if st.handedIn.Add(1) > int32(s.congestAt(l.b)) && st.congested.Load() == 0 {
		st.congested.CompareAndSwap(0, l.b.now())
		l.congested = true
	}
}

// appliedHandedIn counts a QoS 1/2 delivery handed in by noteHandedIn as
// applied. Owner loop only.
func (s *session) appliedHandedIn() {
	s.subscriber().handedIn.Add(-1)
}

// pumped ends a pump of s that moved n messages into the window: progress
// of a congested session keeps it throttling for another throttleMax, and
// a queue drained to a quarter of the bound ends the congestion. Owner loop
// only.
func (s *session) pumped(l *loop, n int) {
	s.measure(l, n)
	st := s.sub.Load()
	if st == nil || st.congested.Load() == 0 {
		return
	}
	if n > 0 {
		st.progress.Store(fineNow())
	}
	s.clearCongested(l, false)
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
func (s *session) clearCongested(l *loop, force bool) {
	st := s.sub.Load()
	if st == nil || st.congested.Load() == 0 {
		return
	}
	if !force && (s.queued() > s.congestAt(l.b)/4 || s.queued() > 0 && s.held > int64(l.b.cfg.MaxQueuedBytes/4)) {
		return
	}
	st.congested.Store(0)
	for _, t := range l.b.loopSnapshot() {
		if !t.hasThrottled.Load() {
			continue
		}
		if t == l {
			l.resumePending = true
			continue
		}
		bt := l.outFor(t)
		bt.items = append(bt.items, item{kind: itemResumeThrottled})
	}
}

// throttles reports whether a delivery to s should throttle its publisher:
// s is congested and made progress within throttleMax. Safe from any
// goroutine.
func (s *session) throttles() bool {
	st := s.sub.Load()
	if st == nil || st.congested.Load() == 0 {
		return false
	}
	p := st.progress.Load()
	return p != 0 && fineNow()-p < int64(throttleMax)
}

// resumeThrottledLoops asks every loop with throttled publishers to read
// them again, so a session that stopped throttling (its subscriber stuck)
// holds them at most one tick more. Runs on the ticker goroutine.
func (b *Broker) resumeThrottledLoops() {
	for _, l := range b.loopSnapshot() {
		if l.hasThrottled.Load() {
			l.run("throttle resume", func() {
				l.resumePending = true
				l.finish() // resumes unless a client is being read
			})
		}
	}
}

// throttle stops reading c until resumeThrottled. Loop-only.
func (c *client) throttle() {
	if c.throttled {
		return
	}
	c.throttled = true
	c.l.throttled = append(c.l.throttled, c)
	c.l.hasThrottled.Store(true)
}

// resumeThrottled reads the buffered input of every throttled client of
// the loop again. Loop-only, outside of any client's onTraffic.
//
// The round is fair: a congested session usually has room for a few
// publishers' windows, so the first clients read fill it and every later
// one throttles again after a single message. Those go first in the next
// round, ahead of the ones that were served, so the list turns round robin
// instead of the same head being served every round and the tail's
// messages waiting many rounds (fan-in at QoS 1: 50 publishers, one
// subscriber).
func (l *loop) resumeThrottled() {
	l.resumePending = false
	if len(l.throttled) == 0 {
		return
	}
	list := l.throttled
	l.throttled = l.spareThrottled[:0]
	l.hasThrottled.Store(false)
	served := l.servedThrottled[:0]
	// No nested round: closing a client (closeNow, OnClose) finishes the
	// loop, and a congestion its session ends sets resumePending; a round
	// started there would take l.throttled, which shares its array with
	// l.spareThrottled, and served. The final finish starts it instead.
	l.inTraffic++
	for i, c := range list {
		list[i] = nil
		if !c.throttled || c.state != stateConnected {
			continue
		}
		c.throttled = false
		seq := l.seq
		if c.onTraffic() == network.Close {
			c.closeNow(closeProtocol)
			continue
		}
		// Throttled again: c is the last entry (only c was read).
		if n := len(l.throttled); n > 0 && l.throttled[n-1] == c && l.seq-seq > 1 {
			l.throttled = l.throttled[:n-1]
			served = append(served, c)
		}
	}
	l.inTraffic--
	l.throttled = append(l.throttled, served...)
	clear(served)
	l.servedThrottled = served[:0]
	l.spareThrottled = list[:0]
	l.finish()
}
