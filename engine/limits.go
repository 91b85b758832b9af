package engine

import (
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/trie"
)

// limitKind names one bound of the Limits group of Config whose hits are
// counted and logged.
type limitKind int

const (
	limitTopic            limitKind = iota // max_topic_levels, max_topic_length
	limitSubscribeFilters                  // max_subscribe_filters
	limitUserProperties                    // max_user_properties
	limitTopicAlias                        // topic_alias_bytes
	limitMatchCache                        // match_cache_bytes
	numLimits
)

// limitMsgs are the log messages, one per kind: the setting and what the
// broker did.
var limitMsgs = [numLimits]string{
	limitTopic:            "topic refused: over max_topic_levels or max_topic_length",
	limitSubscribeFilters: "subscribe filters refused: over max_subscribe_filters",
	limitUserProperties:   "packet refused: over max_user_properties",
	limitTopicAlias:       "topic aliases full: topic_alias_bytes reached, further topics sent in full",
	limitMatchCache:       "match cache emptied: match_cache_bytes reached",
}

// limitLogEvery is the least time between two log lines of one kind: a
// flood of refusals logs one line per period with the count since the
// last.
const limitLogEvery = int64(10 * time.Second)

// limitState counts the hits of one bound and rate-limits its log line.
type limitState struct {
	hits    atomic.Uint64
	lastLog atomic.Int64  // coarse clock at the last line, 0 before any
	logged  atomic.Uint64 // hits at the last line
}

// limits are the hit counters of the Limits group, published under
// $SYS/broker/limits/.
type limits [numLimits]limitState

// limitHit counts one hit of bound k and logs it unless a line of that
// kind was logged in the last limitLogEvery; args are the line's
// key/value pairs (the client, the value that was over). Safe from any
// goroutine; it is on refusal paths only, never per delivered message.
func (b *Broker) limitHit(k limitKind, args ...any) {
	st := &b.limits[k]
	n := st.hits.Add(1)
	now := b.now()
	last := st.lastLog.Load()
	if last != 0 && now-last < limitLogEvery || !st.lastLog.CompareAndSwap(last, now) {
		return
	}
	since := n - st.logged.Swap(n)
	args = append(args, "count", since)
	if k == limitMatchCache || k == limitTopicAlias {
		b.log.Info(limitMsgs[k], args...) // normal under load, not a refusal
		return
	}
	b.log.Warn(limitMsgs[k], args...)
}

// limitCount returns the hits of bound k so far. Safe from any goroutine.
func (b *Broker) limitCount(k limitKind) uint64 { return b.limits[k].hits.Load() }

// checkTopic reports whether topic (a name or a filter, shared prefix
// removed) is within max_topic_levels and max_topic_length. Cheap enough
// for every PUBLISH: levels are counted only for a topic long enough to
// have too many. Safe from any goroutine.
func (b *Broker) checkTopic(topic []byte) error {
	return trie.CheckLimits(topic, b.cfg.MaxTopicLevels, b.cfg.MaxTopicLength)
}

// refuseTopic counts and logs a topic refused by checkTopic with err.
// Loop-only.
func (c *client) refuseTopic(what string, topic []byte, err error) {
	c.l.b.limitHit(limitTopic, "client", c.clientID(), "remote", c.gc.RemoteAddr(),
		"in", what, "length", len(topic), "err", err.Error())
}

// userPropsLimit sets the User Property limit on every decode scratch of
// l. Loop-only.
func (l *loop) userPropsLimit() {
	n := uint16(l.b.cfg.MaxUserProperties)
	for _, p := range []*codec.Properties{&l.pub.Props, &l.ack.Props, &l.sub.Props,
		&l.unsub.Props, &l.conn.Props, &l.conn.WillProps, &l.disc.Props} {
		p.UserLimit = n
	}
}

// refuseUserProps counts and logs a packet refused for its User
// Properties. Loop-only.
func (c *client) refuseUserProps() {
	c.l.b.limitHit(limitUserProperties, "client", c.clientID(), "remote", c.gc.RemoteAddr(),
		"max_user_properties", c.l.b.cfg.MaxUserProperties)
}
