package loadgen

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
)

// connState is where a client is in its life.
type connState uint8

const (
	stateIdle        connState = iota // not yet dialled
	stateDialing                      // non-blocking connect in progress
	stateConnack                      // CONNECT sent, waiting for CONNACK
	stateSubscribing                  // SUBSCRIBE sent, waiting for SUBACK
	stateReady                        // publishing, receiving or idling
	stateLeaving                      // DISCONNECT sent, waiting for the broker to close (Offline)
	stateClosed
	stateAway // a persistent subscriber disconnected on purpose, to come back (Offline)
)

// role is what a client does.
type role uint8

const (
	rolePub role = iota
	roleSub
	roleIdle
)

// conn is one client connection. Loop-only.
type conn struct {
	l      *loop
	slot   int // index in l.conns, reported by the poller
	idx    int // publisher / subscriber / conn index within its role
	role   role
	state  connState
	fd     int
	events interest
	local  unix.Sockaddr // source address to bind, or nil
	remote unix.Sockaddr // broker address of this client, or nil for the loop's
	dirty  bool
	slow   bool // subscriber that stops reading once subscribed
	// returning marks a persistent subscriber reconnecting after being
	// away (Offline): its session, not a new one, is expected.
	returning bool

	ws      *wsConn  // WebSocket state (Config.WebSocket), else nil
	in      []byte   // bytes of a partial packet carried between reads
	out     []byte   // encoded bytes not yet written
	woff    int      // bytes of out already written
	tls     *tlsConn // nil without TLS (tls.go)
	started time.Time
	lastOut time.Time

	// Publisher state.
	pub       codec.Publish
	topicTmpl string // PubTopic with %i expanded, when it still has %n
	payload   []byte
	seq       uint32
	sent      int
	recv      int64 // expected deliveries per message (pubsub mode)
	done      bool
	tokens    float64
	lastFill  time.Time
	nextDue   time.Time // rate-limited publishers: when the next token is due
	free      []uint16  // free packet ids (QoS 1/2)
	inUse     []bool    // inUse[id] for id in 1..Inflight
	window    int

	// Subscriber state.
	filter   string
	subAt    time.Time // when SUBSCRIBE was sent
	wins     map[uint32]*seqWindow
	lastPub  uint32     // publisher of lastWin
	lastWin  *seqWindow // window of the latest delivery's publisher
	received int
}

// dial opens the non-blocking socket and starts connecting.
func (c *conn) dial() error {
	r := c.l.r
	fd, err := newSocket(r.family)
	if err != nil {
		return err
	}
	c.fd = fd
	c.started = c.l.now
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if cfg := r.cfg; c.role == rolePub && cfg.QoS == 0 && cfg.Rate == 0 {
		// A flat-out QoS 0 publisher is paced only by its socket: a fixed
		// send buffer (no autotuning to megabytes) keeps the backlog, and
		// so the measured latency, in the broker rather than in our kernel.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, flatSendBuf)
	}
	if c.local != nil {
		// Let connect() pick the port with the full 4-tuple, so each source
		// address is not limited to the ephemeral range on its own.
		bindAddressNoPort(fd)
		if err := unix.Bind(fd, c.local); err != nil {
			return err
		}
	}
	sa := c.l.sa
	if c.remote != nil {
		sa = c.remote
	}
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		return err
	}
	c.state = stateDialing
	c.events = wantWrite
	return c.l.p.add(fd, c.slot, c.events)
}

// connected completes the TCP connect and sends CONNECT.
func (c *conn) connected() {
	if v, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != 0 {
		if err == nil {
			err = unix.Errno(v)
		}
		c.note("connect: " + err.Error())
		c.fail()
		return
	}
	cfg := c.l.r.cfg
	if cfg.TLS != nil && c.tls == nil {
		if err := c.handshake(cfg.TLS, cfg.ConnectTimeout); err != nil {
			c.note("tls handshake: " + err.Error())
			c.fail()
			return
		}
	}
	if cfg.WebSocket {
		// CONNECT follows the 101 response (consume).
		c.ws = &wsConn{key: [4]byte{byte(c.slot), byte(c.slot >> 8), byte(c.l.id), 0x5a}}
		c.out = upgradeRequest(c.out, cfg.Addr, cfg.WSPath)
		c.ws.framed = len(c.out)
		c.state = stateConnack
		c.l.setEvents(c, wantRead)
		c.l.markDirty(c)
		return
	}
	c.sendConnect()
}

// sendConnect queues CONNECT.
func (c *conn) sendConnect() {
	cfg := c.l.r.cfg
	p := codec.Connect{
		Version:    cfg.Version,
		CleanStart: cfg.CleanStart,
		KeepAlive:  cfg.KeepAlive,
		ClientID:   []byte(c.clientID()),
	}
	expiry := cfg.SessionExpiry
	if c.role == roleSub && cfg.PersistentSubs {
		p.CleanStart, expiry = false, cfg.SubSessionExpiry
	}
	if cfg.Version == codec.V5 && expiry > 0 {
		p.Props.SessionExpiry = expiry
		p.Props.Set(codec.PropSessionExpiry)
	}
	if cfg.Username != "" {
		p.UsernameFlag, p.Username = true, []byte(cfg.Username)
	}
	if cfg.Password != "" {
		p.PasswordFlag, p.Password = true, []byte(cfg.Password)
	}
	c.out = codec.AppendConnect(c.out, &p)
	c.state = stateConnack
	c.l.setEvents(c, wantRead)
	c.l.markDirty(c)
}

func (c *conn) clientID() string {
	cfg := c.l.r.cfg
	switch c.role {
	case rolePub:
		return cfg.ClientPrefix + "-p" + itoa(c.idx)
	case roleSub:
		return cfg.ClientPrefix + "-s" + itoa(c.idx)
	default:
		return cfg.ClientPrefix + "-c" + itoa(c.idx)
	}
}

// gone reports whether c has no connection: closed for good or away.
func (c *conn) gone() bool { return c.state >= stateClosed }

// fail closes a client that never became ready.
func (c *conn) fail() {
	if c.gone() {
		return
	}
	c.l.connecting--
	c.l.st.connFailed.Add(1)
	if c.role == rolePub && !c.done {
		c.done = true // nothing to wait for: the publish phase ends without it
		c.l.r.pubsDone.Add(1)
	}
	c.closeFD()
}

// lost closes a client after an error or a close by the broker.
func (c *conn) lost() {
	if c.gone() {
		return
	}
	if c.state == stateLeaving {
		// The broker closed the connection after our DISCONNECT: it has
		// taken the session offline.
		c.closeFD()
		c.state = stateAway
		c.l.st.away.Add(1)
		return
	}
	if c.state < stateReady {
		c.fail()
		return
	}
	if !c.l.r.quit.Load() {
		c.l.st.errors.Add(1)
	}
	if c.role == rolePub && !c.done {
		c.done = true
		c.l.r.pubsDone.Add(1)
	}
	c.closeFD()
}

func (c *conn) closeFD() {
	c.state = stateClosed
	if c.fd >= 0 {
		c.l.st.segments.Add(tcpSegments(c.fd))
		_ = unix.Close(c.fd)
		c.fd = -1
	}
}

// becomeReady marks the client ready and records its connect latency.
func (c *conn) becomeReady() {
	c.state = stateReady
	c.l.connecting--
	if c.returning {
		c.l.st.back.Add(1)
		return
	}
	c.l.st.ready.Add(1)
	record(c.l.st.connect, c.l.now.Sub(c.started))
	c.lastFill = c.l.now
	if c.slow {
		c.l.setEvents(c, 0)
	}
}

// maxReadsPerEvent bounds the reads of one readable event: a subscriber
// drains up to this many full buffers per loop turn, so it keeps pace with
// the publishers sharing its loop (one 64 KiB read per turn let flat-out
// fan-in publishers outrun their subscriber).
const maxReadsPerEvent = 16

// readAll reads what the socket has (up to maxReadsPerEvent buffers) and
// handles every whole packet. It returns false when the connection was
// closed.
func (c *conn) readAll() bool {
	for i := 0; i < maxReadsPerEvent; i++ {
		n, err := unix.Read(c.fd, c.l.rbuf)
		if err == unix.EAGAIN || err == unix.EINTR {
			return true
		}
		if n <= 0 || err != nil {
			if err != nil {
				c.note("read: " + err.Error())
			} else {
				c.note("connection closed by the broker")
			}
			c.lost()
			return false
		}
		if c.tls != nil {
			if !c.tlsConsume(c.l.rbuf[:n]) {
				return false
			}
		} else if !c.consume(c.l.rbuf[:n]) {
			return false
		}
		if n < len(c.l.rbuf) || c.slow {
			return true // socket drained
		}
	}
	return true
}

// consume handles the packets in data (one read's bytes) after any partial
// packet carried from the previous read.
func (c *conn) consume(data []byte) bool {
	c.l.acc.bytesIn += int64(len(data))
	if c.ws != nil {
		var ok bool
		if data, ok = c.unframe(data); !ok {
			return false
		}
	}
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	used, ok := c.parse(data)
	if !ok {
		if c.state != stateClosed { // not closed by a DISCONNECT already
			c.note("bad or unexpected packet from the broker")
		}
		c.lost()
		return false
	}
	rest := data[used:]
	if len(c.in) > 0 {
		c.in = c.in[:copy(c.in, rest)]
	} else if len(rest) > 0 {
		c.in = append(c.in[:0], rest...)
	}
	return !c.gone()
}

// unframe turns a WebSocket client's read into the MQTT bytes it carries
// (sending CONNECT once the upgrade is answered, pongs to pings). It
// returns false when the connection was closed.
func (c *conn) unframe(data []byte) ([]byte, bool) {
	l := c.l
	plain, pong, res := c.ws.unframe(data, l.wsPlain[:0], nil)
	l.wsPlain = plain
	switch res {
	case wsFailed:
		c.note("websocket: upgrade refused or bad frame")
		c.lost()
		return nil, false
	case wsClosed:
		c.note("websocket: close frame from the broker")
		c.lost()
		return nil, false
	case wsUpgraded:
		c.sendConnect()
	}
	if len(pong) > 0 {
		c.out, l.wsScratch = c.ws.frameOut(c.out, l.wsScratch)
		c.out = append(c.out, pong...)
		c.ws.framed = len(c.out)
		l.markDirty(c)
	}
	return plain, true
}

// parse handles every whole packet at the start of b and returns how many
// bytes they took; ok is false on a malformed or unexpected packet.
func (c *conn) parse(b []byte) (used int, ok bool) {
	for used < len(b) {
		t, _, n, err := codec.PacketLen(b[used:], 0)
		if err == codec.ErrIncomplete {
			return used, true
		}
		if err != nil {
			return used, false
		}
		if !c.handle(t, b[used:used+n]) {
			return used, false
		}
		used += n
	}
	return used, true
}

// handle processes one whole packet pkt of type t.
func (c *conn) handle(t codec.Type, pkt []byte) bool {
	v := c.l.r.cfg.Version
	switch t {
	case codec.TypePublish:
		p := &c.l.r.scratch[c.l.id].pub
		if _, err := codec.DecodePublish(pkt, v, p); err != nil {
			return false
		}
		c.onPublish(p)
	case codec.TypePuback, codec.TypePubrec, codec.TypePubrel, codec.TypePubcomp:
		a := &c.l.r.scratch[c.l.id].ack
		if _, err := codec.DecodeAck(pkt, v, a); err != nil {
			return false
		}
		c.onAck(a)
	case codec.TypeConnack:
		return c.onConnack(pkt)
	case codec.TypeSuback:
		return c.onSuback(pkt)
	case codec.TypePingresp:
	case codec.TypeDisconnect:
		d := &c.l.r.scratch[c.l.id].disconnect
		if _, err := codec.DecodeDisconnect(pkt, v, d); err == nil {
			c.noteReason("broker sent DISCONNECT", d.ReasonCode)
			c.lost()
		}
		return false
	default:
		c.l.st.errors.Add(1)
	}
	return true
}

func (c *conn) onConnack(pkt []byte) bool {
	s := &c.l.r.scratch[c.l.id]
	if _, err := codec.DecodeConnack(pkt, c.l.r.cfg.Version, &s.connack); err != nil || s.connack.ReasonCode != 0 {
		if err == nil {
			c.noteConnack(s.connack.ReasonCode)
		}
		return false
	}
	if c.returning {
		if s.connack.SessionPresent {
			c.l.st.resumed.Add(1)
			c.becomeReady()
			return true
		}
		// The broker did not keep the session: subscribe again; what it
		// should have queued is lost, and the counts show it.
	} else {
		c.l.st.connected.Add(1)
	}
	if c.role == rolePub && s.connack.Props.ReceiveMaximum > 0 && int(s.connack.Props.ReceiveMaximum) < c.window {
		// The server's Receive Maximum bounds our inflight window [MQTT-3.3.4-7].
		c.window = int(s.connack.Props.ReceiveMaximum)
		c.free = c.free[:0]
		for id := c.window; id >= 1; id-- {
			c.free = append(c.free, uint16(id))
		}
	}
	if c.role != roleSub {
		c.becomeReady()
		return true
	}
	sub := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte(c.filter), QoS: c.l.r.cfg.QoS}}}
	c.out = codec.AppendSubscribe(c.out, c.l.r.cfg.Version, &sub)
	c.state = stateSubscribing
	c.subAt = c.l.now
	c.l.markDirty(c)
	return true
}

func (c *conn) onSuback(pkt []byte) bool {
	s := &c.l.r.scratch[c.l.id]
	if _, err := codec.DecodeSuback(pkt, c.l.r.cfg.Version, &s.suback); err != nil {
		return false
	}
	if c.state != stateSubscribing || len(s.suback.ReasonCodes) != 1 || s.suback.ReasonCodes[0] >= 0x80 {
		if len(s.suback.ReasonCodes) == 1 {
			c.noteReason("SUBACK", s.suback.ReasonCodes[0])
		}
		return false
	}
	c.becomeReady()
	return true
}

func (c *conn) sendPing() {
	c.out = codec.AppendPingreq(c.out)
	c.l.markDirty(c)
}

func (c *conn) sendDisconnect() {
	c.out = codec.AppendDisconnect(c.out, c.l.r.cfg.Version, &codec.Disconnect{})
}

// leave disconnects a ready persistent subscriber on purpose (Offline):
// DISCONNECT, then wait for the broker to close the connection, which
// it does once it has taken the session offline [MQTT-3.14.4-1].
func (c *conn) leave() {
	c.sendDisconnect()
	c.state = stateLeaving
	c.l.st.leaving.Add(1)
	c.flush()
	if !c.gone() {
		c.l.setEvents(c, wantRead)
	}
}

// rejoin reconnects a subscriber that left (Offline). A subscriber still
// waiting for the broker to close its connection is closed first.
func (c *conn) rejoin() {
	if c.state == stateLeaving {
		c.closeFD()
	}
	c.in, c.out, c.woff = c.in[:0], c.out[:0], 0
	c.ws = nil // a new connection, a new upgrade
	c.tls = nil
	c.state, c.returning = stateIdle, true
	c.l.connecting++
	if err := c.dial(); err != nil {
		c.fail()
	}
}

// flush writes pending output; on a full socket it waits to be writable.
func (c *conn) flush() {
	if c.ws != nil && c.ws.upgraded {
		c.out, c.l.wsScratch = c.ws.frameOut(c.out, c.l.wsScratch)
	}
	if c.tls != nil {
		c.seal()
		if c.ws != nil {
			c.ws.framed = 0 // sealed: out is empty
		}
		c.flushSealed()
		return
	}
	for c.woff < len(c.out) {
		n, err := unix.Write(c.fd, c.out[c.woff:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			c.l.setEvents(c, c.wantEvents()|wantWrite)
			return
		}
		if err != nil {
			c.note("write: " + err.Error())
			c.lost()
			return
		}
		c.woff += n
		c.l.acc.bytesOut += int64(n)
	}
	c.out, c.woff = c.out[:0], 0
	if c.ws != nil {
		c.ws.framed = 0
	}
	c.lastOut = c.l.now
	c.l.setEvents(c, c.wantEvents())
}

// flushSealed is flush for a TLS connection: it writes the sealed bytes.
func (c *conn) flushSealed() {
	w := c.tls.w
	for w.off < len(w.out) {
		n, err := unix.Write(c.fd, w.out[w.off:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			c.l.setEvents(c, c.wantEvents()|wantWrite)
			return
		}
		if err != nil {
			c.note("write: " + err.Error())
			c.lost()
			return
		}
		w.off += n
		c.l.acc.bytesOut += int64(n)
	}
	w.out, w.off = w.out[:0], 0
	c.lastOut = c.l.now
	c.l.setEvents(c, c.wantEvents())
}

// wantEvents is the interest set when nothing waits to be written: a
// flat-out QoS 0 publisher also wants to write, so socket space drives it.
func (c *conn) wantEvents() interest {
	ev := wantRead
	if c.slow && c.state == stateReady {
		ev = 0
	}
	cfg := c.l.r.cfg
	if c.role == rolePub && !c.done && cfg.Rate == 0 && cfg.QoS == 0 &&
		c.l.r.publishing.Load() && !c.l.r.stopPub.Load() {
		ev |= wantWrite
	}
	return ev
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	if i == 0 {
		return "0"
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	return string(b[n:])
}
