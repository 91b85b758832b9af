//go:build linux

package network

import (
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// uringConn is a connection of a uringLoop. Loop-only.
type uringConn struct {
	l     *uringLoop
	fd    int32
	slot  uint32
	gen   uint32
	inOff int32  // consumed bytes of in (at most the inbound bound the Handler keeps)
	in    []byte // inbound bytes that outlived a callback (the loop's view holds fresh ones)

	// out holds the unsent bytes in chunks of uringChunk from the loop's
	// pool: out[0][outOff:], then the others whole; the first flight
	// bytes of them are in the SEND in flight, what follows is queued.
	// Chunks never move or grow, so a write behind a SEND in flight copies
	// its bytes once, and a sent chunk goes back to the pool: an idle
	// connection holds none. The outbound bound keeps the counts under
	// 2 GiB.
	out      [][]byte
	outOff   int32
	outLen   int32
	flight   int32
	sendBusy bool
	isDirty  bool

	recvArmed bool
	paused    bool // PauseRead: no RECV is armed again until resumed
	shutWrite bool // CloseWrite: shut the write side once the queued bytes are sent
	// behind: the queued bytes waited behind a SEND that has completed;
	// they count as unsent until their own SEND is submitted.
	behind      bool
	closingDone bool // the Layer's Closing has run, or must not
	open        bool // false once closed: OnClose has run
	released    bool

	ctx   any
	local net.Addr
	layer Layer // the transport the Handler sees, nil for plain TCP
}

// user is what the Handler sees of c: its Layer, or c itself.
func (c *uringConn) user() Conn {
	if c.layer != nil {
		return c.layer
	}
	return c
}

// cur is c's unconsumed inbound bytes.
func (c *uringConn) cur() []byte {
	if l := c.l; l.viewConn == c {
		return l.view[l.viewOff:]
	}
	return c.in[c.inOff:]
}

func (c *uringConn) InboundBuffered() int { return len(c.cur()) }

func (c *uringConn) Peek(n int) ([]byte, error) {
	p := c.cur()
	if n <= 0 {
		return p, nil
	}
	if n > len(p) {
		return p, io.ErrShortBuffer
	}
	return p[:n], nil
}

func (c *uringConn) Discard(n int) (int, error) {
	p := c.cur()
	if n <= 0 || n > len(p) {
		n = len(p)
	}
	if l := c.l; l.viewConn == c {
		l.viewOff += n
	} else if c.inOff += int32(n); int(c.inOff) == len(c.in) {
		c.in, c.inOff = c.in[:0], 0
	}
	return n, nil
}

func (c *uringConn) Read(p []byte) (int, error) {
	n := copy(p, c.cur())
	_, _ = c.Discard(n)
	return n, nil
}

// Write copies p behind c's unsent bytes, for the round's SEND.
func (c *uringConn) Write(p []byte) (int, error) {
	if !c.open {
		return 0, net.ErrClosed
	}
	n := len(p)
	for len(p) > 0 {
		last := len(c.out) - 1
		if last < 0 || len(c.out[last]) == cap(c.out[last]) {
			c.out = append(c.out, c.l.getChunk())
			last++
		}
		b := c.out[last]
		k := copy(b[len(b):cap(b)], p)
		c.out[last] = b[:len(b)+k]
		p = p[k:]
	}
	c.outLen += int32(n)
	c.l.markDirty(c)
	return n, nil
}

// consume drops the first n unsent bytes, which the kernel has taken,
// and gives the chunks they emptied back to the loop.
func (c *uringConn) consume(n int) {
	c.outLen -= int32(n)
	if c.outLen <= 0 {
		c.dropOut()
		return
	}
	off, i := int(c.outOff)+n, 0
	for off >= len(c.out[i]) { // never the last: bytes remain
		off -= len(c.out[i])
		c.l.putChunk(c.out[i])
		i++
	}
	if i > 0 {
		k := copy(c.out, c.out[i:])
		clear(c.out[k:])
		c.out = c.out[:k]
	}
	c.outOff = int32(off)
}

// dropOut gives every chunk of c back to the loop, sent or not.
func (c *uringConn) dropOut() {
	for i, b := range c.out {
		c.l.putChunk(b)
		c.out[i] = nil
	}
	c.out, c.outOff, c.outLen = c.out[:0], 0, 0
}

// OutboundBuffered counts the bytes of a SEND the kernel has not completed
// and those queued behind it (also once that SEND completed, until their
// own is submitted). Of the bytes written this round with no SEND before
// them the first uringRoundWrite are not counted: nothing has refused them
// yet (on epoll they would be in the socket already); the rest are, so a
// round that takes in much for one connection (many receive completions)
// is held to the outbound bound as epoll's writes are.
func (c *uringConn) OutboundBuffered() int {
	if !c.sendBusy && !c.behind {
		return max(0, int(c.outLen)-uringRoundWrite)
	}
	return int(c.outLen)
}

func (c *uringConn) SetLinger(sec int) error {
	if c.released {
		return net.ErrClosed
	}
	return unix.SetsockoptLinger(int(c.fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: int32(sec)})
}

// RemoteAddr is nil: the connection keeps no peer address (PeerAddr
// reads it from the socket).
func (c *uringConn) RemoteAddr() net.Addr { return nil }

// LocalAddr is the address the connection was accepted on (Adopt's local).
func (c *uringConn) LocalAddr() net.Addr { return c.local }

// CloseWrite shuts the write side of the socket once every byte written
// before it has been sent (network.CloseWrite).
func (c *uringConn) CloseWrite() error {
	if !c.open {
		return net.ErrClosed
	}
	c.shutWrite = true
	if !c.sendBusy && c.outLen == 0 {
		return unix.Shutdown(int(c.fd), unix.SHUT_WR)
	}
	return nil
}

// Fd is the connection's socket.
func (c *uringConn) Fd() int            { return int(c.fd) }
func (c *uringConn) Context() any       { return c.ctx }
func (c *uringConn) SetContext(ctx any) { c.ctx = ctx }
