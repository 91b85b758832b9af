package engine

import (
	"unicode/utf8"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/engine/persist"
)

// Inbound packets after CONNECT: the dispatch, PUBLISH, acknowledgements
// and DISCONNECT.

// handle dispatches one whole packet. This is the documented hot switch.
// Loop-only.
func (c *client) handle(t codec.Type, pkt []byte) error {
	if c.state != stateConnected {
		if err := c.preConnack(t); err != nil {
			return err // [MQTT-3.1.0-1] [MQTT-3.1.2-30]
		}
	}
	switch t {
	case codec.TypePublish:
		return c.handlePublish(pkt)
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		return c.handleAck(pkt)
	case codec.TypePingreq:
		if _, _, err := codec.DecodePing(pkt); err != nil {
			return err
		}
		c.pending = codec.AppendPingresp(c.pending) // [MQTT-3.12.4-1]
		c.l.markDirty(c)
		return nil
	case codec.TypeSubscribe:
		return c.handleSubscribe(pkt)
	case codec.TypeUnsubscribe:
		return c.handleUnsubscribe(pkt)
	case codec.TypeDisconnect:
		return c.handleDisconnect(pkt)
	case codec.TypeConnect:
		if c.state != stateNew {
			return errSecondConnect // [MQTT-3.1.0-2]
		}
		return c.handleConnect(pkt)
	case codec.TypeAuth:
		return c.handleAuth(pkt) // MQTT 5 4.12 (auth.go)
	}
	return errUnsupportedPacket // CONNACK, SUBACK, ... from a client
}

// handleDisconnect ends the connection without the will [MQTT-3.14.4-3].
func (c *client) handleDisconnect(pkt []byte) error {
	d := &c.l.scratch.disc
	if _, err := codec.DecodeDisconnect(pkt, c.version, d); err != nil {
		return err // [MQTT-3.14.1-1]
	}
	c.reason = closeClean
	if c.version == codec.V5 && d.ReasonCode == codec.ReasonDisconnectWithWill {
		c.reason = closeNone
	}
	if s := c.sess; c.version == codec.V5 && s != nil && d.Props.Has(codec.PropSessionExpiry) {
		// A session that ends with the connection cannot be given a
		// lifetime now (MQTT 5 3.14.2.2.2: protocol error, not a valid
		// DISCONNECT, so the will goes out); otherwise the DISCONNECT's
		// interval replaces the CONNECT's.
		if s.expiry == 0 && d.Props.SessionExpiry != 0 {
			c.reason = closeNone
			return errDisconnectExpiry
		}
		if s.expiry != 0 {
			s.expiry = d.Props.SessionExpiry
		}
	}
	if c.reason == closeClean {
		c.will = nil // [MQTT-3.1.2-10]
	}
	return errCloseQuiet
}

// disconnectFor queues the v5 DISCONNECT that tells a connected client why
// it is closed for err [MQTT-4.13.1-1]; it is written when the round ends,
// before the connection is closed. Loop-only.
func (c *client) disconnectFor(err error) {
	if c.version != codec.V5 || c.state != stateConnected {
		return
	}
	if h := c.heldFor(); h != nil {
		c.pending = c.pending[:h.start()] // not durable yet: never acknowledged
		c.ext.hold = nil
	}
	c.pending = c.appendDisconnect(c.pending, disconnectReason(err))
	c.l.markDirty(c)
}

// protocolError records why c is closed for bad input. Loop-only.
func (c *client) protocolError(err error) {
	if c.reason == closeNone {
		c.reason = closeProtocol
	}
	if c.x().closeErr == nil {
		c.x().closeErr = err
	}
	if err == codec.ErrTooManyUserProperties {
		c.refuseUserProps() // v5: CONNACK or DISCONNECT 0x97
	}
	if c.l.b.debug() {
		c.l.b.log.Debug("protocol error", "client", c.clientID(), "remote", network.PeerAddr(c.nc), "err", err)
	}
}

// handlePublish handles an inbound PUBLISH: QoS handshake, retained store
// and fan-out. Loop-only.
func (c *client) handlePublish(pkt []byte) error {
	l := c.l
	p := &l.scratch.pub
	if _, err := codec.DecodePublish(pkt, c.version, p); err != nil {
		return err // [MQTT-3.3.1-4] [MQTT-3.3.2-2] [MQTT-1.5.3-1]
	}
	if int(p.QoS) > l.b.cfg.MaximumQoS {
		return errQoSNotSupported // [MQTT-3.2.2-11] v5: DISCONNECT 0x9B
	}
	rc := codec.ReasonSuccess
	var props *codec.Properties
	// An empty topic takes a v5 alias's, checked when the alias was set.
	if len(p.Topic) > 0 {
		if err := l.b.checkTopic(p.Topic); err != nil {
			c.refuseTopic("publish", err)
			if c.version != codec.V5 || p.QoS == 0 {
				// v5: DISCONNECT 0x90. 3.1.1 has no code to refuse a
				// PUBLISH with: the connection is closed [MQTT-3.3.5-2].
				return errTopicRefused
			}
			rc = codec.ReasonTopicNameInvalid // PUBACK/PUBREC 0x90; not delivered, no alias set
		}
	}
	if c.version == codec.V5 && rc == codec.ReasonSuccess {
		var err error
		if props, rc, err = c.publishV5(p); err != nil {
			return err
		}
	}
	l.st.pubIn++
	l.tot.pubIn[p.QoS&3]++
	l.tot.pubBytesIn[p.QoS&3] += uint64(len(pkt))
	allowed := c.mayPublish(p) // ACL and Authoriser (aclcheck.go) [MQTT-3.3.5-2]
	if !allowed && rc == codec.ReasonSuccess && c.version == codec.V5 {
		rc = c.l.b.aclDenyCode() // v5 PUBACK/PUBREC 0x87 (or 0x80)
	}
	dup := false
	if p.QoS == 2 {
		s := c.sess
		s.useExt()
		dup = s.hasInQoS2(p.PacketID)
		if !dup && c.version == codec.V5 && len(s.inQoS2) >= l.b.cfg.ReceiveMaximum {
			return errReceiveMaximum // [MQTT-3.3.4-7] DISCONNECT 0x93
		}
	}
	// A retained message goes to the store too; the acknowledgement of a
	// QoS 1/2 one waits for its commit (durable.go).
	var pb *persist.Batch
	if l.dur != nil && p.Retain && allowed && rc < 0x80 && !dup {
		if l.b.storeFull() && p.QoS > 0 {
			if c.version != codec.V5 {
				return errStoreFull // 3.1.1 cannot refuse a PUBLISH: closed
			}
			rc = codec.ReasonQuotaExceeded
		} else {
			pb = l.dur.batch()
		}
	}
	if p.Retain && allowed && rc < 0x80 && !dup && !l.b.storeRetained(p.Topic, p.Payload, p.QoS, props, false, pb) &&
		c.version == codec.V5 && p.QoS > 0 {
		// Past a retained limit. A v5 QoS 1/2 publisher is told (MQTT 5
		// 3.4.2.1, 0x97): the PUBLISH is refused whole, not delivered, as
		// for any failure code. Others cannot be told: their message
		// still reaches the live subscribers, only not the store.
		rc = codec.ReasonQuotaExceeded
	}
	// An inbound QoS 2 id of a persistent session is stored before its
	// PUBREC, so that a PUBLISH sent again after a crash is known.
	keepQoS2 := p.QoS == 2 && !dup && rc < 0x80 && l.dur != nil && c.sess.durable()
	if pb != nil && p.QoS > 0 && rc < 0x80 || keepQoS2 {
		l.hold(c) // the PUBACK/PUBREC below waits for the commit
	}
	ackOff := len(c.pending) // where the acknowledgement starts
	switch p.QoS {
	case 0:
	case 1:
		// [MQTT-4.3.2-4] PUBACK once we own the message.
		c.pending = c.appendAck(c.pending, codec.TypePuback, p.PacketID, rc)
		l.markDirty(c)
	case 2:
		s := c.sess
		c.pending = c.appendAck(c.pending, codec.TypePubrec, p.PacketID, rc)
		l.markDirty(c)
		if rc >= 0x80 {
			return nil // [MQTT-4.3.3-4] v5: a failed PUBREC ends the flow
		}
		if dup {
			return nil // [MQTT-4.3.3-2] already delivered; only PUBREC again
		}
		s.inQoS2 = append(s.inQoS2, p.PacketID)
		if keepQoS2 {
			l.dur.batch().PutInQoS2(s.clientID, p.PacketID)
		}
	}
	if !allowed || rc >= 0x80 {
		return nil
	}
	if n := l.b.cluster.Load(); n != nil {
		l.toCluster(n, p.Topic, p.Payload, p.QoS, p.Retain, c.sess.clientID, props)
	}
	if l.dur == nil || p.QoS == 0 {
		congested := l.route(p.Topic, p.Payload, p.QoS, p.Retain, c.sess, props)
		l.thr.afterRoute(c, p.QoS, congested)
		return nil
	}
	l.dur.routed = false
	congested := l.route(p.Topic, p.Payload, p.QoS, p.Retain, c.sess, props)
	if l.dur.routed {
		l.holdFrom(c, ackOff) // owed to a persistent session: acknowledged once stored
	}
	l.thr.afterRoute(c, p.QoS, congested)
	return nil
}

// publishV5 applies the MQTT 5 parts of an inbound PUBLISH: it resolves a
// Topic Alias, checks a payload that says it is UTF-8, and returns the
// properties to forward (nil when there are none) and the reason code of
// the acknowledgement. An error closes the connection with its DISCONNECT
// reason. Loop-only.
func (c *client) publishV5(p *codec.Publish) (*codec.Properties, codec.ReasonCode, error) {
	if err := c.resolveAlias(p); err != nil {
		return nil, 0, err
	}
	rc := codec.ReasonSuccess
	if p.Props.Has(codec.PropPayloadFormat) && p.Props.PayloadFormat == 1 && !utf8.Valid(p.Payload) {
		if p.QoS == 0 {
			return nil, 0, errPayloadFormat // DISCONNECT 0x99
		}
		rc = codec.ReasonPayloadFormatInvalid // PUBACK/PUBREC 0x99
	}
	if len(p.Props.SubscriptionIDs) > 0 {
		return nil, 0, errSubIDFromClient // [MQTT-3.3.4-6] DISCONNECT 0x82
	}
	if p.Retain && !c.l.b.cfg.RetainAvailable {
		return nil, 0, errRetainNotSupported // MQTT 5 3.3.1.3: DISCONNECT 0x9A
	}
	if p.Props.Present == 0 && len(p.Props.User) == 0 {
		return nil, rc, nil
	}
	return &p.Props, rc, nil // [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-20]
}

// resolveAlias maps a v5 Topic Alias to its topic: a PUBLISH with a topic
// and an alias sets the alias, one with an empty topic uses it
// [MQTT-3.3.2-12]. The alias is not forwarded. Loop-only.
func (c *client) resolveAlias(p *codec.Publish) error {
	if !p.Props.Has(codec.PropTopicAlias) {
		if len(p.Topic) == 0 {
			return errTopicAliasUnknown
		}
		return nil
	}
	a := int(p.Props.TopicAlias)
	if a == 0 || a > c.l.b.cfg.TopicAliasMaximum {
		return errTopicAliasInvalid // [MQTT-3.3.2-8] [MQTT-3.3.2-9] [MQTT-3.2.2-17]
	}
	p.Props.Present &^= uint64(1) << codec.PropTopicAlias
	if len(p.Topic) > 0 {
		x := c.x()
		for len(x.aliases) <= a {
			x.aliases = append(x.aliases, nil)
		}
		x.aliases[a] = append(x.aliases[a][:0], p.Topic...)
		return nil
	}
	x := c.ext
	if x == nil || a >= len(x.aliases) || len(x.aliases[a]) == 0 {
		return errTopicAliasUnknown
	}
	p.Topic = x.aliases[a]
	return nil
}

// handleAck handles PUBACK, PUBREC, PUBREL and PUBCOMP. Loop-only.
func (c *client) handleAck(pkt []byte) error {
	l := c.l
	a := &l.scratch.ack
	if _, err := codec.DecodeAck(pkt, c.version, a); err != nil {
		return err // [MQTT-3.6.1-1]
	}
	s := c.sess
	switch a.Type {
	case codec.TypePuback: // [MQTT-4.3.2-3]
		if i := s.findInflight(a.PacketID); i >= 0 && s.inflight[i].qos == 1 {
			s.removeInflight(l, i)
			l.pump(s, c)
		}
	case codec.TypePubrec: // [MQTT-4.3.3-4]
		i := s.findInflight(a.PacketID)
		rc := codec.ReasonSuccess
		if i < 0 || s.inflight[i].qos != 2 {
			rc = codec.ReasonPacketIDNotFound // v5 PUBREL 0x92 [MQTT-3.6.2-1]
		} else {
			if c.version == codec.V5 && a.ReasonCode >= 0x80 {
				s.removeInflight(l, i) // [MQTT-4.4.0-2] v5: a failed PUBREC ends the flow
				l.pump(s, c)
				return nil
			}
			s.inflight[i].state = outReleased
			if l.dur != nil {
				l.releasedDelivery(s, c, &s.inflight[i]) // the PUBREL waits for the store
			}
			s.release(l, s.inflight[i].m)
			s.inflight[i].m = nil // [MQTT-4.3.3-6] never re-sent after PUBREL
		}
		c.pending = c.appendAck(c.pending, codec.TypePubrel, a.PacketID, rc)
		l.markDirty(c)
	case codec.TypePubcomp: // [MQTT-4.3.3-5]
		if i := s.findInflight(a.PacketID); i >= 0 && s.inflight[i].state == outReleased {
			s.removeInflight(l, i)
			l.pump(s, c)
		}
	case codec.TypePubrel: // [MQTT-4.3.3-11] [MQTT-4.3.3-12]
		rc := codec.ReasonSuccess
		if !s.hasInQoS2(a.PacketID) {
			rc = codec.ReasonPacketIDNotFound // v5 PUBCOMP 0x92 [MQTT-3.7.2-1]
		}
		if rc == codec.ReasonSuccess && s.durable() && l.dur != nil {
			// The id is free again for the publisher once PUBCOMP is
			// out: its release must be durable first (durable.go).
			l.dur.batch().DeleteInQoS2(s.clientID, a.PacketID)
			l.hold(c)
		}
		s.releaseInQoS2(a.PacketID)
		c.pending = c.appendAck(c.pending, codec.TypePubcomp, a.PacketID, rc)
		l.markDirty(c)
	}
	return nil
}
