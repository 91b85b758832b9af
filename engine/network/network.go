// Package network is the broker's seam to its sockets: the event loops
// that read, write and close connections, and the way other goroutines
// reach a loop. The engine (sessions, routing, delivery) sees only the
// interfaces below; Gnet implements them on gnet's epoll loops, and a TLS
// or WebSocket transport (a Conn over another Conn) or an io_uring backend
// (another Poller) plugs in here without touching the engine.
//
// # Contract
//
// Goroutines. A Poller runs n event loops, each on its own goroutine.
// Every Handler callback for a connection runs on the goroutine of the
// loop that owns it, one callback at a time per loop: OnOpen, then any
// number of OnTraffic, then OnClose exactly once. OnWake runs on the loop
// it names. Loop.Execute, Loop.Wake and Loop.Adopt may be called from any
// goroutine; every Conn method and Loop.Close only on the connection's own
// loop (in a callback or in a function passed to Execute).
//
// Bytes. Inbound bytes belong to the Conn: a slice returned by Peek is
// valid until the next Discard, Read or Peek on that Conn, or the return
// of the callback, whichever is first; the handler consumes bytes with
// Discard or Read, and what it leaves stays buffered for the next
// OnTraffic. Write copies what it cannot send at once: the caller may
// reuse p as soon as Write returns.
//
// Completion. A Write is complete for the caller when it returns: the
// bytes are the Conn's, sent in order before any later Write and before
// the connection is closed by Close (not when it is reset: SetLinger(0)
// discards them). OutboundBuffered counts the bytes accepted but not yet
// taken by the kernel: a peer that does not read makes it grow, which is
// how the engine sees a slow consumer. A Write error means the
// connection is broken; OnClose follows.
//
// Closing. A callback returning Close, or Loop.Close, closes the
// connection; OnClose runs before Loop.Close returns (and so may run
// inside the caller's own callback), never twice. When the loops stop
// (Stop, or a failure), every connection still open is closed, with its
// OnClose on its loop, before Done is closed.
//
// Transports. A connection adopted with a Wrap reaches the Handler as the
// Layer the Wrap built over it (TLS, WebSocket): the Handler reads the
// bytes the Layer decoded and writes through it, and everything above
// holds of the Layer as of a raw Conn. layer.go says how a Poller drives
// a Layer.
package network

import (
	"context"
	"net"

	"golang.org/x/sys/unix"
)

// Action is what a callback asks of its connection.
type Action int8

const (
	// None keeps the connection open.
	None Action = iota
	// Close closes the connection once the callback has returned.
	Close
)

// Conn is one connection as a loop holds it. Every method is called on the
// connection's loop only.
type Conn interface {
	// InboundBuffered is the number of bytes read from the peer and not yet
	// consumed.
	InboundBuffered() int
	// Peek returns the next n buffered bytes without consuming them, or all
	// of them if n <= 0; fewer than n if fewer are buffered (with an
	// error). See the package comment for how long the slice is valid.
	Peek(n int) ([]byte, error)
	// Discard consumes the next n buffered bytes, all if n <= 0.
	Discard(n int) (int, error)
	// Read consumes up to len(p) buffered bytes into p.
	Read(p []byte) (int, error)

	// Write queues p for the peer; see the package comment.
	Write(p []byte) (int, error)
	// OutboundBuffered is the number of written bytes the kernel has not
	// taken yet.
	OutboundBuffered() int
	// SetLinger sets SO_LINGER; 0 makes the close a reset that discards
	// what is buffered.
	SetLinger(sec int) error

	RemoteAddr() net.Addr
	// Context and SetContext hold the handler's value for the connection.
	Context() any
	SetContext(ctx any)
}

// Loop is one event loop of a Poller.
type Loop interface {
	// Execute runs fn on the loop's goroutine, after the callback running
	// now if any. It may allocate; it fails only when the loops have
	// stopped, and then fn never runs. Any goroutine.
	Execute(fn func()) error
	// Wake makes the loop call Handler.OnWake soon; several Wakes before
	// it runs may give one OnWake. It does not allocate and never blocks.
	// Any goroutine.
	Wake()
	// Adopt makes fd, a connected stream socket accepted from local with
	// peer sa (non-blocking, close-on-exec), a connection of this loop:
	// Handler.OnOpen runs on the loop, with the Layer wrap builds over it
	// if wrap is not nil (layer.go). If the loop cannot register it,
	// failed runs on the loop and the descriptor is closed; if the loops
	// have stopped, Adopt returns an error and the caller keeps fd. Any
	// goroutine.
	Adopt(fd int, sa unix.Sockaddr, local net.Addr, wrap Wrap, failed func(error)) error
	// Close closes c, a connection of this loop (or its Layer), and calls
	// Handler.OnClose before it returns. Loop-only.
	Close(c Conn) error
}

// Handler is what a Poller calls on its loops: the engine.
type Handler interface {
	// OnOpen is called for a new connection of loop idx (its position in
	// the slice Start returned).
	OnOpen(idx int, c Conn) Action
	// OnTraffic is called when c has new inbound bytes.
	OnTraffic(c Conn) Action
	// OnClose is called once when c is closed, whoever closed it; err is
	// why, nil for a close asked by the handler.
	OnClose(c Conn, err error)
	// OnWake is called on loop idx after Loop.Wake.
	OnWake(idx int)
}

// Poller runs the event loops.
type Poller interface {
	// Start starts n event loops calling h and returns them; it returns
	// when they are ready.
	Start(h Handler, n int) ([]Loop, error)
	// Stop stops the loops, closing their connections, and releases what
	// Start set up; it returns when done or when ctx expires. Any
	// goroutine, after Start.
	Stop(ctx context.Context) error
	// Done is closed when the loops have stopped, by Stop or on their own
	// (a fatal error: see Err).
	Done() <-chan struct{}
	// Err is why the loops stopped, nil for Stop; valid once Done is
	// closed.
	Err() error
}
