package engine

import (
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Publisher throttle. A QoS 1/2 publisher whose message lands in an online
// session queue filled past half of MaxQueuedMessages stops being read: its
// bytes wait in gnet's buffer, and since it cannot get more PUBACKs than its
// own window, it slows down instead of the broker dropping messages it has
// acknowledged. The throttle is bounded so that one stuck subscriber cannot
// slow other clients down for long: a session counts as congested for at
// most throttleMax, after which it drops (and counts) like before; a
// throttled publisher is resumed when a congested session drains to 1/4, by
// housekeeping, or when its buffered input passes throttleMaxBuffered.
const (
	throttleMax         = time.Second
	throttleMaxBuffered = 1 << 20
)

// markCongested records that s's queue passed half of the bound (the rest
// absorbs what other loops already handed over). Owner loop
// only.
func (s *session) markCongested(l *loop, max int) {
	if len(s.queue) >= max/2 && s.congested.Load() == 0 {
		s.congested.Store(l.b.now())
	}
}

// noteHandedIn counts a QoS 1/2 delivery handed to s's owner loop. When the
// owner lags a quarter of the queue bound behind, s counts as congested:
// the queue cannot tell yet, and the hand-overs would overflow it. Loop-only
// (the producer's loop).
func (s *session) noteHandedIn(l *loop) {
	if s.handedIn.Add(1) > int32(l.b.cfg.MaxQueuedMessages/4) && s.congested.Load() == 0 {
		s.congested.CompareAndSwap(0, l.b.now())
		l.congested = true
	}
}

// clearCongested ends s's congestion once its queue is under 1/4 of the
// bound (always when force) and asks every loop to resume its throttled
// publishers. Owner loop only.
func (s *session) clearCongested(l *loop, force bool) {
	if s.congested.Load() == 0 || (!force && len(s.queue) > l.b.cfg.MaxQueuedMessages/4) {
		return
	}
	s.congested.Store(0)
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

// throttles reports whether a delivery to s should throttle its publisher.
// Safe from any goroutine.
func (s *session) throttles(now int64) bool {
	t := s.congested.Load()
	return t != 0 && now-t < int64(throttleMax)
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
func (l *loop) resumeThrottled() {
	l.resumePending = false
	if len(l.throttled) == 0 {
		return
	}
	list := l.throttled
	l.throttled = l.spareThrottled[:0]
	l.hasThrottled.Store(false)
	for i, c := range list {
		list[i] = nil
		if !c.throttled || c.state != stateConnected {
			continue
		}
		c.throttled = false
		if c.onTraffic() == gnet.Close {
			c.closeNow(closeProtocol)
		}
	}
	l.spareThrottled = list[:0]
	l.finish()
}
