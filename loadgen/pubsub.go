package loadgen

import (
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// pump encodes the messages this publisher may send now: what the rate
// allows (or a burst when flat out), within the inflight window, the count
// bound and the output high-water mark. Loop-only.
func (c *conn) pump() {
	r := c.l.r
	if c.role != rolePub || c.state != stateReady || c.done || !r.publishing.Load() || r.stopPub.Load() {
		return
	}
	cfg := r.cfg
	n := flatBurst
	if cfg.Rate > 0 {
		if c.l.now.Before(c.nextDue) {
			return // cheap skip: slow publishers are visited every loop turn
		}
		c.tokens += c.l.now.Sub(c.lastFill).Seconds() * cfg.Rate
		c.lastFill = c.l.now
		if maxTokens := cfg.Rate + 1; c.tokens > maxTokens {
			c.tokens = maxTokens // catch up at most one second after a stall
		}
		n = int(c.tokens)
	}
	if cfg.QoS > 0 {
		n = min(n, len(c.free))
		if cfg.Rate == 0 && n < c.window/4 && (cfg.Count == 0 || cfg.Count-c.sent > n) {
			// Flat out: refill the window in batches of at least a quarter,
			// so writes are fewer and larger (the syscalls dominate the
			// generator's CPU profile).
			n = 0
		}
	}
	if cfg.Count > 0 && n > cfg.Count-c.sent {
		n = cfg.Count - c.sent
	}
	if c.pendingOut() > outHighWater {
		n = 0
	}
	for i := 0; i < n; i++ {
		c.publishOne()
	}
	if cfg.Rate > 0 {
		c.tokens -= float64(n)
		// Next token due; a stalled publisher (n limited by the window or
		// the high-water mark) retries on the next turn.
		if wait := (1 - c.tokens) / cfg.Rate; wait > 0 && n > 0 {
			c.nextDue = c.l.now.Add(time.Duration(wait * float64(time.Second)))
		}
	}
	if n > 0 {
		c.l.markDirty(c)
	}
	if cfg.Count > 0 && c.sent >= cfg.Count && !c.done {
		c.done = true
		r.pubsDone.Add(1)
	}
}

// publishOne encodes one stamped PUBLISH into c.out.
func (c *conn) publishOne() {
	cfg := c.l.r.cfg
	p := &c.pub
	if c.topicTmpl != "" {
		n := c.sent
		if cfg.TopicCycle > 0 {
			n %= cfg.TopicCycle
		}
		p.Topic = append(p.Topic[:0], expand(c.topicTmpl, c.idx, n)...)
	}
	if cfg.QoS > 0 {
		id := c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		c.inUse[id] = true
		p.PacketID = id
	}
	putStamp(c.payload, c.l.nowNanos, uint32(c.idx), c.seq)
	c.out = codec.AppendPublish(c.out, cfg.Version, p)
	c.seq++
	c.sent++
	c.l.acc.sent++
	c.l.acc.expected += c.recv
}

// onAck handles PUBACK, PUBREC, PUBREL and PUBCOMP.
func (c *conn) onAck(a *codec.Ack) {
	switch {
	case a.Type == codec.TypePuback || a.Type == codec.TypePubcomp ||
		(a.Type == codec.TypePubrec && a.ReasonCode >= 0x80):
		if c.role != rolePub || int(a.PacketID) >= len(c.inUse) || !c.inUse[a.PacketID] {
			c.l.st.errors.Add(1)
			return
		}
		c.inUse[a.PacketID] = false
		c.free = append(c.free, a.PacketID)
		if a.ReasonCode >= 0x80 {
			// Refused by the broker (v5): the flow ends here, no PUBREL
			// [MQTT-4.3.3-4]; count it as an error, not as acknowledged.
			c.l.st.errors.Add(1)
			return
		}
		c.l.acc.acked++
		c.l.acc.lastAck = c.l.nowNanos
	case a.Type == codec.TypePubrec:
		// Our QoS 2 publish was received; release it [MQTT-4.3.3-4].
		rel := codec.Ack{Type: codec.TypePubrel, PacketID: a.PacketID}
		c.out = codec.AppendAck(c.out, c.l.r.cfg.Version, &rel)
		c.l.markDirty(c)
	case a.Type == codec.TypePubrel:
		// The broker released a QoS 2 delivery; complete it [MQTT-4.3.3-11].
		comp := codec.Ack{Type: codec.TypePubcomp, PacketID: a.PacketID}
		c.out = codec.AppendAck(c.out, c.l.r.cfg.Version, &comp)
		c.l.markDirty(c)
	}
}

// onPublish handles a delivery: acknowledge it, then classify its stamp.
func (c *conn) onPublish(p *codec.Publish) {
	v := c.l.r.cfg.Version
	switch p.QoS {
	case 1:
		// [MQTT-4.3.2-4] a QoS 1 receiver acknowledges with PUBACK.
		c.out = codec.AppendAck(c.out, v, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})
		c.l.markDirty(c)
	case 2:
		// [MQTT-4.3.3-8] a QoS 2 receiver answers with PUBREC.
		c.out = codec.AppendAck(c.out, v, &codec.Ack{Type: codec.TypePubrec, PacketID: p.PacketID})
		c.l.markDirty(c)
	}
	st := c.l.st
	if want := c.l.r.cfg.ExpectRetained; want > 0 {
		st.delivered.Add(1)
		st.lastDelivery.Store(c.l.nowNanos)
		c.received++
		if c.received == want {
			st.retainedDone.Add(1)
			record(st.latency, c.l.now.Sub(c.subAt))
		}
		return
	}
	sent, pub, seq, ok := readStamp(p.Payload)
	if !ok || sent < c.l.r.startNanos {
		// Not stamped by this run: a message left over from an earlier
		// run (still in the broker's buffers) or from another client.
		st.foreign.Add(1)
		return
	}
	acc := &c.l.acc
	acc.delivered++
	acc.lastDelivery = c.l.nowNanos
	w := c.lastWin
	if w == nil || c.lastPub != pub {
		// One-entry cache in front of the map: a subscriber of one
		// publisher (fanout, p2p) never looks the map up.
		if w = c.wins[pub]; w == nil {
			w = &seqWindow{}
			c.wins[pub] = w
		}
		c.lastPub, c.lastWin = pub, w
	}
	switch w.add(seq) {
	case seqDuplicate:
		acc.duplicated++
		return
	case seqOutOfOrder:
		acc.outOfOrder++
	}
	d := c.l.nowNanos - sent
	if d < 0 {
		d = 0
	}
	us := d / 1000
	if us < histMin {
		us = histMin
	} else if us > histMax {
		us = histMax
	}
	// Only the interval histogram: the reporter folds it into the run's
	// histogram each second (one record per message instead of two).
	_ = st.interval.RecordValue(us)
}
