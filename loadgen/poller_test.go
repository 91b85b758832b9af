package loadgen

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pollerEvent is one decoded poller event.
type pollerEvent struct {
	slot                       int
	readable, writable, hangup bool
}

// waitEvent waits up to 5 s for an event of p and returns the first
// batch's events merged per slot (kqueue reports read and write apart).
func waitEvent(t *testing.T, p *poller) map[int]pollerEvent {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n, err := p.wait(100)
		if err != nil && err != unix.EINTR {
			t.Fatalf("wait: %v", err)
		}
		if n <= 0 {
			continue
		}
		got := map[int]pollerEvent{}
		for i := 0; i < n; i++ {
			slot, r, w, h := p.event(i)
			e := got[slot]
			e.slot, e.readable, e.writable, e.hangup = slot, e.readable || r, e.writable || w, e.hangup || h
			got[slot] = e
		}
		return got
	}
	t.Fatal("no poller event within 5 s")
	return nil
}

// dialRawTCP starts a non-blocking connect to addr the way the generator does.
func dialRawTCP(t *testing.T, addr *net.TCPAddr) int {
	t.Helper()
	fd, err := newSocket(unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())
	if err := unix.Connect(fd, sa); err != nil && err != unix.EINPROGRESS {
		t.Fatal(err)
	}
	return fd
}

// TestPollerContract checks the readiness the loop relies on: writable
// once connected, readable with data, quiet with no interest, and
// readable plus hangup when the peer closes.
func TestPollerContract(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	p, err := newPoller(maxEvents)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.close() })

	const slot = 7
	fd := dialRawTCP(t, ln.Addr().(*net.TCPAddr))
	if err := p.add(fd, slot, wantWrite); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, &p)[slot]; !e.writable || e.hangup {
		t.Fatalf("connect: got %+v, want writable without hangup", e)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v != 0 {
		t.Fatalf("SO_ERROR %d, %v", v, err)
	}
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	// No interest: pending data raises no event.
	if err := p.modify(fd, slot, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n, err := p.wait(50); n > 0 || (err != nil && err != unix.EINTR) {
		t.Fatalf("no interest: wait = %d, %v; want no event", n, err)
	}

	if err := p.modify(fd, slot, wantRead); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, &p)[slot]; !e.readable || e.writable {
		t.Fatalf("data: got %+v, want readable only", e)
	}
	buf := make([]byte, 16)
	if n, err := unix.Read(fd, buf); n != 1 || err != nil {
		t.Fatalf("read = %d, %v", n, err)
	}

	_ = srv.Close()
	if e := waitEvent(t, &p)[slot]; !e.readable || !e.hangup {
		t.Fatalf("peer close: got %+v, want readable and hangup", e)
	}
}

// TestPollerFailedConnect checks that a refused connect wakes a dialling
// connection, which then finds the error with SO_ERROR.
func TestPollerFailedConnect(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	_ = ln.Close() // nothing listens there now
	p, err := newPoller(maxEvents)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.close() })

	const slot = 3
	fd := dialRawTCP(t, addr)
	if err := p.add(fd, slot, wantWrite); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, &p)[slot]; !e.writable && !e.hangup {
		t.Fatalf("refused connect: got %+v, want writable or hangup", e)
	}
	if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || v == 0 {
		t.Fatalf("SO_ERROR %d, %v: want a connect error", v, err)
	}
}
