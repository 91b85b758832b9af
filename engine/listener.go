package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Accept back-off after an accept error: from backoffMin, doubling up to
// backoffMax, reset by the next successful accept.
const (
	backoffMin = 5 * time.Millisecond
	backoffMax = 50 * time.Millisecond
)

// maxHandOffs bounds the hand-offs in flight: each holds a second
// descriptor (gnet duplicates the socket) until its loop has taken it, so
// the bound keeps that excess within reservedFDs.
const maxHandOffs = 32

// shedBatch bounds the connections refused in one round of the
// reserved-descriptor trick, so that legitimate clients that arrive when
// descriptors come back are not refused for long.
const shedBatch = 256

// handOffFunc gives an admitted connection to an event loop. It returns
// at once with a channel that delivers the outcome once the loop has taken
// the connection (or an error, the connection then being closed). If it
// returns an error, the connection was not taken and the caller closes it.
type handOffFunc func(c *net.TCPConn) (<-chan gnet.RegisteredResult, error)

// acceptor owns the broker's TCP listener and admits connections to the
// event loops: it is where a transport starts.
//
// Contract:
//   - One goroutine (run) accepts; it never blocks on a loop except when
//     maxHandOffs hand-offs are in flight, then it waits for the oldest.
//   - open counts connections from admission to close. The acceptor adds
//     one before handing a connection off; whoever ends it subtracts one:
//     the loop when it closes a connection it took (OnClose, or OnOpen
//     refusing it), the acceptor when a hand-off fails.
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
//     Other transient errors back off the same way. Only an error that
//     says the listener itself is gone ends the acceptor; it is reported
//     through onFatal.
//
// Its counters are safe from any goroutine; everything else belongs to
// the run goroutine.
type acceptor struct {
	ln      *net.TCPListener
	raw     syscall.RawConn
	max     int64 // 0: no cap
	open    *atomic.Int64
	handOff handOffFunc
	onFatal func(error)

	refused      atomic.Uint64 // connections closed at accept, never served
	acceptErrors atomic.Uint64 // failed accept calls

	logs *acceptLogs

	spare   int // reserved descriptor (/dev/null), -1 when not held
	backoff time.Duration
	pending []<-chan gnet.RegisteredResult // hand-offs in flight, oldest first

	closing atomic.Bool
	quit    chan struct{} // closed by stop
	done    chan struct{} // closed when run has returned
}

// newAcceptor returns an acceptor for ln; start it with go a.run().
func newAcceptor(ln *net.TCPListener, maxConns int64, open *atomic.Int64, handOff handOffFunc, onFatal func(error), logs *acceptLogs) (*acceptor, error) {
	raw, err := ln.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &acceptor{
		ln: ln, raw: raw, max: maxConns, open: open, handOff: handOff, onFatal: onFatal,
		logs:  logs,
		spare: openSpare(),
		quit:  make(chan struct{}), done: make(chan struct{}),
	}, nil
}

// acceptLogs are the acceptor's rate-limited log lines.
type acceptLogs struct {
	full, err, handOff *rateLog
}

func newAcceptLogs(log *slog.Logger) *acceptLogs {
	return &acceptLogs{
		full:    newRateLog(log, "connection refused: max_connections reached"),
		err:     newRateLog(log, "accept failed; backing off"),
		handOff: newRateLog(log, "connection refused: no event loop took it"),
	}
}

// flush writes what the rate limit held back. Safe from any goroutine.
func (l *acceptLogs) flush() {
	l.full.flush()
	l.err.flush()
	l.handOff.flush()
}

// openSpare opens the reserved descriptor, or returns -1.
func openSpare() int {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

// run accepts until stop or a fatal listener error.
func (a *acceptor) run() {
	defer close(a.done)
	defer a.settle(true)
	for {
		c, err := a.ln.AcceptTCP()
		if err != nil {
			if a.closing.Load() {
				return
			}
			if listenerGone(err) {
				a.onFatal(err)
				return
			}
			a.failed(err)
			continue
		}
		a.backoff = 0
		a.settle(false)
		if a.max > 0 && a.open.Load() >= a.max {
			_ = c.Close()
			a.refused.Add(1)
			a.logs.full.note(1, "max_connections", a.max, "refused_total", a.refused.Load())
			continue
		}
		a.open.Add(1)
		ch, err := a.handOff(c)
		if err != nil {
			_ = c.Close()
			a.handOffFailed(err)
			continue
		}
		a.pending = append(a.pending, ch)
		if len(a.pending) >= maxHandOffs {
			a.result(<-a.pending[0])
			a.pending = a.pending[:copy(a.pending, a.pending[1:])]
		}
	}
}

// failed handles an accept error that leaves the listener usable: count,
// shed the backlog if out of resources, log, back off.
func (a *acceptor) failed(err error) {
	a.acceptErrors.Add(1)
	shed := 0
	if outOfResources(err) {
		shed = a.shed()
	}
	if a.backoff == 0 {
		a.backoff = backoffMin
	} else {
		a.backoff = min(2*a.backoff, backoffMax)
	}
	a.logs.err.note(1, "err", err, "refused", shed, "backoff", a.backoff,
		"open", a.open.Load(), "accept_errors_total", a.acceptErrors.Load(), "refused_total", a.refused.Load())
	t := time.NewTimer(a.backoff)
	select {
	case <-t.C:
	case <-a.quit:
		t.Stop()
	}
}

// shed frees the reserved descriptor and uses it to accept and close the
// pending connections (at most shedBatch), then takes it back. It returns
// the number of connections refused.
func (a *acceptor) shed() int {
	if a.spare >= 0 {
		_ = unix.Close(a.spare)
		a.spare = -1
	}
	n := 0
	_ = a.raw.Control(func(fd uintptr) {
		for n < shedBatch {
			nfd, _, err := unix.Accept(int(fd)) // the listener is non-blocking: EAGAIN when drained
			if err == unix.EINTR || err == unix.ECONNABORTED {
				continue
			}
			if err != nil {
				return
			}
			_ = unix.Close(nfd)
			n++
		}
	})
	a.spare = openSpare()
	a.refused.Add(uint64(n))
	return n
}

// settle collects the outcome of the hand-offs that have one; all waits
// for every one.
func (a *acceptor) settle(all bool) {
	i := 0
	for _, ch := range a.pending {
		if all {
			a.result(<-ch)
			continue
		}
		select {
		case r := <-ch:
			a.result(r)
		default:
			a.pending[i] = ch
			i++
		}
	}
	clear(a.pending[i:])
	a.pending = a.pending[:i]
}

// result accounts for a hand-off's outcome: a connection the loop did
// not take was closed by the hand-off and is no longer open.
func (a *acceptor) result(r gnet.RegisteredResult) {
	if r.Err == nil && r.Conn != nil {
		return
	}
	err := r.Err
	if err == nil {
		err = errHandOff
	}
	a.handOffFailed(err)
}

// handOffFailed accounts for an admitted connection that no loop took.
func (a *acceptor) handOffFailed(err error) {
	a.open.Add(-1)
	a.refused.Add(1)
	a.logs.handOff.note(1, "err", err, "refused_total", a.refused.Load())
}

// stop closes the listener and waits (until ctx expires) for run to
// return, having settled the hand-offs in flight. Safe from any
// goroutine; once.
func (a *acceptor) stop(ctx context.Context) {
	if a.closing.Swap(true) {
		return
	}
	close(a.quit)
	_ = a.ln.Close()
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

// listenTCP binds the broker's TCP listener. Accepted connections get
// TCP_NODELAY (Go's default) and no TCP keep alive (MQTT has its own), as
// with gnet's listener before.
func listenTCP(addr string) (*net.TCPListener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// sealedSocket is the listener gnet's server engine is started with. Its
// engine offers Register (the hand-off) and Stop only with a listener of
// its own, and its accept treats running out of descriptors as fatal; so
// it gets a unix socket that nothing can reach: bound in a new private
// directory through that directory's descriptor (/proc/self/fd/N/s), then
// unlinked with its directory (seal) as soon as gnet has bound it. Its
// accept never runs; nothing is left behind even if the process is
// killed; and the path gnet removes when it closes the socket names
// nothing while the descriptor stays open (close, after the engine has
// stopped).
type sealedSocket struct {
	dir  *os.File
	path string
}

func newSealedSocket() (*sealedSocket, error) {
	name, err := os.MkdirTemp("", "gust-loops-")
	if err != nil {
		return nil, err
	}
	dir, err := os.Open(name)
	if err != nil {
		_ = os.Remove(name)
		return nil, err
	}
	return &sealedSocket{dir: dir, path: "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/s"}, nil
}

// seal unlinks the socket and its directory: it stays bound, nobody can
// reach it.
func (s *sealedSocket) seal() {
	_ = os.Remove(s.path)
	_ = os.Remove(s.dir.Name())
}

// close releases the directory's descriptor; call it after the engine
// has stopped (and seal before).
func (s *sealedSocket) close() { _ = s.dir.Close() }
