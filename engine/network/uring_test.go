//go:build linux

package network

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/engine/network/uring"
)

// startUring starts an io_uring Poller, skipping the test where the kernel
// refuses io_uring.
func startUring(t *testing.T, h Handler, n int) (*Uring, []Loop) {
	t.Helper()
	u := NewUring(slog.New(slog.NewTextHandler(io.Discard, nil)))
	loops, err := u.Start(h, n)
	if errors.Is(err, uring.ErrUnsupported) {
		t.Skip("io_uring unavailable:", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := u.Stop(ctx); err != nil {
			t.Error("stop:", err)
		}
	})
	return u, loops
}

func TestUringABISizes(t *testing.T) {
	if s := unsafe.Sizeof(uring.SQE{}); s != 64 {
		t.Fatalf("SQE is %d bytes, want 64", s)
	}
	if s := unsafe.Sizeof(uring.CQE{}); s != 16 {
		t.Fatalf("CQE is %d bytes, want 16", s)
	}
}

// echoHandler echoes every byte it reads.
type echoHandler struct{}

func (e *echoHandler) OnOpen(int, Conn) Action { return None }
func (e *echoHandler) OnTraffic(c Conn) Action {
	p, _ := c.Peek(-1)
	_, _ = c.Write(p)
	_, _ = c.Discard(len(p))
	return None
}
func (e *echoHandler) OnClose(Conn, error) {}
func (e *echoHandler) OnWake(int)          {}

// TestUringEchoAllocs: a round trip through an io_uring loop (receive,
// callback, queued write, batched send) allocates nothing in steady state.
func TestUringEchoAllocs(t *testing.T) {
	_, loops := startUring(t, &echoHandler{}, 1)
	cl, fd, sa, local := accepted(t)
	if err := loops[0].Adopt(fd, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("m"), 200)
	got := make([]byte, len(msg))
	_ = cl.SetDeadline(time.Now().Add(30 * time.Second))
	round := func() {
		if _, err := cl.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(cl, got); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		round()
	}
	if a := testing.AllocsPerRun(500, round); a > 0 {
		t.Fatalf("%.2f allocations per echoed message, want 0", a)
	}
}

// sinkHandler writes size bytes to each connection it opens and records
// what the loop says about them.
type sinkHandler struct {
	size   int
	conns  chan Conn
	closed chan error
}

func (s *sinkHandler) OnOpen(_ int, c Conn) Action {
	p := make([]byte, s.size)
	for i := range p {
		p[i] = byte(i % 251)
	}
	_, _ = c.Write(p)
	s.conns <- c
	return None
}
func (s *sinkHandler) OnTraffic(c Conn) Action { _, _ = c.Discard(-1); return None }
func (s *sinkHandler) OnClose(_ Conn, err error) {
	s.closed <- err
}
func (s *sinkHandler) OnWake(int) {}

// TestUringLargeWrite: a write far beyond the socket buffer is sent whole
// and in order while OutboundBuffered reports what the peer has not taken.
func TestUringLargeWrite(t *testing.T) {
	const size = 32 << 20
	h := &sinkHandler{size: size, conns: make(chan Conn, 1), closed: make(chan error, 1)}
	_, loops := startUring(t, h, 1)
	cl, fd, sa, local := accepted(t)
	if err := loops[0].Adopt(fd, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	c := recv(t, h.conns, "OnOpen")
	time.Sleep(100 * time.Millisecond) // the peer reads nothing yet
	ob := make(chan int, 1)
	if err := loops[0].Execute(func() { ob <- c.OutboundBuffered() }); err != nil {
		t.Fatal(err)
	}
	if n := recv(t, ob, "OutboundBuffered"); n <= 0 || n > size {
		t.Fatalf("OutboundBuffered %d with a peer that reads nothing, want in (0, %d]", n, size)
	}
	_ = cl.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := make([]byte, size)
	if _, err := io.ReadFull(cl, got); err != nil {
		t.Fatal(err)
	}
	for i, b := range got {
		if b != byte(i%251) {
			t.Fatalf("byte %d is %d, want %d", i, b, byte(i%251))
		}
	}
}

// TestUringCloseStuckSend: closing a connection whose peer reads nothing
// (a send waiting in the kernel) completes: OnClose runs, the descriptor is
// released, the peer sees the end, and the loop serves others.
func TestUringCloseStuckSend(t *testing.T) {
	h := &sinkHandler{size: 16 << 20, conns: make(chan Conn, 2), closed: make(chan error, 2)}
	u, loops := startUring(t, h, 1)
	cl, fd, sa, local := accepted(t)
	if err := loops[0].Adopt(fd, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	c := recv(t, h.conns, "OnOpen")
	time.Sleep(50 * time.Millisecond)
	if err := loops[0].Execute(func() {
		_ = c.SetLinger(0)
		_ = loops[0].Close(c)
	}); err != nil {
		t.Fatal(err)
	}
	recv(t, h.closed, "OnClose")
	released := make(chan int, 1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := loops[0].Execute(func() { released <- u.loops[0].live() }); err != nil {
			t.Fatal(err)
		}
		if recv(t, released, "live count") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed connection's descriptor was never released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, cl); err != nil && !errors.Is(err, unix.ECONNRESET) {
		t.Fatalf("peer read after the close: %v", err)
	}
	// The loop still serves.
	cl2, fd2, sa2, local2 := accepted(t)
	if err := loops[0].Adopt(fd2, sa2, local2, nil, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	recv(t, h.conns, "second OnOpen")
	_ = cl2.Close()
	recv(t, h.closed, "second OnClose")
}

// TestUringManyConns echoes on many connections of two loops at once,
// more than the provided buffers of a loop.
func TestUringManyConns(t *testing.T) {
	_, loops := startUring(t, &echoHandler{}, 2)
	const conns = 400
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		cl, fd, sa, local := accepted(t)
		if err := loops[i%2].Adopt(fd, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(cl net.Conn, i int) {
			defer wg.Done()
			_ = cl.SetDeadline(time.Now().Add(30 * time.Second))
			msg := bytes.Repeat([]byte{byte(i)}, 3000+i)
			got := make([]byte, len(msg))
			for range 20 {
				if _, err := cl.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(cl, got); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, msg) {
					errs <- errors.New("echo differs")
					return
				}
			}
		}(cl, i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// floodHandler discards every byte; it counts the bytes of the flooding
// connections and reports when the probe's first byte arrives, with the
// flood's count then.
type floodHandler struct {
	probe   Conn
	flooded atomic.Int64
	atProbe chan int64
}

func (h *floodHandler) OnOpen(int, Conn) Action { return None }
func (h *floodHandler) OnTraffic(c Conn) Action {
	n, _ := c.Discard(-1)
	if c == h.probe {
		select {
		case h.atProbe <- h.flooded.Load():
		default:
		}
		return None
	}
	h.flooded.Add(int64(n))
	return None
}
func (h *floodHandler) OnClose(Conn, error) {}
func (h *floodHandler) OnWake(int)          {}

// TestUringStarvedRecvServed: while many connections keep more bytes
// waiting than the loop's provided buffers hold, a connection whose RECV
// found no buffer is served within a few rounds (each at most
// uringBufCount buffers), not after every busier connection had its fill
// again and again.
func TestUringStarvedRecvServed(t *testing.T) {
	const floods, chunk = 96, 64 << 10
	const perConn = 32 << 20                       // each flooder's bound
	const bound = 8 * uringBufCount * uringBufSize // flood bytes read before the probe's byte
	h := &floodHandler{atProbe: make(chan int64, 1)}
	_, loops := startUring(t, h, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	for range floods {
		cl, fd, sa, local := accepted(t)
		if err := loops[0].Adopt(fd, sa, local, nil, func(err error) { t.Error(err) }); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, chunk)
			for sent := 0; sent < perConn; sent += chunk {
				select {
				case <-stop:
					return
				default:
				}
				_ = cl.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := cl.Write(p); err != nil {
					return
				}
			}
		}()
	}
	pcl, pfd, psa, plocal := accepted(t)
	adopted := make(chan struct{})
	if err := loops[0].Adopt(pfd, psa, plocal, nil, func(err error) { t.Error(err) }); err != nil {
		t.Fatal(err)
	}
	// The probe is the connection adopted last: find it on the loop.
	if err := loops[0].Execute(func() {
		l := loops[0].(*uringLoop)
		for _, c := range l.conns {
			if c != nil && int(c.fd) == pfd {
				h.probe = c
			}
		}
		close(adopted)
	}); err != nil {
		t.Fatal(err)
	}
	<-adopted
	if h.probe == nil {
		t.Fatal("probe connection not found on the loop")
	}
	for deadline := time.Now().Add(20 * time.Second); h.flooded.Load() < 4*bound; {
		if time.Now().After(deadline) {
			t.Fatalf("flood read %d B, want %d B under way", h.flooded.Load(), 4*bound)
		}
		time.Sleep(time.Millisecond)
	}
	before := h.flooded.Load()
	if _, err := pcl.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-h.atProbe:
		t.Logf("flood read %d KiB before the probe's byte (bound %d KiB)", (at-before)>>10, bound>>10)
		if at-before > bound {
			t.Errorf("the loop read %d KiB of the flood before the probe's byte, want at most %d KiB", (at-before)>>10, bound>>10)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("probe's byte not read; the loop read %d KiB of the flood meanwhile", (h.flooded.Load()-before)>>10)
	}
}
