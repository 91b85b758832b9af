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

	queued   []byte // written, not yet submitted
	sending  []byte // in flight from sendOff on
	sendOff  int32  // the outbound bound keeps a SEND under 2 GiB
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

// Write queues p for the round's SEND.
func (c *uringConn) Write(p []byte) (int, error) {
	if !c.open {
		return 0, net.ErrClosed
	}
	c.queued = append(c.queued, p...)
	c.l.markDirty(c)
	return len(p), nil
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
		return max(0, len(c.queued)-uringRoundWrite)
	}
	return len(c.queued) + len(c.sending) - int(c.sendOff)
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
	if !c.sendBusy && len(c.queued) == 0 {
		return unix.Shutdown(int(c.fd), unix.SHUT_WR)
	}
	return nil
}

// Fd is the connection's socket.
func (c *uringConn) Fd() int            { return int(c.fd) }
func (c *uringConn) Context() any       { return c.ctx }
func (c *uringConn) SetContext(ctx any) { c.ctx = ctx }
