//go:build linux

package network

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// recorder is a Handler that echoes what it reads and reports every
// callback with the loop goroutine's view of it.
type recorder struct {
	opened  chan int   // loop index of each OnOpen
	closed  chan error // each OnClose's error
	woken   chan int   // loop index of each OnWake
	traffic chan []byte
	conns   chan Conn // each opened Conn
}

func newRecorder() *recorder {
	return &recorder{opened: make(chan int, 8), closed: make(chan error, 8), woken: make(chan int, 8),
		traffic: make(chan []byte, 8), conns: make(chan Conn, 8)}
}

func (r *recorder) OnOpen(idx int, c Conn) Action {
	c.SetContext(idx)
	r.opened <- idx
	r.conns <- c
	return None
}

func (r *recorder) OnTraffic(c Conn) Action {
	p, _ := c.Peek(-1)
	got := bytes.Clone(p)
	_, _ = c.Discard(len(p))
	r.traffic <- got
	if string(got) == "close" {
		return Close
	}
	_, _ = c.Write(got)
	return None
}

func (r *recorder) OnClose(c Conn, err error) { r.closed <- err }
func (r *recorder) OnWake(idx int)            { r.woken <- idx }

// pollers are the backends every contract test runs on.
var pollers = []struct {
	name string
	make func(*slog.Logger) Poller
}{
	{"epoll", func(l *slog.Logger) Poller { return NewGnet(l) }},
	{"io_uring", func(l *slog.Logger) Poller { return NewUring(l) }},
}

// eachPoller runs fn as a subtest per backend.
func eachPoller(t *testing.T, fn func(t *testing.T, mk func(*slog.Logger) Poller)) {
	for _, p := range pollers {
		t.Run(p.name, func(t *testing.T) { fn(t, p.make) })
	}
}

func startGnet(t *testing.T, h Handler, n int) (*Gnet, []Loop) {
	t.Helper()
	g := NewGnet(slog.New(slog.NewTextHandler(io.Discard, nil)))
	return g, startPoller(t, g, h, n)
}

func startPoller(t *testing.T, g Poller, h Handler, n int) []Loop {
	t.Helper()
	loops, err := g.Start(h, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Stop(ctx); err != nil {
			t.Error("stop:", err)
		}
	})
	return loops
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no", what)
		panic("unreachable")
	}
}

// accepted returns a client connection and the accepted descriptor of its
// peer (non-blocking, close-on-exec), as the broker's acceptor makes them.
func accepted(t *testing.T) (net.Conn, int, unix.Sockaddr, net.Addr) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	cl, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	fd, sa, err := unix.Accept4(int(f.Fd()), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	return cl, fd, sa, ln.Addr()
}

// TestGnetContract walks the seam's contract on gnet: an adopted socket is
// opened on the loop that adopted it, its bytes are read and written, a
// callback's Close closes it with one OnClose, Execute and Wake run on
// the loop they name, and Stop closes Done.
func TestPollerContract(t *testing.T) {
	eachPoller(t, func(t *testing.T, mk func(*slog.Logger) Poller) {
		r := newRecorder()
		g := mk(slog.New(slog.NewTextHandler(io.Discard, nil)))
		loops := startPoller(t, g, r, 2)
		if len(loops) != 2 {
			t.Fatalf("%d loops, want 2", len(loops))
		}
		for want, l := range loops {
			cl, fd, sa, local := accepted(t)
			if err := l.Adopt(fd, sa, local, nil, func(err error) { t.Error("adopt failed:", err) }); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, r.opened, "OnOpen"); got != want {
				t.Fatalf("opened on loop %d, want %d", got, want)
			}
			if _, err := cl.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, r.traffic, "OnTraffic"); string(got) != "ping" {
				t.Fatalf("read %q", got)
			}
			echo := make([]byte, 4)
			_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(cl, echo); err != nil || string(echo) != "ping" {
				t.Fatalf("echo %q %v", echo, err)
			}
			if _, err := cl.Write([]byte("close")); err != nil {
				t.Fatal(err)
			}
			recv(t, r.traffic, "OnTraffic")
			recv(t, r.closed, "OnClose")
			if _, err := cl.Read(echo); err != io.EOF {
				t.Fatalf("read after close: %v, want EOF", err)
			}

			ran := make(chan struct{})
			if err := l.Execute(func() { close(ran) }); err != nil {
				t.Fatal(err)
			}
			recv(t, ran, "Execute")
			l.Wake()
			if got := recv(t, r.woken, "OnWake"); got != want {
				t.Fatalf("woken loop %d, want %d", got, want)
			}
		}
		select {
		case err := <-r.closed:
			t.Fatal("second OnClose:", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		recv(t, g.Done(), "Done")
		if err := g.Err(); err != nil {
			t.Fatal("Err after Stop:", err)
		}
		if err := loops[0].Execute(func() {}); err == nil {
			t.Fatal("Execute after Stop succeeded")
		}
	})
}

// TestGnetLoopClose closes a connection from Execute: OnClose has run
// when Loop.Close returns, and the peer sees the close.
func TestPollerLoopClose(t *testing.T) {
	eachPoller(t, func(t *testing.T, mk func(*slog.Logger) Poller) {
		r := newRecorder()
		loops := startPoller(t, mk(slog.New(slog.NewTextHandler(io.Discard, nil))), r, 1)
		cl, fd, sa, local := accepted(t)
		if err := loops[0].Adopt(fd, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
			t.Fatal(err)
		}
		recv(t, r.opened, "OnOpen")
		c := recv(t, r.conns, "Conn")
		closedFirst := make(chan bool, 1)
		if err := loops[0].Execute(func() {
			if err := loops[0].Close(c); err != nil {
				t.Error(err)
			}
			select {
			case <-r.closed:
				closedFirst <- true
			default:
				closedFirst <- false
			}
		}); err != nil {
			t.Fatal(err)
		}
		if !recv(t, closedFirst, "Close") {
			t.Fatal("Close returned before OnClose")
		}
		_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("peer read after Close: %v, want EOF", err)
		}
	})
}

// TestGnetAdoptFailure hands a loop a descriptor it cannot poll: failed
// runs, and the loop keeps serving.
func TestPollerAdoptFailure(t *testing.T) {
	eachPoller(t, func(t *testing.T, mk func(*slog.Logger) Poller) {
		r := newRecorder()
		loops := startPoller(t, mk(slog.New(slog.NewTextHandler(io.Discard, nil))), r, 1)
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		failed := make(chan error, 1)
		if err := loops[0].Adopt(fd, &unix.SockaddrInet4{Port: 1}, &net.TCPAddr{}, nil, func(err error) { failed <- err }); err != nil {
			t.Fatal(err)
		}
		if err := recv(t, failed, "failed call"); err == nil {
			t.Fatal("failed called with nil")
		}
		cl, fd2, sa, local := accepted(t)
		if err := loops[0].Adopt(fd2, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
			t.Fatal(err)
		}
		recv(t, r.opened, "OnOpen after a failed adopt")
		_ = cl
	})
}

// TestGnetVersionPinned keeps the gnet internals Adopt links to
// (gnetVersion) in step with go.mod: a gnet upgrade must revisit them.
func TestGnetVersionPinned(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var v string
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/panjf2000/gnet/v2" {
			v = f[1]
		}
	}
	if v != gnetVersion {
		t.Fatalf("go.mod has gnet %q, the hand-off is written for %q", v, gnetVersion)
	}
	_, loops := startGnet(t, newRecorder(), 1)
	if err := checkGnet(loops[0].(*gnetLoop).el); err != nil {
		t.Fatal(err)
	}
}

// TestGnetSealsListener checks that nothing is left of the unix socket
// gnet listens on: neither it nor its directory can be reached.
func TestGnetSealsListener(t *testing.T) {
	g, _ := startGnet(t, newRecorder(), 1)
	if _, err := os.Stat(g.sealed.dir.Name()); !os.IsNotExist(err) {
		t.Fatal("sealed socket directory still there:", err)
	}
	if c, err := net.Dial("unix", g.sealed.path); err == nil {
		_ = c.Close()
		t.Fatal("sealed socket reachable")
	}
}

// counter is a recorder that consumes what it reads and counts the bytes.
type counter struct {
	*recorder
	n atomic.Int64
}

func (r *counter) OnTraffic(c Conn) Action {
	n, _ := c.Discard(-1)
	r.n.Add(int64(n))
	return None
}

// TestPollerPauseRead pauses an adopted connection: what the peer sends
// stays in the kernel until its buffers fill and the peer's write blocks,
// no OnTraffic reports it, and once restarted every byte is read.
func TestPollerPauseRead(t *testing.T) {
	eachPoller(t, func(t *testing.T, mk func(*slog.Logger) Poller) {
		r := &counter{recorder: newRecorder()}
		loops := startPoller(t, mk(slog.New(slog.NewTextHandler(io.Discard, nil))), r, 1)
		cl, fd, sa, local := accepted(t)
		if err := loops[0].Adopt(fd, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
			t.Fatal(err)
		}
		recv(t, r.opened, "OnOpen")
		c := recv(t, r.conns, "Conn")
		pause := func(p bool) {
			done := make(chan bool, 1)
			if err := loops[0].Execute(func() { done <- loops[0].PauseRead(c, p) }); err != nil {
				t.Fatal(err)
			}
			if !recv(t, done, "PauseRead") {
				t.Fatal("PauseRead cannot pause")
			}
		}
		peer := make(chan string, 1)
		if err := loops[0].Execute(func() { peer <- fmt.Sprint(PeerAddr(c)) }); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, peer, "PeerAddr"); got != cl.LocalAddr().String() {
			t.Fatalf("PeerAddr %s, want %s", got, cl.LocalAddr())
		}
		pause(true)
		const total = 64 << 20
		_ = cl.SetWriteDeadline(time.Now().Add(time.Second))
		sent, err := cl.Write(make([]byte, total))
		if err == nil || sent >= total {
			t.Fatalf("a paused connection took all %d bytes (err %v)", sent, err)
		}
		if got := r.n.Load(); got != 0 {
			t.Fatalf("read %d bytes while paused", got)
		}
		pause(false)
		deadline := time.Now().Add(10 * time.Second)
		for r.n.Load() < int64(sent) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := r.n.Load(); got != int64(sent) {
			t.Fatalf("read %d of %d bytes after the pause", got, sent)
		}
	})
}

// TestPollerPauseResumeAtOnce pauses and restarts a connection in one
// loop task (on io_uring: before the cancel of its receive completes):
// what the peer sends next is still read.
func TestPollerPauseResumeAtOnce(t *testing.T) {
	eachPoller(t, func(t *testing.T, mk func(*slog.Logger) Poller) {
		r := &counter{recorder: newRecorder()}
		loops := startPoller(t, mk(slog.New(slog.NewTextHandler(io.Discard, nil))), r, 1)
		cl, fd, sa, local := accepted(t)
		if err := loops[0].Adopt(fd, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
			t.Fatal(err)
		}
		recv(t, r.opened, "OnOpen")
		c := recv(t, r.conns, "Conn")
		for round := 1; round <= 3; round++ {
			done := make(chan bool, 1)
			if err := loops[0].Execute(func() { done <- loops[0].PauseRead(c, true) && loops[0].PauseRead(c, false) }); err != nil {
				t.Fatal(err)
			}
			if !recv(t, done, "PauseRead") {
				t.Fatal("PauseRead cannot pause")
			}
			time.Sleep(10 * time.Millisecond) // the cancel completes
			if _, err := cl.Write(make([]byte, 1000)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for r.n.Load() < int64(round*1000) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := r.n.Load(); got != int64(round*1000) {
				t.Fatalf("round %d: read %d of %d bytes after a pause and restart", round, got, round*1000)
			}
		}
	})
}
