package engine

import (
	"sync/atomic"

	"github.com/gust-mqtt/gust/engine/network"

	"github.com/gust-mqtt/gust/codec"
)

// Partial packets: a packet whose bytes have not all arrived.
//
// A small one (declared length at most partialMin) waits in the connection's input
// buffer. While the first packet there is incomplete, a read looks at its
// fixed header only and returns: Peek(-1) copies everything the connection
// holds into one slice whenever its ring buffer is in use, so decoding
// from it on every read of a trickled packet would copy the packet again
// per read. InboundBuffered says when the packet is whole.
//
// A larger one is moved out of the input buffer as its bytes arrive, into a
// buffer of exactly its declared length that the broker owns
// (clientExt.part), and is decoded from there once complete. gnet's input ring
// would grow to the next power of two above the packet and be copied once
// more for each decode; the broker's buffer is written once and dropped as
// soon as the packet is handled. These buffers count against
// Config.MaxPartialBytes, summed over every connection (partialBudget): a
// packet whose buffer would pass it is refused before the buffer is
// allocated. A single packet is bounded by Config.MaxPacketSize, checked
// as soon as its fixed header is read.

// partialMin is the declared length above which a packet that is not whole
// is assembled in a buffer of its own. A packet up to it waits in the input
// ring, which grows to at most twice this per connection, outside the
// budget.
const partialMin = 4 << 10

// partialBudget is the bytes held by partial-packet buffers across every
// connection. Safe from any goroutine.
type partialBudget struct {
	used    atomic.Int64
	refused atomic.Uint64 // packets refused because the budget was spent
	log     limitLog
}

// reserve takes n bytes from the budget of limit; false when they would
// pass it. Safe from any goroutine.
func (p *partialBudget) reserve(n, limit int) bool {
	if p.used.Add(int64(n)) > int64(limit) {
		p.used.Add(-int64(n))
		return false
	}
	return true
}

// startPartial begins assembling a packet of type t and length n whose
// first bytes are at the head of the connection's input, and moves what has arrived
// into it. Loop-only.
func (c *client) startPartial(t codec.Type, n int) network.Action {
	if c.state != stateConnected {
		if err := c.preConnack(t); err != nil {
			return c.fail(err) // refused before its body is read [MQTT-3.1.0-1]
		}
	}
	b := c.l.b
	if !b.partial.reserve(n, b.cfg.MaxPartialBytes) {
		return c.refusePartial(n)
	}
	c.x().part = make([]byte, 0, n)
	act, _ := c.readPartial()
	return act
}

// readPartial moves the connection's input into c's partial packet and handles the
// packet once it is whole. more reports whether the input buffer may hold
// further packets to decode now. Loop-only; c.ext.part is not nil.
func (c *client) readPartial() (act network.Action, more bool) {
	x := c.ext
	p := x.part
	k, _ := c.nc.Read(p[len(p):cap(p)])
	p = p[:len(p)+k]
	x.part = p
	if len(p) < cap(p) {
		return network.None, false // the input buffer is empty
	}
	t, _, _, _ := codec.PacketLen(p, 0) // read whole by startPartial
	if c.state != stateNew {
		c.lastRead = c.l.b.now() // in stateNew it is when the connection opened
	}
	c.l.st.msgsIn++
	c.l.st.bytesIn += uint64(len(p))
	c.l.tot.pktIn[t&15]++
	c.l.tot.pktBytesIn[t&15] += uint64(len(p))
	err := c.handle(t, p)
	if c.state != stateTakeover {
		c.releasePartial()
	} // else it is the CONNECT, kept for resumeConnect (keptConnect)
	if err != nil {
		return c.fail(err), false
	}
	if c.state == stateTakeover || c.throttled() {
		return network.None, false // the rest waits in the connection's input buffer
	}
	return network.None, true
}

// releasePartial drops c's partial packet buffer and gives its bytes back
// to the budget. Loop-only.
func (c *client) releasePartial() {
	if c.ext == nil || c.ext.part == nil {
		return
	}
	c.l.b.partial.used.Add(-int64(cap(c.ext.part)))
	c.ext.part = nil
}

// refusePartial closes c because a packet of n bytes would pass
// Config.MaxPartialBytes: a connected v5 client is told DISCONNECT 0x97
// Quota exceeded. Loop-only.
func (c *client) refusePartial(n int) network.Action {
	b := c.l.b
	b.partial.refused.Add(1)
	if ok, hits := b.partial.log.allow(b.now(), 1); ok {
		b.log.Warn("partial packet refused: max_partial_bytes reached, connection closed",
			"client", c.clientID(), "remote", network.PeerAddr(c.nc), "packet_bytes", n,
			"partial_bytes", b.partial.used.Load(), "max_partial_bytes", b.cfg.MaxPartialBytes,
			"hits", hits)
	}
	c.reason = closeInboundQuota
	c.disconnectFor(errPartialBudget)
	return network.Close
}

// holdForTakeover leaves c's input in the connection's input buffer while its CONNECT waits
// for the session's previous connection to let go (resumeConnect reads it
// then), and closes c once the bytes past the CONNECT pass
// Config.MaxTakeoverBytes. The client has no CONNACK yet, so it is closed
// without a DISCONNECT [MQTT-3.14.0-1]. Loop-only.
func (c *client) holdForTakeover() network.Action {
	held := c.nc.InboundBuffered()
	if c.keptConnect() == nil { // the CONNECT is at the head of the input buffer
		hdr, _ := c.nc.Peek(min(held, 5))
		_, _, n, _ := codec.PacketLen(hdr, 0)
		held -= n
	}
	b := c.l.b
	if held <= b.cfg.MaxTakeoverBytes {
		return network.None
	}
	b.takeoverClosed.Add(1)
	if ok, hits := b.takeoverLog.allow(b.now(), 1); ok {
		b.log.Warn("connection closed: input while its session takeover is pending passed max_takeover_bytes",
			"remote", network.PeerAddr(c.nc), "held_bytes", held,
			"max_takeover_bytes", b.cfg.MaxTakeoverBytes, "hits", hits)
	}
	c.reason = closeTakeoverInput
	return network.Close
}
