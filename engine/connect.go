package engine

import (
	"errors"
	"strconv"
	"time"

	"github.com/gust-mqtt/gust/engine/network"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/trie"
)

// handleConnect validates a CONNECT, authenticates, opens or resumes the
// session and answers CONNACK. When the client id is online on another
// connection it starts a takeover and leaves the CONNECT in the connection's input buffer;
// resumeConnect runs it again once the old connection is gone. Loop-only.
func (c *client) handleConnect(pkt []byte) error {
	l := c.l
	b := l.b
	p := &l.scratch.conn
	if _, err := codec.DecodeConnect(pkt, p); err != nil {
		c.version = p.Version
		if p.Version == codec.V5 {
			c.refuse(codec.ReasonCodeOf(err))
		} else if rc := codec.ConnackCodeV3(err); rc != codec.ConnackCloseV3 {
			c.refuseV3(rc) // [MQTT-3.1.2-2]
		}
		c.protocolError(err) // [MQTT-3.1.4-1]
		return errCloseQuiet
	}
	c.version = p.Version
	c.setAliasMax(p)
	id, rc, ok := c.checkClientID(p)
	if !ok {
		c.refuseCode(rc, codec.ReasonClientIDNotValid)
		return errCloseQuiet
	}
	if p.Version == codec.V5 && p.Props.Has(codec.PropAuthMethod) {
		if a := c.auth(); a == nil || !a.passed {
			return c.startConnectAuth(pkt, p) // MQTT 5 4.12 (auth.go)
		}
	} else if err := c.authenticate(p); err != nil {
		return c.refuseAuth(err)
	} else if c.state == stateAuthCheck {
		return nil // the CONNECT waits in the connection's input buffer for its check (login.go)
	} else {
		c.noteCredentials(p)
	}
	if p.WillFlag {
		if trie.ValidTopicName(p.WillTopic) != nil {
			c.protocolError(errBadWillTopic)
			return errCloseQuiet // [MQTT-3.1.4-1]
		}
		if err := b.checkTopic(p.WillTopic); err != nil {
			c.refuseTopic("will", err)
			if p.Version == codec.V5 {
				c.refuse(codec.ReasonTopicNameInvalid) // CONNACK 0x90
			} else {
				c.protocolError(errTopicRefused) // 3.1.1 has no CONNACK code for it: closed
			}
			return errCloseQuiet
		}
		if p.WillRetain && !b.cfg.RetainAvailable && p.Version == codec.V5 {
			c.refuse(codec.ReasonRetainNotSupported) // [MQTT-3.2.2-13]
			return errCloseQuiet
		}
		if int(p.WillQoS) > b.cfg.MaximumQoS {
			if p.Version == codec.V5 {
				c.refuse(codec.ReasonQoSNotSupported) // [MQTT-3.2.2-12]
				return errCloseQuiet
			}
			p.WillQoS = byte(b.cfg.MaximumQoS) // 3.1.1 has no code for it: capped
		}
		c.will = newWill(p)
	} else {
		c.will = nil // [MQTT-3.1.2-12]
	}
	c.keepAliveMs = b.effectiveKeepAlive(p.KeepAlive)
	c.lastRead = b.refreshClock()
	if b.cfg.Authoriser != nil || b.cfg.ACLFile != "" || b.cfg.KeepUsernames {
		if id := c.peerIdentity(); id != "" {
			c.x().username = id // the certificate's, not the CONNECT's
		} else if len(p.Username) > 0 {
			c.x().username = string(p.Username) // for clientInfo
		}
	}

	if n := b.cluster.Load(); n != nil {
		var owned bool
		var err error
		if id, owned, err = c.clusterClaim(n, id, p); !owned {
			return err // parked until the claim's verdict (cluster_session.go), or refused
		}
	}
	s, present, busy := b.openSession(l, c, id, p)
	if busy == l {
		// Same loop: close the old connection now and retry.
		if old := s.c; old != nil {
			old.closeNow(closeTakeover) // [MQTT-3.1.4-2] its will is sent
		}
		s, present, busy = b.openSession(l, c, id, p)
	}
	l.adoptOrphans() // of a discarded previous session, now that no lock is held
	if s == nil {
		// MaxSessions, and every session is online: nothing to discard.
		b.limits.sessionsRefused.Add(1)
		b.logLimit(&b.limits.logRefused, 1, "session limit: CONNECT refused, every session is online",
			"max_sessions", b.cfg.MaxSessions, id)
		c.will = nil // no session, no will
		c.refuseCode(codec.ConnackServerUnavailable, codec.ReasonQuotaExceeded)
		return errCloseQuiet
	}
	if busy != nil {
		// [MQTT-3.1.4-2] the other connection goes first; its will is sent.
		c.state = stateTakeover
		c.will = nil // rebuilt when the CONNECT is read again
		l.sendItem(busy, item{kind: itemTakeover, s: s, c: c})
		return nil
	}
	c.sess = s
	if n := b.cluster.Load(); n != nil {
		present = c.clusterSession(n, s, p, present) // cluster_session.go
	}
	holdConnack := l.dur != nil && l.sessionConnected(s, c)
	if c.ext != nil {
		c.ext.maxOut = 0
	}
	c.noProblem = p.Version == codec.V5 && p.Props.Has(codec.PropRequestProblemInfo) && p.Props.RequestProblemInfo == 0
	if p.Version == codec.V5 && p.Props.Has(codec.PropMaximumPacketSize) {
		c.x().maxOut = int(p.Props.MaximumPacketSize) // [MQTT-3.1.2-24]
	}
	var recvMax uint16
	if p.Version == codec.V5 && p.Props.Has(codec.PropReceiveMaximum) {
		recvMax = p.Props.ReceiveMaximum
	}
	s.setWindow(b, recvMax) // [MQTT-3.3.4-9] [MQTT-4.9.0-1]
	c.state = stateConnected
	b.noteConnected(b.connected.Add(1))
	b.totalConnects.Add(1)
	// [MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3]; MQTT 3.1 has no Session
	// Present: the first CONNACK byte is reserved there, so it stays 0 (as
	// in Mosquitto).
	ack := codec.Connack{SessionPresent: present && c.version != codec.V31}
	if c.version == codec.V5 {
		c.connackProps(&ack.Props, p)
		c.connackAuth(&ack.Props, p)
	}
	if c.pending == nil {
		c.pending = l.smallPending()
	}
	if holdConnack {
		l.hold(c) // the session is acknowledged once durable (durable.go)
	}
	c.pending = codec.AppendConnack(c.pending, c.version, &ack) // [MQTT-3.2.0-1] [MQTT-3.1.4-4]
	if a := c.auth(); a != nil {
		a.connect, a.final = nil, nil // p is dead from here
	}
	l.markDirty(c)
	c.logConnected(p, id, present)
	if present {
		c.recheckResumed() // its subscriptions under the ACL, for this client (aclcheck.go)
		l.resend(s, c)     // [MQTT-4.4.0-1]
	}
	return nil
}

// checkClientID applies the client identifier rules and assigns an id to
// an empty one. It returns the id, or the v3 CONNACK code and false to
// refuse.
func (c *client) checkClientID(p *codec.Connect) (string, byte, bool) {
	cfg := &c.l.b.cfg
	if len(p.ClientID) == 0 {
		if !p.CleanStart && p.Version != codec.V5 {
			return "", codec.ConnackIdentifierRejected, false // [MQTT-3.1.3-8]
		}
		if !cfg.AllowZeroLengthClientID || p.Version == codec.V31 {
			return "", codec.ConnackIdentifierRejected, false // [MQTT-3.1.3-9]
		}
		return "gust-" + strconv.FormatUint(c.l.b.assignID.Add(1), 36), 0, true // [MQTT-3.1.3-6]
	}
	if len(p.ClientID) > cfg.MaxClientIDLength || (p.Version == codec.V31 && len(p.ClientID) > 23) {
		return "", codec.ConnackIdentifierRejected, false // [MQTT-3.1.3-9]
	}
	return string(p.ClientID), 0, true
}

// refuseAuth answers an authentication failure and closes.
func (c *client) refuseAuth(err error) error {
	if errors.Is(err, ErrBadCredentials) {
		c.refuseCode(codec.ConnackBadUsernameOrPassword, codec.ReasonBadUsernameOrPassword)
	} else if err == errAuthBusy {
		c.refuseCode(codec.ConnackServerUnavailable, codec.ReasonServerBusy)
	} else {
		c.refuseCode(codec.ConnackNotAuthorized, codec.ReasonNotAuthorized)
	}
	if c.l.b.debug() {
		c.l.b.log.Debug("client refused", "client", string(c.l.scratch.conn.ClientID), "remote", network.PeerAddr(c.nc), "err", err)
	}
	return errCloseQuiet
}

// refuseCode answers CONNACK with the code of c's version.
func (c *client) refuseCode(v3 byte, v5 codec.ReasonCode) {
	if c.version == codec.V5 {
		c.refuse(v5)
	} else {
		c.refuseV3(v3)
	}
}

// v3RefusalCodes are the v5 reason codes of the 3.1.1 CONNACK return
// codes 1 to 5, for the refusal counters (admin.go).
var v3RefusalCodes = [...]codec.ReasonCode{0, codec.ReasonUnsupportedProtocolVersion,
	codec.ReasonClientIDNotValid, codec.ReasonServerUnavailable,
	codec.ReasonBadUsernameOrPassword, codec.ReasonNotAuthorized}

// refuseV3 sends a 3.1/3.1.1 CONNACK with a non-zero return code and
// Session Present 0 [MQTT-3.2.2-4]; the caller closes [MQTT-3.2.2-5].
func (c *client) refuseV3(rc byte) {
	v := c.version
	if v != codec.V31 && v != codec.V311 {
		v = codec.V311
	}
	c.pending = codec.AppendConnack(c.pending, v, &codec.Connack{ReasonCode: codec.ReasonCode(rc)})
	c.logRefused(codec.ReasonCode(rc))
	c.reason = closeRefused
	c.x().told = true // the close lingers (linger.go)
	if int(rc) < len(v3RefusalCodes) {
		c.l.tot.refused[v3RefusalCodes[rc]]++
	}
	c.l.markDirty(c)
}

// refuse sends a v5 CONNACK with reason rc; the caller closes.
func (c *client) refuse(rc codec.ReasonCode) {
	ack := codec.Connack{ReasonCode: rc}
	// A CONNACK may carry a Reason String even with Request Problem
	// Information 0 [MQTT-3.1.2-29], but not past the client's Maximum
	// Packet Size [MQTT-3.2.2-19].
	cp := &c.l.scratch.conn.Props
	if txt := reasonText(rc); txt != nil && (!cp.Has(codec.PropMaximumPacketSize) || int(cp.MaximumPacketSize) >= len(txt)+16) {
		ack.Props.ReasonString = txt
		ack.Props.Set(codec.PropReasonString)
	}
	c.pending = codec.AppendConnack(c.pending, codec.V5, &ack)
	c.logRefused(rc)
	c.reason = closeRefused
	c.x().told = true // the close lingers (linger.go)
	c.l.tot.refused[rc]++
	c.l.markDirty(c)
}

// resumeConnect runs the CONNECT kept in the connection's input buffer again after the
// previous owner of its session let go. Loop-only.
func (c *client) resumeConnect() {
	if c.state != stateTakeover {
		return
	}
	c.state = stateNew
	if kept := c.keptConnect(); kept != nil {
		// An enhanced authentication's CONNECT is not in the connection's input buffer.
		c.l.thr.enterRead()
		err := c.handleConnect(kept)
		c.l.thr.leaveRead()
		if c.state != stateTakeover {
			c.releasePartial() // a large CONNECT's own buffer (partial.go)
		}
		if err != nil || c.state == stateTakeover {
			if err != nil {
				if !errors.Is(err, errCloseQuiet) {
					c.protocolError(err)
				}
				c.closeNow(closeProtocol)
			}
			c.l.finish()
			return
		}
	}
	if c.onTraffic() == network.Close {
		c.closeNow(closeProtocol)
	}
	c.l.finish()
}

// effectiveKeepAlive applies KeepAliveMin/Max to a CONNECT keep alive in
// seconds and returns milliseconds (0: none; Validate keeps both limits
// within 65535 s, so it fits an int32).
func (b *Broker) effectiveKeepAlive(secs uint16) int32 {
	ka := time.Duration(secs) * time.Second
	if ka == 0 {
		ka = b.cfg.KeepAliveMax
	} else {
		ka = max(ka, b.cfg.KeepAliveMin)
		if b.cfg.KeepAliveMax > 0 {
			ka = min(ka, b.cfg.KeepAliveMax)
		}
	}
	if ka <= 0 {
		return 0
	}
	return int32(max(ka.Milliseconds(), 1))
}

// connackProps fills the MQTT 5 CONNACK properties that tell the client
// the broker's configuration: limits, the features available, an assigned
// client id and the keep alive the broker applies. Loop-only.
func (c *client) connackProps(pr *codec.Properties, p *codec.Connect) {
	cfg := &c.l.b.cfg
	if len(p.ClientID) == 0 { // checkClientID assigned one [MQTT-3.1.3-6]
		pr.AssignedClientID = []byte(c.sess.clientID) // [MQTT-3.2.2-16]
		pr.Set(codec.PropAssignedClientID)
	}
	if cfg.ReceiveMaximum < 65535 {
		pr.ReceiveMaximum = uint16(cfg.ReceiveMaximum)
		pr.Set(codec.PropReceiveMaximum)
	}
	pr.MaximumPacketSize = uint32(min(cfg.MaxPacketSize, MaxPacketSizeLimit))
	pr.Set(codec.PropMaximumPacketSize) // [MQTT-3.2.2-15]
	if cfg.TopicAliasMaximum > 0 {
		pr.TopicAliasMaximum = uint16(cfg.TopicAliasMaximum) // [MQTT-3.2.2-17]
		pr.Set(codec.PropTopicAliasMaximum)
	}
	if cfg.MaximumQoS < 2 {
		pr.MaximumQoS = byte(cfg.MaximumQoS) // [MQTT-3.2.2-9]
		pr.Set(codec.PropMaximumQoS)
	}
	if !cfg.RetainAvailable {
		pr.RetainAvailable = 0 // [MQTT-3.2.2-14]
		pr.Set(codec.PropRetainAvailable)
	}
	// The feature flags say what the configuration allows (MQTT 5
	// 3.2.2.3.11, 3.2.2.3.12, 3.2.2.3.13); handleSubscribe enforces them.
	pr.WildcardSubAvailable = flag01(cfg.WildcardSubAvailable)
	pr.Set(codec.PropWildcardSubAvailable)
	pr.SharedSubAvailable = flag01(cfg.SharedSubAvailable)
	pr.Set(codec.PropSharedSubAvailable)
	pr.SubIDAvailable = flag01(cfg.SubIDAvailable) // [MQTT-3.3.4-3] when 1
	pr.Set(codec.PropSubIDAvailable)
	if want := sessionExpiryOf(p); want != 0 && cfg.MaxSessionExpiry > 0 {
		if lt := c.l.b.sessionLifetime(want); lt < time.Duration(want)*time.Second || want == noExpiry {
			pr.SessionExpiry = uint32(lt / time.Second) // the broker's cap applies
			pr.Set(codec.PropSessionExpiry)
		}
	}
	if ka := uint16(c.keepAliveMs / 1000); ka != p.KeepAlive {
		pr.ServerKeepAlive = ka // [MQTT-3.2.2-21] [MQTT-3.2.2-22]
		pr.Set(codec.PropServerKeepAlive)
	}
}

// flag01 is a CONNACK availability byte: 1 for true, 0 for false.
func flag01(ok bool) byte {
	if ok {
		return 1
	}
	return 0
}

// newWill builds the will message of a CONNECT. A v5 will keeps its
// properties but the Will Delay Interval, which is not forwarded; its
// Message Expiry runs from when it is published (publishWill).
func newWill(p *codec.Connect) *message {
	wp := &p.WillProps
	if p.Version != codec.V5 || (wp.Present == 0 && len(wp.User) == 0) {
		return newMessage(p.WillTopic, p.WillPayload, p.WillQoS, p.WillRetain)
	}
	m := newMessageProps(p.WillTopic, p.WillPayload, p.WillQoS, p.WillRetain, wp, 0)
	if wp.Has(codec.PropWillDelay) {
		m.delay = wp.WillDelay
	}
	m.props.Present &^= uint64(1) << codec.PropWillDelay
	m.expireAt = 0
	return m
}

// noExpiry is the v5 Session Expiry Interval of a session that never
// expires, and what a 3.1.1 clean-session-0 session asks for.
const noExpiry = 0xFFFFFFFF

// sessionExpiryOf returns the Session Expiry Interval a CONNECT asks for,
// in seconds: 3.1.1 clean session 1 is 0 and clean session 0 is noExpiry;
// v5 without the property is 0.
func sessionExpiryOf(p *codec.Connect) uint32 {
	if p.Version != codec.V5 {
		if p.CleanStart {
			return 0
		}
		return noExpiry
	}
	if !p.Props.Has(codec.PropSessionExpiry) {
		return 0
	}
	return p.Props.SessionExpiry
}

// sessionLifetime is how long an offline session with interval secs is
// kept: capped by MaxSessionExpiry; 0 means forever (or, for secs 0, not
// at all; the caller handles that).
func (b *Broker) sessionLifetime(secs uint32) time.Duration {
	ceiling := b.cfg.MaxSessionExpiry
	if secs == noExpiry {
		return ceiling
	}
	d := time.Duration(secs) * time.Second
	if ceiling > 0 && d > ceiling {
		return ceiling
	}
	return d
}
