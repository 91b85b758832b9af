package transport

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/engine/network"
)

// ErrHandshakesFull is returned by Handshakes.Start when the bound of
// handshakes in progress is reached.
var ErrHandshakesFull = errors.New("transport: tls handshakes in progress at their bound (tls_handshakes)")

var errStopped = errors.New("transport: shutting down")

// Handshakes runs TLS handshakes off the event loops: each on a goroutine
// of its own, at most max at once, each bounded by a deadline. A socket
// whose handshake succeeds is handed to a loop with a Wrap that builds its
// tlsLayer; the loop then reads its records without blocking (tls.go).
// Its methods and counters are safe from any goroutine.
type Handshakes struct {
	max     int64
	running atomic.Int64

	mu      sync.Mutex
	active  map[*os.File]struct{} // the sockets shaking hands, for Stop
	stopped bool

	// Completed, Failed and Refused count handshakes that succeeded, that
	// failed (bad input, untrusted certificate, deadline), and sockets
	// refused because max were running.
	Completed, Failed, Refused atomic.Uint64
}

// NewHandshakes returns a pool running at most max handshakes at once.
func NewHandshakes(max int) *Handshakes {
	return &Handshakes{max: int64(max), active: make(map[*os.File]struct{})}
}

// Stop ends the handshakes in progress (their deadline becomes now) and
// makes later ones fail at once; a broker shutting down does not wait for
// a stalled client's deadline.
func (h *Handshakes) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	for f := range h.active {
		_ = f.SetDeadline(time.Now())
	}
}

// track adds f to the handshakes in progress, or returns false once
// stopped.
func (h *Handshakes) track(f *os.File) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return false
	}
	h.active[f] = struct{}{}
	return true
}

func (h *Handshakes) untrack(f *os.File) {
	h.mu.Lock()
	delete(h.active, f)
	h.mu.Unlock()
}

// Running is the number of handshakes in progress.
func (h *Handshakes) Running() int64 { return h.running.Load() }

// Max is the bound on handshakes in progress.
func (h *Handshakes) Max() int64 { return h.max }

// Accepted is a socket accepted by a TLS listener, to shake hands on.
type Accepted struct {
	FD       int // non-blocking, close-on-exec
	Local    net.Addr
	Remote   net.Addr
	At       time.Time // when it was accepted
	Deadline time.Time // when its handshake gives up
}

// Start runs a's handshake under srv on a goroutine of its own, unless max
// are running: then it returns ErrHandshakesFull and leaves a.FD to the
// caller. Otherwise the goroutine owns a.FD: when the handshake succeeds
// it calls adopt with the Wrap to give the loop (adopt hands a.FD to a
// loop, or returns an error, and then a.FD is closed and failed called);
// when it fails it closes a.FD and calls failed with why.
func (h *Handshakes) Start(srv *TLSServer, a Accepted, adopt func(network.Wrap) error, failed func(error)) error {
	if h.running.Add(1) > h.max {
		h.running.Add(-1)
		h.Refused.Add(1)
		return ErrHandshakesFull
	}
	go h.run(srv, a, adopt, failed)
	return nil
}

// run is one handshake's goroutine.
func (h *Handshakes) run(srv *TLSServer, a Accepted, adopt func(network.Wrap) error, failed func(error)) {
	defer h.running.Add(-1)
	w, tc, err := h.handshake(srv, a)
	if err != nil {
		_ = unix.Close(a.FD)
		h.Failed.Add(1)
		failed(err)
		return
	}
	h.Completed.Add(1)
	id := ""
	if srv.opts.UseIdentityAsUsername {
		cs := tc.ConnectionState()
		id = identity(&cs)
	}
	wrap := func(raw network.Conn) network.Layer {
		w.raw = raw
		// more: the handshake may have read records past its own (a
		// CONNECT sent with the client's Finished).
		return &tlsLayer{raw: raw, tc: tc, wire: w, more: true, accepted: a.At, identity: id}
	}
	if err := adopt(wrap); err != nil {
		_ = unix.Close(a.FD)
		failed(err)
	}
}

// handshake shakes hands on a duplicate of a.FD in Go's poller, so that
// reads and writes block until a.Deadline; the duplicate is closed (and
// leaves the poller) before it returns, a.FD staying open.
func (h *Handshakes) handshake(srv *TLSServer, a Accepted) (*wire, *tls.Conn, error) {
	dup, err := unix.FcntlInt(uintptr(a.FD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(dup), "tls-handshake") // non-blocking: in Go's poller
	defer func() { _ = f.Close() }()
	if err := f.SetDeadline(a.Deadline); err != nil {
		return nil, nil, err
	}
	if !h.track(f) {
		return nil, nil, errStopped
	}
	defer h.untrack(f)
	w := &wire{f: f, local: a.Local, remote: a.Remote}
	tc := tls.Server(w, srv.base)
	if err := tc.Handshake(); err != nil {
		return nil, nil, err
	}
	w.f = nil // from now on the wire reads the loop's raw connection
	return w, tc, nil
}

// IsTimeout reports whether a handshake error is its deadline.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// SockaddrAddr returns sa as a net.Addr (TCP for IPv4 and IPv6).
func SockaddrAddr(sa unix.Sockaddr) net.Addr {
	switch s := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(s.Addr[:]).To16(), Port: s.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(s.Addr[:]), Port: s.Port}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: s.Name, Net: "unix"}
	}
	return &net.TCPAddr{}
}
