package engine

import (
	"time"

	"github.com/gust-mqtt/gust/engine/network"
)

// Lingering close. When the broker closes a connection after telling the
// client why (an MQTT 5 DISCONNECT, or a CONNACK with a failure code), a
// client still sending would otherwise hit a closed socket: the kernel
// answers its bytes with a reset, and the reset discards the reason code
// the client has not read yet. So the broker half-closes instead (the
// client reads the reason, then the end of the stream), reads and
// discards what the client still sends, and closes for good once the
// client closes, after lingerTime, or after lingerBytes discarded,
// whichever comes first. The session, the will and the connection's
// counters are released when the linger starts: only the socket waits.
// A lingering connection still counts against max_connections.
const (
	// lingerTime bounds how long a connection lingers; housekeeping
	// (every 500 ms) closes it, so it lingers lingerTime to lingerTime
	// plus 500 ms.
	lingerTime = time.Second
	// lingerBytes bounds what a lingering connection may send before it
	// is closed at once.
	lingerBytes = 64 << 10
)

// shouldLinger reports whether closing c now should linger: it was told
// why, it is not being reset (slow consumer) and the broker is not
// shutting down. Loop-only.
func (c *client) shouldLinger() bool {
	if c.ext == nil || !c.ext.told || c.ext.lingering || c.state == stateClosed {
		return false
	}
	return c.reason != closeSlow && c.reason != closeShutdown && !c.l.b.closing.Load()
}

// linger writes what c has pending (its reason code), half-closes the
// connection and releases the client; the socket stays open on the loop's
// linger list until lingerExpire or the peer closes it. If the connection
// cannot half-close now (bytes still buffered, or a Conn without it) it
// is closed at once instead. Loop-only; the caller checked shouldLinger.
func (c *client) linger() {
	if h := c.heldFor(); h != nil {
		c.pending = c.pending[:h.start()] // not durable yet: never acknowledged
		c.ext.hold = nil
	}
	if len(c.pending) > 0 {
		_, _ = c.nc.Write(c.pending)
		c.pending = c.pending[:0]
	}
	if c.state == stateClosed { // the write failed: OnClose has run
		return
	}
	if c.nc.OutboundBuffered() > 0 || network.CloseWrite(c.nc) != nil {
		_ = c.l.nl.Close(c.nc)
		return
	}
	c.ext.lingering = true
	c.onClose()
	c.lastRead = c.l.b.now() // when the linger started
	c.l.addLinger(c)
	c.l.b.lingered.Add(1)
}

// lingering reports whether c is a closed client whose socket lingers.
func (c *client) lingering() bool {
	return c.ext != nil && c.ext.lingering
}

// drainLinger discards what a lingering client sent; past lingerBytes it
// asks for the connection to be closed. Loop-only.
func (c *client) drainLinger() network.Action {
	n, _ := c.nc.Discard(-1)
	c.ext.drained += n
	if c.ext.drained > lingerBytes {
		c.l.b.lingerCut.Add(1)
		return network.Close
	}
	return network.None
}

// endLinger forgets a lingering client whose socket is closed: called by
// OnClose. Loop-only.
func (c *client) endLinger() {
	c.ext.lingering = false
	c.l.removeLinger(c)
}

// addLinger puts c on the linger list; c.idx, free since removeClient, is
// its position there. Loop-only.
func (l *loop) addLinger(c *client) {
	c.idx = int32(len(l.lingering))
	l.lingering = append(l.lingering, c)
}

// removeLinger takes c off the linger list, moving the last one into its
// place. Loop-only.
func (l *loop) removeLinger(c *client) {
	i := int(c.idx)
	if i >= len(l.lingering) || l.lingering[i] != c {
		return
	}
	last := len(l.lingering) - 1
	l.lingering[i] = l.lingering[last]
	l.lingering[i].idx = int32(i)
	l.lingering[last] = nil
	l.lingering = l.lingering[:last]
}

// lingerExpire closes the lingering connections whose lingerTime has
// passed; run by housekeeping. Loop-only.
func (l *loop) lingerExpire(now int64) {
	for i := len(l.lingering) - 1; i >= 0; i-- { // backwards: see removeLinger
		if i >= len(l.lingering) {
			continue
		}
		if c := l.lingering[i]; now-c.lastRead >= int64(lingerTime) {
			_ = l.nl.Close(c.nc) // OnClose takes it off the list
		}
	}
}
