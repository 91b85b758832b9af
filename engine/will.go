package engine

import (
	"sync"
	"sync/atomic"

	"github.com/gust-mqtt/gust/codec"
)

// Delayed wills (MQTT 5 Will Delay Interval). A will with a delay whose
// session outlives the connection waits in the broker's delayedWills until
// the earlier of its delay and its session's end [MQTT-3.1.3-9]; a client
// that resumes the session in time cancels it. The ticker publishes due
// wills on the first loop.

// delayedWills holds the wills waiting for their delay, at most
// MaxDelayedWills of them and MaxDelayedWillBytes of their size. mu is a
// leaf lock.
type delayedWills struct {
	mu    sync.Mutex
	m     map[*session]delayedWill
	bytes int          // sum of the wills' size; guarded by mu
	n     atomic.Int32 // len(m), read by the ticker without the lock
}

type delayedWill struct {
	w  *message
	at int64 // unix nanos when it is due
}

// delayWill records w of s, due at at, and returns ""; past
// MaxDelayedWills or MaxDelayedWillBytes it records nothing and returns
// the setting's name. Safe from any goroutine.
func (b *Broker) delayWill(s *session, w *message, at int64) string {
	dw := &b.wills
	n := w.size()
	dw.mu.Lock()
	defer dw.mu.Unlock()
	had := 0 // the size of a will of s already waiting (replaced)
	if old, ok := dw.m[s]; ok {
		had = old.w.size()
	} else if len(dw.m) >= b.cfg.MaxDelayedWills {
		return "max_delayed_wills"
	}
	if dw.bytes-had+n > b.cfg.MaxDelayedWillBytes {
		return "max_delayed_will_bytes"
	}
	dw.bytes -= had
	if dw.m == nil {
		dw.m = make(map[*session]delayedWill)
	}
	dw.m[s] = delayedWill{w: w, at: at}
	dw.bytes += n
	dw.n.Store(int32(len(dw.m)))
	return ""
}

// cancelWill drops the delayed will of s, if any: its client came back in
// time. Safe from any goroutine.
func (b *Broker) cancelWill(s *session) {
	dw := &b.wills
	if dw.n.Load() == 0 {
		return
	}
	dw.mu.Lock()
	if w, ok := dw.m[s]; ok {
		dw.bytes -= w.w.size()
		delete(dw.m, s)
	}
	dw.n.Store(int32(len(dw.m)))
	dw.mu.Unlock()
}

// delayedWillOf returns the delayed will of s, nil if none. Safe from
// any goroutine.
func (b *Broker) delayedWillOf(s *session) *message {
	dw := &b.wills
	if dw.n.Load() == 0 {
		return nil
	}
	dw.mu.Lock()
	defer dw.mu.Unlock()
	return dw.m[s].w
}

// dueWill makes the delayed will of s, if any, due now: its session ended.
// Safe from any goroutine.
func (b *Broker) dueWill(s *session) {
	dw := &b.wills
	if dw.n.Load() == 0 {
		return
	}
	dw.mu.Lock()
	if w, ok := dw.m[s]; ok {
		w.at = 0
		dw.m[s] = w
	}
	dw.mu.Unlock()
}

// dueWill is a delayed will taken to be published, with its session.
type dueWill struct {
	s *session
	w *message
}

// takeDueWills removes and returns the wills due at now (all of them when
// all is set). Safe from any goroutine.
func (b *Broker) takeDueWills(now int64, all bool) []dueWill {
	dw := &b.wills
	if dw.n.Load() == 0 {
		return nil
	}
	dw.mu.Lock()
	defer dw.mu.Unlock()
	var due []dueWill
	for s, w := range dw.m {
		if all || w.at <= now {
			due = append(due, dueWill{s: s, w: w.w})
			dw.bytes -= w.w.size()
			delete(dw.m, s)
		}
	}
	dw.n.Store(int32(len(dw.m)))
	return due
}

// publishDueWills publishes the delayed wills due now on the first loop.
// Runs on the ticker goroutine.
func (b *Broker) publishDueWills() {
	due := b.takeDueWills(b.now(), false)
	if len(due) == 0 {
		return
	}
	ls := b.loopSnapshot()
	if len(ls) == 0 {
		return
	}
	l := ls[0]
	l.run("delayed wills", func() {
		for _, d := range due {
			l.publishWill(d.w) // [MQTT-3.1.2-8]
			l.willPublished(d.s)
		}
		l.finish()
	})
}

// willPublished drops the delayed will just published from the record of
// s, if s is still offline and stored, so that a restart does not publish
// it again. Loop-only.
func (l *loop) willPublished(s *session) {
	if l.dur == nil || !s.durable() {
		return
	}
	st := &l.b.sessions
	st.mu.Lock() // for offAt
	s.mu.Lock()
	if s.owner.Load() == nil && !s.gone() && s.sessionExt != nil {
		l.putSession(s, nil, s.offAt)
	}
	s.mu.Unlock()
	st.mu.Unlock()
}

// closeWill publishes or delays the will w of client c, closed without a
// clean DISCONNECT. A v5 will with a delay waits when the session outlives
// the connection.
//
// Past MaxDelayedWills or MaxDelayedWillBytes the will is published at
// once. Either choice breaks a rule: publishing early breaks
// [MQTT-3.1.3-9] if the client comes back within the delay, dropping
// breaks [MQTT-3.1.2-8] (the will MUST be published). Early wins: the
// delay only spares subscribers the news of a short absence, and a
// client that comes back can say so (the usual pattern publishes a
// retained "online" at connect), while a dropped will leaves subscribers
// believing a gone client is alive. Loop-only.
func (c *client) closeWill(w *message) {
	if !c.mayPublishWill(w) {
		return // a will goes only where its client may write (aclcheck.go)
	}
	s := c.sess
	if w.delay == 0 || s == nil || s.clean() {
		c.l.publishWill(w)
		return
	}
	b := c.l.b
	d := int64(w.delay) * 1e9
	if lt := int64(b.sessionLifetime(s.expiry)); lt > 0 && lt < d {
		d = lt // the session ends first [MQTT-3.1.3-9]
	}
	if setting := b.delayWill(s, w, b.refreshClock()+d); setting != "" { // not early by the coarse clock's lag
		limit := b.cfg.MaxDelayedWills
		if setting == "max_delayed_will_bytes" {
			limit = b.cfg.MaxDelayedWillBytes
		}
		b.limits.willsEarly.Add(1)
		b.logLimit(&b.limits.logWills, 1, "delayed will limit: will published without its delay", setting, limit, s.clientID)
		c.l.publishWill(w)
	}
}

// publishWill publishes a will as if its client had sent it
// [MQTT-3.1.2-8] [MQTT-3.1.2-16] [MQTT-3.1.2-17]. Loop-only.
func (l *loop) publishWill(w *message) {
	var props *codec.Properties
	if w.hasProps {
		props = &w.props // its expiry starts now
	}
	if w.retain {
		l.b.storeRetained(w.topic, w.payload, w.qos, props, false, l.durBatch()) // past a limit: delivered, not stored
	}
	if n := l.b.cluster.Load(); n != nil {
		l.toCluster(n, w.topic, w.payload, w.qos, w.retain, "", props)
	}
	l.route(w.topic, w.payload, w.qos, w.retain, nil, props)
}
