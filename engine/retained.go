package engine

import (
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
)

// The retained store: set, replace, clear, its limits, and the sweep of
// expired messages.

// retainedSweepEvery is the period of sweepRetained: an expired retained
// message is never delivered, but holds its share of the retained limits
// until swept.
const retainedSweepEvery = 5 * time.Second

// storeRetained sets or clears the retained message of topic
// [MQTT-3.3.1-5] [MQTT-3.3.1-7] [MQTT-3.3.1-10] [MQTT-3.3.1-11]. Safe from
// any goroutine. props are the message's v5 properties (nil: none), kept
// for v5 subscribers along with its expiry deadline.
//
// A new message past MaxRetainedMessages or MaxRetainedBytes is not
// stored and storeRetained returns false; the caller decides what the
// publisher is told. [MQTT-3.3.1-5] says the Server MUST store it, and an
// MQTT 5 Server may refuse a PUBLISH it cannot take with Quota exceeded
// (MQTT 5 3.4.2.1), which handlePublish does when it can say so. internal
// (the broker's own $SYS topics) bypasses the limits. Checking and storing
// are not one atomic step: loops storing at the same instant may pass a
// bound by a message each.
//
// pb, if not nil, receives the change for the store (durable.go).
func (b *Broker) storeRetained(topic, payload []byte, qos byte, props *codec.Properties, internal bool, pb *persist.Batch) bool {
	if !b.cfg.RetainAvailable {
		return true
	}
	lim := &b.limits
	if len(payload) == 0 {
		if old, ok := b.retained.DeleteFunc(string(topic), nil); ok {
			lim.retainedBytes.Add(int64(-old.size()))
		}
		if pb != nil {
			pb.DeleteRetained(topic)
		}
		return true
	}
	n := int64(len(topic) + len(payload) + propsSize(props))
	if !internal {
		old, exists := b.retained.Get(string(topic))
		switch {
		case !exists && b.retained.Count() >= b.cfg.MaxRetainedMessages:
			return b.refuseRetained("max_retained_messages", b.cfg.MaxRetainedMessages)
		case (!exists || n > int64(old.size())) && lim.retainedBytes.Load()+n-oldSize(old, exists) > int64(b.cfg.MaxRetainedBytes):
			return b.refuseRetained("max_retained_bytes", b.cfg.MaxRetainedBytes)
		}
	}
	m := newMessageProps(topic, payload, qos, true, props, b.now())
	if m.expireAt != 0 {
		lim.retainedExpiring.Store(true)
	}
	old, replaced := b.retained.Swap(string(topic), m)
	lim.retainedBytes.Add(int64(m.size()) - oldSize(old, replaced))
	if pb != nil {
		var rt persist.Retained
		var props [256]byte
		retainedRecord(&rt, m, props[:0])
		pb.PutRetained(&rt)
	}
	return true
}

// propsSize is the bytes newMessageProps copies of pr (nil: none).
func propsSize(pr *codec.Properties) int {
	if pr == nil {
		return 0
	}
	n := len(pr.ContentType) + len(pr.ResponseTopic) + len(pr.CorrelationData)
	for _, u := range pr.User {
		n += len(u.Key) + len(u.Value)
	}
	return n
}

// oldSize is the size of a replaced retained message, 0 if there was none.
func oldSize(m *message, ok bool) int64 {
	if !ok {
		return 0
	}
	return int64(m.size())
}

// refuseRetained counts and logs a retained message not stored for the
// limit named by setting; it returns false for storeRetained.
func (b *Broker) refuseRetained(setting string, limit int) bool {
	b.limits.retainedRefused.Add(1)
	b.logLimit(&b.limits.logRetained, 1, "retained limit: retained message not stored", setting, limit, "")
	return false
}

// sweepRetained removes the retained messages whose Message Expiry has
// passed [MQTT-3.3.2-5], so they leave the retained limits' measures.
// Runs on the ticker goroutine, only once a message with an expiry was
// stored.
func (b *Broker) sweepRetained() {
	if !b.limits.retainedExpiring.Load() {
		return
	}
	now := b.now()
	expired := func(m *message) bool { return m.expired(now) }
	var pb *persist.Batch
	b.retained.Range(func(topic string, m *message) bool {
		if m.expired(now) {
			if old, ok := b.retained.DeleteFunc(topic, expired); ok {
				b.limits.retainedBytes.Add(int64(-old.size()))
				if b.store != nil {
					if pb == nil {
						pb = new(persist.Batch)
					}
					pb.DeleteRetained([]byte(topic))
				}
			}
		}
		return true
	})
	if pb != nil {
		b.store.Commit(pb, func(err error) {
			if err != nil {
				b.log.Warn("store: expired retained messages not deleted", "err", err)
			}
		})
	}
}
