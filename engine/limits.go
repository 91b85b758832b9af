package engine

import (
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/trie"
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

	topicsRefused    atomic.Uint64 // topic names and filters over MaxTopicLevels or MaxTopicLength
	filtersRefused   atomic.Uint64 // SUBSCRIBE filters past MaxSubscribeFilters
	userPropsRefused atomic.Uint64 // packets over MaxUserProperties
	aliasesFull      atomic.Uint64 // connections that reached TopicAliasBytes
	cacheClears      atomic.Uint64 // match caches emptied at MatchCacheBytes

	logSessions, logRefused, logSubs, logRetained, logQueued, logHandover, logWills limitLog
	logTopics, logFilters, logUserProps, logAliases, logCache                       limitLog
	logQueueFull, logOversize                                                       limitLog
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
	if n := l.st.queueFull; n > 0 {
		who := ""
		if s := l.fullWho; s != nil {
			who = s.clientID
		}
		b.logLimit(&b.limits.logQueueFull, n, "queue limit: QoS 1/2 messages dropped", "max_queued_messages",
			b.cfg.MaxQueuedMessages, who)
		l.fullWho = nil
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

// infoLimit is logLimit at info level, for bounds whose hits are normal
// under load rather than a client refused (topic aliases, match cache).
// Safe from any goroutine.
func (b *Broker) infoLimit(lg *limitLog, msg, setting string, limit int, who string) {
	if ok, hits := lg.allow(time.Now().UnixNano(), 1); ok {
		b.log.Info(msg, "limit", setting, "value", limit, "hits", hits, "client", who)
	}
}

// checkTopic reports whether topic (a name, or a filter without its
// $share/{group}/ prefix) is within MaxTopicLevels and MaxTopicLength:
// nil, trie.ErrTooManyLevels or trie.ErrTopicTooLong. Cheap enough for
// every PUBLISH: levels are counted only for a topic long enough to have
// too many. Safe from any goroutine.
func (b *Broker) checkTopic(topic []byte) error {
	return trie.CheckLimits(topic, b.cfg.MaxTopicLevels, b.cfg.MaxTopicLength)
}

// refuseTopic counts and logs a topic refused by checkTopic with err; what
// says where it came from (publish, subscribe, unsubscribe, will).
// Loop-only.
func (c *client) refuseTopic(what string, err error) {
	b := c.l.b
	b.limits.topicsRefused.Add(1)
	setting, limit := "max_topic_length", b.cfg.MaxTopicLength
	if err == trie.ErrTooManyLevels {
		setting, limit = "max_topic_levels", b.cfg.MaxTopicLevels
	}
	b.logLimit(&b.limits.logTopics, 1, "topic refused ("+what+")", setting, limit, c.clientID())
}

// refuseFilters counts and logs the n filters of a SUBSCRIBE refused past
// MaxSubscribeFilters. Loop-only.
func (c *client) refuseFilters(n int) {
	b := c.l.b
	b.limits.filtersRefused.Add(uint64(n))
	b.logLimit(&b.limits.logFilters, uint64(n), "subscribe filters refused", "max_subscribe_filters",
		b.cfg.MaxSubscribeFilters, c.clientID())
}

// userPropsLimit sets the User Property limit on every decode scratch of
// l. Loop-only.
func (l *loop) userPropsLimit() {
	n := uint16(l.b.cfg.MaxUserProperties)
	for _, p := range []*codec.Properties{&l.scratch.pub.Props, &l.scratch.ack.Props, &l.scratch.sub.Props,
		&l.scratch.unsub.Props, &l.scratch.conn.Props, &l.scratch.conn.WillProps, &l.scratch.disc.Props} {
		p.UserLimit = n
	}
}

// refuseUserProps counts and logs a packet refused for its User
// Properties. Loop-only.
func (c *client) refuseUserProps() {
	b := c.l.b
	b.limits.userPropsRefused.Add(1)
	b.logLimit(&b.limits.logUserProps, 1, "packet refused: too many user properties", "max_user_properties",
		b.cfg.MaxUserProperties, c.clientID())
}
