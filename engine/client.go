package engine

import (
	"errors"

	"github.com/gust-mqtt/gust/engine/network"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
)

// clientState is the life stage of a connection.
type clientState byte

const (
	stateNew       clientState = iota // waiting for CONNECT [MQTT-3.1.0-1]
	stateTakeover                     // CONNECT read, waiting for the old session
	stateConnected                    // CONNACK sent
	stateClosed                       // closed; late items are ignored
	stateAuth                         // CONNECT read, enhanced authentication under way (auth.go)
	stateAuthCheck                    // CONNECT left in the connection's input buffer, its password checked off the loop (login.go)
)

// closeReason says why the broker closes a connection. It selects whether
// the will is published and, for MQTT 5, the DISCONNECT reason code.
type closeReason byte

const (
	closeNone           closeReason = iota
	closeClean                      // DISCONNECT received: no will [MQTT-3.14.4-3]
	closeProtocol                   // malformed or forbidden packet
	closeKeepAlive                  // silent for 1.5x keep alive [MQTT-3.1.2-24]
	closeTakeover                   // same client id connected again [MQTT-3.1.4-2]
	closeSlow                       // outbound stuck past SlowConsumerTimeout
	closeShutdown                   // broker shutting down
	closeRefused                    // CONNECT refused with a CONNACK code
	closeConnectTimeout             // no CONNECT in time
	closeInboundQuota               // partial packet past MaxPartialBytes (partial.go)
	closeTakeoverInput              // input past MaxTakeoverBytes while a takeover is pending
	closeStoreFailed                // a commit its acknowledgements waited for failed (durable.go)
	closeKicked                     // closed by an operator (Broker.Kick)
)

var closeReasonNames = [...]string{"socket", "disconnect", "protocol error", "keep alive timeout",
	"session taken over", "slow consumer", "server shutdown", "connect refused", "connect timeout",
	"partial packets over budget", "input during takeover over bound", "store commit failed", "kicked"}

func (r closeReason) String() string { return closeReasonNames[r] }

// v5Reason is the MQTT 5 DISCONNECT reason code for r.
func (r closeReason) v5Reason() codec.ReasonCode {
	switch r {
	case closeKeepAlive:
		return codec.ReasonKeepAliveTimeout
	case closeTakeover:
		return codec.ReasonSessionTakenOver
	case closeSlow, closeInboundQuota:
		return codec.ReasonQuotaExceeded
	case closeShutdown:
		return codec.ReasonServerShuttingDown
	case closeStoreFailed:
		return codec.ReasonUnspecifiedError
	case closeKicked:
		return codec.ReasonAdministrativeAction
	}
	return codec.ReasonProtocolError
}

// client is one network connection. It is owned by its loop and touched
// only there. Its fields are ordered and sized so that an idle connection
// fits the 96-byte size class (TestIdleConnSizeClasses): state
// that only some connections need lives in ext.
type client struct {
	nc   network.Conn
	l    *loop
	sess *session
	will *message
	// ext holds the state of rarely used features; nil until one is used.
	// The client identifier is sess.clientID (clientID).
	ext *clientExt

	pending []byte // bytes written this round, flushed once by loop.finish

	// lastRead is the coarse clock at the last packet, or when the
	// connection was opened (the CONNECT timeout counts from it).
	lastRead int64
	// keepAliveMs is the effective keep alive in milliseconds, 0 none
	// (keepAlive).
	keepAliveMs int32
	idx         int32 // position in l.clients

	state   clientState
	version codec.Version
	reason  closeReason
	dirty   bool

	thr clientThrottle // held, paused: not read until resumed (throttle.go)
	// noProblem is set when the v5 client sent Request Problem Information
	// 0: no Reason String or User Property on acknowledgements
	// [MQTT-3.1.2-29].
	noProblem bool
	// aliasMax is the v5 client's Topic Alias Maximum (0: no aliases); the
	// topics given an alias are in ext.outAlias (alias.go).
	aliasMax uint16
}

// clientExt is the part of a client that most connections never need: it
// is allocated on first use (client.x), so an idle 3.1.1 connection does
// not pay for MQTT 5 options, enhanced authentication, topic aliases or the
// slow-consumer clock.
type clientExt struct {
	// auth is the MQTT 5 enhanced authentication state (auth.go), nil for
	// clients whose CONNECT named no Authentication Method.
	auth *authState
	// check is the password check of the CONNECT, from when it is handed
	// to the pool until the connection closes (login.go).
	check *auth.Check
	// claim is the claim of the session's ownership in the cluster, from
	// the CONNECT until the connection closes (cluster_session.go).
	claim *claimState
	// username is kept for the Authoriser and the ACL only (clientInfo).
	username string
	// acl is the connection's side of the ACL's PUBLISH decisions, nil
	// until its first check (aclcheck.go).
	acl *clientACL
	// aliases holds the topics of the client's v5 Topic Aliases, indexed by
	// alias; they live and die with this connection [MQTT-3.3.2-7].
	aliases [][]byte
	// outAlias maps the topics given an alias on this connection (alias.go).
	outAlias map[string]uint16
	// aliasBytes is what outAlias counts against Config.TopicAliasBytes;
	// aliasFull is set once a topic did not fit (alias.go).
	aliasBytes int
	aliasFull  bool
	// maxOut is the v5 client's Maximum Packet Size; 0 means no limit.
	maxOut int
	// slowSince is the coarse clock when outbound went over budget; 0 when
	// under.
	slowSince int64
	// hold is the part of pending waiting for a store commit (durable.go).
	hold *clientHold
	// told is set once a DISCONNECT or a failure CONNACK is written: the
	// close that follows lingers (linger.go); lingering is set while it
	// does, and drained counts the bytes discarded meanwhile.
	told      bool
	lingering bool
	drained   int
	// closeErr is the protocol error the connection is closed for, named
	// in the disconnect log line.
	closeErr error
	// part is a large packet being assembled (partial.go): len is what has
	// arrived, cap its declared length. After a whole CONNECT that started
	// a takeover it is that CONNECT, kept until resumeConnect.
	part []byte
}

// x returns c's extension, allocating it on first use. Loop-only.
func (c *client) x() *clientExt {
	if c.ext == nil {
		c.ext = new(clientExt)
	}
	return c.ext
}

// auth returns c's MQTT 5 enhanced authentication state (auth.go), nil
// for a client whose CONNECT named no Authentication Method. Loop-only.
func (c *client) auth() *authState {
	if c.ext == nil {
		return nil
	}
	return c.ext.auth
}

// keepAlive returns c's effective keep alive in nanoseconds, 0 for none.
func (c *client) keepAlive() int64 {
	return int64(c.keepAliveMs) * 1e6
}

// maxOut is the v5 client's Maximum Packet Size; 0 means no limit.
func (c *client) maxOut() int {
	if c.ext == nil {
		return 0
	}
	return c.ext.maxOut
}

// slowSince is the coarse clock when c's outbound went over budget; 0 when
// under.
func (c *client) slowSince() int64 {
	if c.ext == nil {
		return 0
	}
	return c.ext.slowSince
}

// clientID returns c's client identifier, "" before its session is open.
// Loop-only.
func (c *client) clientID() string {
	if c.sess == nil {
		return ""
	}
	return c.sess.clientID
}

// clientInfo describes c to the Authoriser, in the loop's scratch (valid
// during the call only, as ClientInfo documents). Loop-only.
func (c *client) clientInfo() *ClientInfo {
	info := &c.l.scratch.info
	*info = ClientInfo{ClientID: c.clientID(), ProtocolVersion: byte(c.version)}
	if a := c.auth(); a != nil && a.user != "" {
		info.Username = a.user // who the exchange authenticated
	} else if c.ext != nil {
		info.Username = c.ext.username
	}
	return info
}

// pendingCap bounds the capacity a client keeps in pending between rounds,
// so idle connections hold little memory; a buffer over pendingMax is
// never kept past its flush (one round's burst, such as a hand-over batch
// of large messages, does not stay resident when the traffic stops).
const (
	pendingCap = 64 << 10
	pendingMax = 1 << 20
)

// onTraffic decodes every whole packet in the connection's input buffer in place and
// handles it; a partial packet waits for the rest (partial.go). Loop-only.
func (c *client) onTraffic() network.Action {
	c.l.thr.enterRead()
	act := c.readPackets()
	c.l.thr.leaveRead()
	return act
}

// readPackets is onTraffic's body.
func (c *client) readPackets() network.Action {
	switch c.state {
	case stateTakeover:
		return c.holdForTakeover() // the CONNECT waits in the connection's input buffer
	case stateClosed:
		if c.lingering() {
			return c.drainLinger()
		}
		return network.None
	}
	if c.state == stateAuthCheck {
		return c.whileChecking() // so does it for its password check
	}
	if c.throttled() {
		c.lastRead = c.l.b.now() // it is alive, we are the ones not reading
		if c.thr.paused() {
			c.l.nl.PauseRead(c.nc, true) // the poller watched it again
		}
		if c.nc.InboundBuffered() < throttleMaxBuffered {
			return network.None
		}
		c.l.thr.overflow(c) // over the bound: read (and drop) rather than buffer more
	}
	if c.ext != nil && c.ext.part != nil {
		if act, more := c.readPartial(); !more {
			return act
		}
	}
	total := c.nc.InboundBuffered()
	if total == 0 {
		return network.None
	}
	maxSize := c.l.b.cfg.MaxPacketSize
	// While the first packet is incomplete only its fixed header is looked
	// at: Peek(-1) would copy all that the connection holds (partial.go).
	hdr, _ := c.nc.Peek(min(total, 5))
	if t, _, n, err := codec.PacketLen(hdr, maxSize); err == codec.ErrIncomplete && n > total {
		if n > partialMin {
			return c.startPartial(t, n)
		}
		return network.None
	} else if err == codec.ErrIncomplete && n == 0 {
		return network.None // the fixed header itself is incomplete
	}
	buf, _ := c.nc.Peek(-1)
	off := 0
	for off < len(buf) && c.state != stateTakeover && c.state != stateAuthCheck {
		src := buf[off:]
		t, _, n, err := codec.PacketLen(src, maxSize)
		if err == codec.ErrIncomplete {
			if n > partialMin && off > 0 { // off 0 is the case handled above
				_, _ = c.nc.Discard(off) // buf is not used again
				return c.startPartial(t, n)
			}
			break
		}
		if err != nil {
			if err == codec.ErrPacketTooLarge {
				b := c.l.b
				b.logLimit(&b.limits.logOversize, 1, "packet refused: larger than max_packet_size, connection closed",
					"max_packet_size", maxSize, c.clientID())
			}
			c.protocolError(err)
			c.disconnectFor(err) // v5: 0x95 for a packet over MaxPacketSize
			return network.Close
		}
		if c.state != stateNew {
			c.lastRead = c.l.b.now() // in stateNew it is when the connection opened
		}
		c.l.st.msgsIn++
		c.l.st.bytesIn += uint64(n)
		c.l.tot.pktIn[t&15]++
		c.l.tot.pktBytesIn[t&15] += uint64(n)
		if err := c.handle(t, src[:n]); err != nil {
			_, _ = c.nc.Discard(off + n)
			return c.fail(err)
		}
		if c.state == stateAuthCheck {
			break // the CONNECT stays in the buffer until checkDone
		}
		if c.state == stateTakeover {
			if c.keptConnect() != nil {
				off += n // the CONNECT is kept in c.auth(), not in the buffer
			}
			break // keep the CONNECT in the buffer until resumeConnect
		}
		off += n
		if c.throttled() {
			break // the rest waits in the connection's input buffer (throttle.go)
		}
	}
	if off > 0 {
		_, _ = c.nc.Discard(off)
	}
	return network.None
}

// fail reacts to err from handling a packet: unless the handler already
// answered (errCloseQuiet), it records a protocol error and tells a v5
// client why; the connection is then closed. Loop-only.
func (c *client) fail(err error) network.Action {
	if !errors.Is(err, errCloseQuiet) {
		c.protocolError(err)
		c.disconnectFor(err)
	}
	return network.Close
}

// writeQoS0 appends an encoded QoS 0 PUBLISH unless the outbound budget is
// spent, in which case it is dropped and counted. It reports whether c is
// congested for QoS 0 backpressure (throttle.go): its unsent bytes, with
// pkt, pass half of MaxOutboundBytes. Loop-only.
func (c *client) writeQoS0(pkt []byte) (busy bool) {
	if c.state != stateConnected {
		return false
	}
	if limit := c.maxOut(); limit > 0 && len(pkt) > limit {
		c.l.st.dropped++ // [MQTT-3.1.2-24]
		return false
	}
	budget := c.l.b.cfg.MaxOutboundBytes
	used := len(c.pending) + c.nc.OutboundBuffered() + len(pkt)
	if used > budget {
		c.l.st.dropped++
		return true
	}
	c.pending = append(c.pending, pkt...)
	c.l.st.msgsOut++
	c.l.st.pubOut++
	c.l.st.bytesOut += uint64(len(pkt))
	c.l.tot.pubOut[0]++
	c.l.tot.pubBytesOut[0] += uint64(len(pkt))
	c.l.markDirty(c)
	return used > budget/2
}

// overBudget reports whether n more bytes would exceed MaxOutboundBytes.
func (c *client) overBudget(n int) bool {
	return len(c.pending)+c.nc.OutboundBuffered()+n > c.l.b.cfg.MaxOutboundBytes
}

// flush writes pending with one Write and tracks the slow-consumer
// deadline. Loop-only; called by loop.finish.
func (c *client) flush() {
	c.dirty = false
	if c.state == stateClosed {
		c.pending = c.pending[:0]
		return
	}
	if h := c.heldFor(); h != nil {
		// The bytes from h.start() wait for a store commit (durable.go).
		if off := h.start(); off > 0 {
			_, _ = c.nc.Write(c.pending[:off])
			if c.state == stateClosed {
				return // the write failed and closed c (onClose emptied pending)
			}
			c.pending = c.pending[:copy(c.pending, c.pending[off:])]
			h.sent(off)
		}
	} else if n := len(c.pending); n > 0 {
		_, _ = c.nc.Write(c.pending) // on error the connection closes (OnClose)
		// Keep a big buffer while rounds keep filling it (a busy subscriber
		// would otherwise regrow it every round); give it back once a round
		// uses under a quarter of it, or at once past pendingMax.
		if cap(c.pending) > pendingMax || cap(c.pending) > pendingCap && n < cap(c.pending)/4 {
			c.pending = nil
		} else {
			c.pending = c.pending[:0]
		}
	}
	c.checkSlow()
}

// checkSlow starts or clears the slow-consumer clock and closes c when its
// outbound stayed stuck past SlowConsumerTimeout. The clock starts when
// the connection's outbound buffer passes 3/4 of MaxOutboundBytes and
// stops only when it falls under 1/4: QoS 0 drops keep it just under the
// budget, so a single threshold would never fire. Loop-only.
func (c *client) checkSlow() {
	if c.state == stateClosed {
		return
	}
	budget := c.l.b.cfg.MaxOutboundBytes
	ob := c.nc.OutboundBuffered()
	c.noteBusy(ob)
	if ob <= budget/4 {
		if c.ext != nil {
			c.ext.slowSince = 0
		}
		return
	}
	now := c.l.b.now()
	since := c.slowSince()
	if since == 0 {
		if ob >= budget/4*3 {
			c.x().slowSince = now
		}
		return
	}
	if now-since > int64(c.l.b.cfg.SlowConsumerTimeout) {
		c.l.b.slowClosed.Add(1)
		c.l.b.log.Debug("slow consumer", "client", c.clientID(), "outbound", ob)
		c.closeNow(closeSlow)
	}
}

// closeNow closes c from its loop, outside of its own OnTraffic.
// Loop-only.
func (c *client) closeNow(r closeReason) {
	if c.state == stateClosed {
		return
	}
	if c.reason == closeNone {
		c.reason = r
	}
	if h := c.heldFor(); h != nil {
		c.pending = c.pending[:h.start()] // not durable yet: never acknowledged
		c.ext.hold = nil
	}
	if r == closeShutdown || r == closeTakeover || r == closeSlow || r == closeKeepAlive || r == closeStoreFailed || r == closeKicked {
		c.sendDisconnect(r) // v5: 0x8B, 0x8E, 0x97, 0x8D, 0x80, 0x98
	}
	if r != closeSlow && c.shouldLinger() {
		c.linger() // linger.go
		return
	}
	if r == closeSlow {
		// Discard what the stuck peer never read: a reset instead of a
		// close that would keep the bytes in the kernel for minutes.
		_ = c.nc.SetLinger(0)
	} else if len(c.pending) > 0 {
		_, _ = c.nc.Write(c.pending)
		c.pending = c.pending[:0]
	}
	_ = c.l.nl.Close(c.nc) // calls OnClose before it returns
}

// sendDisconnect tells a v5 client why it is closed; v3 has no
// server DISCONNECT.
func (c *client) sendDisconnect(r closeReason) {
	if c.version != codec.V5 || c.state != stateConnected {
		return
	}
	c.pending = c.appendDisconnect(c.pending, r.v5Reason())
	_, _ = c.nc.Write(c.pending)
	c.pending = c.pending[:0]
}

// onClose releases everything c holds: publishes the will unless the close
// was clean [MQTT-3.1.2-8], detaches or discards the session. Loop-only;
// called from the handler's OnClose.
func (c *client) onClose() {
	if c.state == stateClosed {
		return
	}
	wasConnected := c.state == stateConnected
	c.state = stateClosed
	c.cancelCheck()
	c.l.removeClient(c)
	c.pending = nil
	c.releasePartial()
	b := c.l.b
	if wasConnected {
		b.connected.Add(-1)
	}
	c.logClosed(wasConnected)
	if c.will != nil && c.reason != closeClean {
		w := c.will
		c.will = nil // [MQTT-3.1.2-10]
		c.closeWill(w)
	}
	if c.sess != nil {
		b.detach(c.l, c.sess, c)
		c.sess = nil
	}
}
