package engine

import "github.com/gust-mqtt/gust/codec"

// Broker-to-client Topic Aliases (MQTT 5 3.3.2.3.4). A v5 client whose
// CONNECT has a Topic Alias Maximum above 0 gets aliases assigned per
// connection, first come first served: the first aliasMax distinct topics
// sent to it get aliases 1..aliasMax [MQTT-3.3.2-11]; the first PUBLISH of
// such a topic carries the topic and its alias, the later ones the alias
// and an empty topic. Topics beyond the maximum always go in full. The
// mapping lives on the client, so it starts empty on every connection
// (MQTT 5 3.3.2.3.4: aliases do not outlive the Network Connection).
//
// Only aliasing clients pay for it: their QoS 0 deliveries are encoded for
// each of them (writeQoS0Alias) instead of sharing the fan-out's wire form,
// and deliveries from other loops reach them as message records so the
// subscriber's loop, which owns the mapping, encodes them.

// maxAliasTopics bounds the aliases a connection is given whatever its
// Topic Alias Maximum, so that a client cannot make the broker keep 65535
// topic strings per connection. Config.TopicAliasBytes bounds their bytes:
// a topic is given an alias only if its aliasCost fits what is left, and
// none longer than 1/16 of the budget, so that a few long topics do not
// take it all.
const maxAliasTopics = 1024

// aliasOverhead is what an alias costs besides its topic: a map slot (key
// header, value, control byte at the map's load factor) and the string's
// allocation rounding.
const aliasOverhead = 64

// aliasCost is the bytes an alias for topic counts against
// Config.TopicAliasBytes.
func aliasCost(topic []byte) int { return len(topic) + aliasOverhead }

// setAliasMax records the Topic Alias Maximum of CONNECT p. Loop-only.
func (c *client) setAliasMax(p *codec.Connect) {
	c.aliasMax = 0
	if c.ext != nil {
		c.ext.outAlias = nil
		c.ext.aliasBytes = 0
		c.ext.aliasFull = false
	}
	if p.Version == codec.V5 && p.Props.Has(codec.PropTopicAliasMaximum) {
		c.aliasMax = min(p.Props.TopicAliasMaximum, maxAliasTopics)
	}
}

// aliasTopic rewrites p to use c's alias for its topic, assigning one when
// there is room left. It reports whether it assigned a new alias (undone by
// unalias if p is not sent after all). Loop-only.
func (c *client) aliasTopic(p *codec.Publish) bool {
	if c.aliasMax == 0 || c.version != codec.V5 || len(p.Topic) == 0 {
		return false
	}
	x := c.x()
	if a, ok := x.outAlias[string(p.Topic)]; ok {
		p.Props.TopicAlias = a
		p.Props.Set(codec.PropTopicAlias)
		p.Topic = nil // the alias stands for it
		return false
	}
	if len(x.outAlias) >= int(c.aliasMax) {
		return false // all aliases in use: the topic goes in full
	}
	budget := c.l.b.cfg.TopicAliasBytes
	if cost := aliasCost(p.Topic); cost > budget/16 || x.aliasBytes+cost > budget {
		if !x.aliasFull { // counted and logged once per connection
			x.aliasFull = true
			b := c.l.b
			b.limits.aliasesFull.Add(1)
			b.infoLimit(&b.limits.logAliases, "topic aliases full: topics sent in full", "topic_alias_bytes", budget, c.clientID())
		}
		return false
	}
	x.aliasBytes += aliasCost(p.Topic)
	if x.outAlias == nil {
		x.outAlias = make(map[string]uint16, min(int(c.aliasMax), 16))
	}
	a := uint16(len(x.outAlias) + 1) // 1..aliasMax [MQTT-3.3.2-11]
	x.outAlias[string(p.Topic)] = a
	p.Props.TopicAlias = a
	p.Props.Set(codec.PropTopicAlias) // sent with the topic: sets the mapping
	return true
}

// unalias forgets the alias just assigned to topic when its PUBLISH was not
// sent, so the client never sees an alias it was not told. Loop-only.
func (c *client) unalias(topic []byte, added bool) {
	if added && c.ext != nil {
		delete(c.ext.outAlias, string(topic))
		c.ext.aliasBytes -= aliasCost(topic)
	}
}

// writeQoS0Alias writes f at QoS 0 to the aliasing client c, encoded for c
// alone, with the Subscription Identifiers ids and RETAIN retain. Like
// writeQoS0 it drops the message when c's outbound budget is spent or it
// exceeds c's Maximum Packet Size. Loop-only.
func (c *client) writeQoS0Alias(f *fanout, ids []uint32, retain bool) {
	if c.state != stateConnected {
		return
	}
	if c.overBudget(len(f.topic) + len(f.payload) + 8) {
		c.l.st.dropped++
		return
	}
	p := codec.Publish{Topic: f.topic, Payload: f.payload, Retain: retain}
	if f.props != nil {
		p.Props = *f.props
	}
	p.Props.SubscriptionIDs = ids
	c.writePublish(&p)
}
