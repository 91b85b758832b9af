package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Accept back-off after an accept error: from backoffMin, doubling up to
// backoffMax, reset by the next successful accept.
const (
	backoffMin = 5 * time.Millisecond
	backoffMax = 50 * time.Millisecond
)

// acceptBatch bounds the connections accepted in one wake-up, so that stop
// can close the listener between batches during a flood.
const acceptBatch = 64

// shedBatch bounds the connections refused in one round of the
// reserved-descriptor trick, so that legitimate clients that arrive when
// descriptors come back are not refused for long.
const shedBatch = 256

// handOffFunc gives an accepted socket (non-blocking, close-on-exec; sa
// its peer if the acceptor's peer is set, else nil) to an event loop. It returns an error if no loop took it, the
// caller then closing fd; a loop that took it but fails to register it
// calls lost (from the loop), having closed fd.
type handOffFunc func(fd int, sa unix.Sockaddr, lost func(error)) error

// acceptor owns the broker's TCP listener and admits connections to the
// event loops: it is where a transport starts.
//
// Contract:
//   - One goroutine (run) accepts, in batches, and hands each admitted
//     socket to a loop; a hand-off only queues it on the loop (no
//     goroutine, no wait), the loop registers it and runs OnOpen.
//   - open counts connections from admission to close. The acceptor adds
//     one before the hand-off; whoever ends the connection subtracts one:
//     the loop when it closes one it took (OnClose, or OnOpen refusing it),
//     lost when a hand-off fails.
//   - A connection is admitted only while open < max (max 0: no cap), so
//     open never exceeds max however many dial at once; past it a
//     connection is accepted and closed at once, counted in refused and
//     logged (rate-limited).
//   - Accept errors are never fatal. When the process or the system is out
//     of descriptors or memory (EMFILE, ENFILE, ENOMEM, ENOBUFS) the
//     acceptor closes its reserved descriptor, accepts and closes the
//     pending connections with it (so the backlog neither spins the
//     acceptor nor keeps clients waiting), reopens it and backs off
//     (5-50 ms) before accepting again; the error is counted in
//     acceptErrors, the connections in refused, both logged rate-limited.
//     Other transient errors back off the same way. Only a listener that
//     can no longer accept at all ends the acceptor; it is reported
//     through onFatal.
//
// Its counters and lost are safe from any goroutine; everything else
// belongs to the run goroutine.
type acceptor struct {
	ln   *os.File // the listening socket, in Go's poller to wait on
	raw  syscall.RawConn
	max  int64 // 0: no cap
	open *atomic.Int64
	// lnMax and lnOpen are the listener's own cap (0: none) and count,
	// addr its address for the log; set before run.
	lnMax  int64
	lnOpen *atomic.Int64
	addr   net.Addr
	// peer says the hand-off reads the peer's address (a TLS listener's
	// handshake log); without it accept asks the kernel for none. Set
	// before run.
	peer    bool
	handOff handOffFunc
	onFatal func(error)
	logs    *acceptLogs

	refused      atomic.Uint64 // connections closed at accept, never served
	acceptErrors atomic.Uint64 // failed accept calls

	acceptSome func(fd uintptr) bool // a.accept, bound once
	lostFunc   func(error)           // a.lost, bound once
	spare      int                   // reserved descriptor (/dev/null), -1 when not held
	backoff    time.Duration
	err        error // the accept error that ended the last batch

	closing atomic.Bool
	quit    chan struct{} // closed by stop
	done    chan struct{} // closed when run has returned
}

// newAcceptor returns an acceptor for the listening socket ln; start it
// with go a.run().
func newAcceptor(ln *os.File, maxConns int64, open *atomic.Int64, handOff handOffFunc, onFatal func(error), logs *acceptLogs) (*acceptor, error) {
	raw, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	a := &acceptor{
		ln: ln, raw: raw, max: maxConns, open: open, handOff: handOff, onFatal: onFatal, logs: logs,
		lnOpen: new(atomic.Int64),
		spare:  openSpare(),
		quit:   make(chan struct{}), done: make(chan struct{}),
	}
	a.acceptSome = a.accept
	a.lostFunc = a.lost
	return a, nil
}

// acceptLogs are the acceptor's rate-limited log lines.
type acceptLogs struct {
	full, lnFull, err, lost *rateLog
}

func newAcceptLogs(log *slog.Logger) *acceptLogs {
	return &acceptLogs{
		full:   newRateLog(log, "connection refused: max_connections reached"),
		lnFull: newRateLog(log, "connection refused: the listener's max_connections reached"),
		err:    newRateLog(log, "accept failed; backing off"),
		lost:   newRateLog(log, "connection refused: no event loop took it"),
	}
}

// flush writes what the rate limit held back. Safe from any goroutine.
func (l *acceptLogs) flush() {
	l.full.flush()
	l.lnFull.flush()
	l.err.flush()
	l.lost.flush()
}

// openSpare opens the reserved descriptor, or returns -1.
func openSpare() int {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// run accepts until stop or until the listener fails.
func (a *acceptor) run() {
	defer close(a.done)
	for {
		a.err = nil
		err := a.raw.Read(a.acceptSome) // waits in Go's poller while nothing is pending
		if a.closing.Load() {
			return
		}
		if err == nil && a.err != nil && listenerGone(a.err) {
			err = a.err
		}
		if err != nil {
			a.onFatal(err)
			return
		}
		if a.err != nil {
			a.failed()
		}
	}
}

// accept accepts up to acceptBatch connections from the listening socket
// fd. It returns false when none is pending (Read then waits) and true at
// the end of a batch or on an error (left in a.err).
func (a *acceptor) accept(fd uintptr) bool {
	for i := 0; i < acceptBatch; {
		nfd, sa, err := acceptSocket(int(fd), a.peer)
		switch err {
		case nil:
			i++
			a.admit(nfd, sa)
		case unix.EAGAIN:
			return false
		case unix.EINTR, unix.ECONNABORTED: // a connection reset while it waited
		default:
			a.err = os.NewSyscallError("accept4", err)
			if outOfResources(err) {
				a.shed(int(fd))
			}
			return true
		}
	}
	return true
}

// admit hands an accepted socket to a loop, or closes it at once if
// max_connections are open.
func (a *acceptor) admit(fd int, sa unix.Sockaddr) {
	a.backoff = 0
	if a.max > 0 && a.open.Load() >= a.max {
		a.refused.Add(1) // before the close a client may see
		_ = unix.Close(fd)
		a.logs.full.note(1, "max_connections", a.max, "refused_total", a.refused.Load())
		return
	}
	if a.lnMax > 0 && a.lnOpen.Load() >= a.lnMax {
		a.refused.Add(1)
		_ = unix.Close(fd)
		a.logs.lnFull.note(1, "listener", a.addr, "max_connections", a.lnMax, "refused_total", a.refused.Load())
		return
	}
	a.open.Add(1)
	a.lnOpen.Add(1)
	if err := a.handOff(fd, sa, a.lostFunc); err != nil {
		_ = unix.Close(fd)
		a.lost(err)
	}
}

// lost accounts for an admitted connection that no loop took (its
// descriptor closed). Safe from any goroutine.
func (a *acceptor) lost(err error) {
	a.open.Add(-1)
	a.lnOpen.Add(-1)
	a.refused.Add(1)
	a.logs.lost.note(1, "err", err, "refused_total", a.refused.Load())
}

// failed counts and logs the accept error a.err, then backs off.
func (a *acceptor) failed() {
	a.acceptErrors.Add(1)
	if a.backoff == 0 {
		a.backoff = backoffMin
	} else {
		a.backoff = min(2*a.backoff, backoffMax)
	}
	a.logs.err.note(1, "err", a.err, "backoff", a.backoff, "open", a.open.Load(),
		"accept_errors_total", a.acceptErrors.Load(), "refused_total", a.refused.Load())
	t := time.NewTimer(a.backoff)
	select {
	case <-t.C:
	case <-a.quit:
		t.Stop()
	}
}

// shed frees the reserved descriptor and uses it to accept and close the
// pending connections of the listening socket fd (at most shedBatch),
// then takes it back.
func (a *acceptor) shed(fd int) {
	if a.spare >= 0 {
		_ = unix.Close(a.spare)
		a.spare = -1
	}
	for n := 0; n < shedBatch; {
		nfd, _, err := unix.Accept(fd)
		if err == unix.EINTR || err == unix.ECONNABORTED {
			continue
		}
		if err != nil { // EAGAIN: drained; EMFILE: the spare's slot was taken
			break
		}
		a.refused.Add(1)
		_ = unix.Close(nfd)
		n++
	}
	a.spare = openSpare()
}

// stop closes the listener and waits (until ctx expires) for run to
// return. Safe from any goroutine; once.
func (a *acceptor) stop(ctx context.Context) {
	if a.closing.Swap(true) {
		return
	}
	close(a.quit)
	_ = a.ln.Close() // wakes Read; waits for a batch in progress
	select {
	case <-a.done:
		if a.spare >= 0 {
			_ = unix.Close(a.spare)
			a.spare = -1
		}
	case <-ctx.Done():
	}
}

// outOfResources reports whether an accept error means the process or the
// system is out of descriptors or memory.
func outOfResources(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) ||
		errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.ENOBUFS)
}

// listenerGone reports whether an accept error means the listener can no
// longer accept at all.
func listenerGone(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, unix.EBADF) ||
		errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOTSOCK)
}

// listenTCP binds the broker's TCP listener (Go's choices: SO_REUSEADDR,
// both IPv4 and IPv6 for an unspecified host, the system's largest
// backlog) and returns the listening socket as a file in Go's poller, and
// its address. Accepted sockets inherit TCP_NODELAY from it; they get no
// TCP keep alive (MQTT has its own).
func listenTCP(addr string) (*os.File, net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close() // the file is a duplicate of the same socket
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, nil, err
	}
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) {
			err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		})
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, ln.Addr(), nil
}
