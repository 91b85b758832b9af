package engine

import (
	"sync/atomic"
	"time"
)

// Limits (Config "Limits" group). Each bound that a client can reach is
// counted in limitStats and logged through its own limitLog, at most once
// per limitLogEvery: a client that floods against a bound costs one log
// line a second. Message-level hits (a queued message dropped, a QoS 0
// hand-over dropped) are counted per loop in loopStats and logged when the
// loop folds its counters, once per round; the rarer hits (a session
// evicted or refused, a subscription or a retained message refused, a will
// published early) are counted where they happen.

// limitLogEvery is the least time between two log lines of one limit.
const limitLogEvery = time.Second

// limitLog rate-limits the log lines of one limit. Safe from any goroutine.
type limitLog struct {
	last    atomic.Int64  // unix nanos of the last line; 0 before the first
	skipped atomic.Uint64 // hits not logged since the last line
}

// allow reports whether a line may be logged at now (unix nanos) for n
// hits, and how many hits were not logged since the previous line (n
// included). When it returns false the hits are remembered for the next
// line.
func (r *limitLog) allow(now int64, n uint64) (bool, uint64) {
	last := r.last.Load()
	if last != 0 && now-last < int64(limitLogEvery) || !r.last.CompareAndSwap(last, now) {
		r.skipped.Add(n)
		return false, 0
	}
	return true, r.skipped.Swap(0) + n
}

// limitStats are the broker-wide counters of the limits, published under
// $SYS (sys.go). The message-level ones are in loopAtomics.
type limitStats struct {
	sessionsEvicted  atomic.Uint64 // offline sessions discarded for MaxSessions
	sessionsRefused  atomic.Uint64 // CONNECTs refused for MaxSessions
	subsRefused      atomic.Uint64 // SUBSCRIBE filters refused (per client bound, or no SubscriberID left)
	retainedRefused  atomic.Uint64 // retained messages not stored (count or bytes)
	willsEarly       atomic.Uint64 // delayed wills published at once (count or bytes)
	retainedBytes    atomic.Int64  // MaxRetainedBytes measure of the stored retained messages
	queuedBytes      atomic.Int64  // MaxQueuedBytes measure summed over sessions (loops fold theirs in)
	retainedExpiring atomic.Bool   // a retained message with a Message Expiry was stored (sweepRetained)

	logSessions, logRefused, logSubs, logRetained, logQueued, logHandover, logWills limitLog
}

// logLimit logs one line for n hits of the limit named by setting, rate
// limited by lg; who names a client when there is one. Safe from any
// goroutine.
func (b *Broker) logLimit(lg *limitLog, n uint64, msg, setting string, limit int, who string) {
	ok, hits := lg.allow(time.Now().UnixNano(), n)
	if !ok {
		return
	}
	if who != "" {
		b.log.Warn(msg, "limit", setting, "value", limit, "hits", hits, "client", who)
		return
	}
	b.log.Warn(msg, "limit", setting, "value", limit, "hits", hits)
}

// foldLimits counts and logs the round's message-level limit hits; called
// by foldStats. Loop-only.
func (l *loop) foldLimits() {
	b := l.b
	if n := l.st.queueDropped; n > 0 {
		l.ast.queueDropped.Add(n)
		who := ""
		if s := l.dropWho; s != nil {
			who = s.clientID
		}
		b.logLimit(&b.limits.logQueued, n, "queued bytes limit: messages dropped", l.dropSetting, l.dropLimit, who)
	}
	if n := l.st.handoverDropped; n > 0 {
		l.ast.handoverDropped.Add(n)
		b.logLimit(&b.limits.logHandover, n, "hand-over limit: QoS 0 messages for a lagging loop dropped",
			"max_handover_bytes", b.cfg.MaxHandoverBytes, "")
	}
	l.dropWho = nil
	if l.heldDelta != 0 {
		b.limits.queuedBytes.Add(l.heldDelta)
		l.heldDelta = 0
	}
}
