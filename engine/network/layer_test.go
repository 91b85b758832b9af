//go:build linux

package network

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// frameLayer is a toy transport: on the wire each message is one length
// byte and that many bytes; a length of 0 is a protocol error. It holds
// bytes "read before adoption" (held), which its first Fill delivers, and
// says "bye" on Closing.
type frameLayer struct {
	raw   Conn
	held  []byte
	plain []byte
	ctx   any
	err   error
}

var errZeroFrame = errors.New("frame of length 0")

func (f *frameLayer) Under() Conn { return f.raw }
func (f *frameLayer) Err() error  { return f.err }
func (f *frameLayer) Closing()    { _, _ = f.Write([]byte("bye")) }

func (f *frameLayer) Fill() (int, error) {
	n := len(f.held)
	f.plain = append(f.plain, f.held...)
	f.held = nil
	for f.raw.InboundBuffered() > 0 {
		hdr, _ := f.raw.Peek(1)
		if hdr[0] == 0 {
			f.err = errZeroFrame
			return n, f.err
		}
		size := int(hdr[0])
		if f.raw.InboundBuffered() < 1+size {
			break
		}
		p, _ := f.raw.Peek(1 + size)
		f.plain = append(f.plain, p[1:]...)
		n += size
		_, _ = f.raw.Discard(1 + size)
	}
	return n, nil
}

func (f *frameLayer) InboundBuffered() int { return len(f.plain) }
func (f *frameLayer) Peek(n int) ([]byte, error) {
	if n <= 0 || n > len(f.plain) {
		return f.plain, nil
	}
	return f.plain[:n], nil
}
func (f *frameLayer) Discard(n int) (int, error) {
	if n <= 0 || n > len(f.plain) {
		n = len(f.plain)
	}
	f.plain = f.plain[n:]
	return n, nil
}
func (f *frameLayer) Read(p []byte) (int, error) {
	n := copy(p, f.plain)
	f.plain = f.plain[n:]
	return n, nil
}
func (f *frameLayer) Write(p []byte) (int, error) {
	_, err := f.raw.Write(append([]byte{byte(len(p))}, p...))
	return len(p), err
}
func (f *frameLayer) OutboundBuffered() int   { return f.raw.OutboundBuffered() }
func (f *frameLayer) SetLinger(sec int) error { return f.raw.SetLinger(sec) }
func (f *frameLayer) RemoteAddr() net.Addr    { return f.raw.RemoteAddr() }
func (f *frameLayer) Context() any            { return f.ctx }
func (f *frameLayer) SetContext(ctx any)      { f.ctx = ctx }

// readFrame reads one frame of the toy transport from cl.
func readFrame(t *testing.T, cl net.Conn) string {
	t.Helper()
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [1]byte
	if _, err := io.ReadFull(cl, hdr[:]); err != nil {
		t.Fatal("frame header:", err)
	}
	p := make([]byte, hdr[0])
	if _, err := io.ReadFull(cl, p); err != nil {
		t.Fatal("frame body:", err)
	}
	return string(p)
}

// adoptFramed adopts a fresh connection with the toy transport, holding
// held, and returns the client side and the Layer the Handler saw.
func adoptFramed(t *testing.T, r *recorder, l Loop, held string) (net.Conn, Conn) {
	t.Helper()
	cl, fd, sa, local := accepted(t)
	t.Cleanup(func() { _ = cl.Close() })
	wrap := func(raw Conn) Layer { return &frameLayer{raw: raw, held: []byte(held)} }
	if err := l.Adopt(fd, sa, local, wrap, func(err error) { t.Error("adopt failed:", err) }); err != nil {
		t.Fatal(err)
	}
	recv(t, r.opened, "OnOpen")
	c := recv(t, r.conns, "Conn")
	if _, ok := c.(*frameLayer); !ok {
		t.Fatalf("handler got %T, want the Layer", c)
	}
	return cl, c
}

// TestLayerRoutesThroughTransport walks the Layer contract on gnet: the
// Handler sees only the Layer, gets the bytes held before adoption right
// after OnOpen, reads decoded bytes split across wire frames, writes
// encoded ones, and a Close from a callback says the transport's last
// word before the socket closes.
func TestLayerRoutesThroughTransport(t *testing.T) {
	r := newRecorder()
	_, loops := startGnet(t, r, 1)
	cl, _ := adoptFramed(t, r, loops[0], "early")
	if got := recv(t, r.traffic, "OnTraffic of held bytes"); string(got) != "early" {
		t.Fatalf("held bytes: got %q", got)
	}
	if got := readFrame(t, cl); got != "early" {
		t.Fatalf("echo of held bytes: got %q", got)
	}
	// A frame split over two writes reaches the Handler once, whole.
	if _, err := cl.Write([]byte{4, 'p', 'i'}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the first half be read alone
	if _, err := cl.Write([]byte{'n', 'g'}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, r.traffic, "OnTraffic"); string(got) != "ping" {
		t.Fatalf("decoded: got %q, want ping", got)
	}
	if got := readFrame(t, cl); got != "ping" {
		t.Fatalf("echo: got %q", got)
	}
	if _, err := cl.Write([]byte{5, 'c', 'l', 'o', 's', 'e'}); err != nil {
		t.Fatal(err)
	}
	recv(t, r.traffic, "OnTraffic")
	if err := recv(t, r.closed, "OnClose"); err != nil {
		t.Fatal("OnClose error for a handler's close:", err)
	}
	if got := readFrame(t, cl); got != "bye" {
		t.Fatalf("last word: got %q, want bye", got)
	}
	if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after close: %v, want EOF", err)
	}
}

// TestLayerFillErrorCloses sends a frame the toy transport refuses after a
// good one: the good one is handled, the connection closes, OnClose gets
// the transport's error, and no Closing message is written.
func TestLayerFillErrorCloses(t *testing.T) {
	r := newRecorder()
	_, loops := startGnet(t, r, 1)
	cl, _ := adoptFramed(t, r, loops[0], "")
	// A good frame and a bad one in one read: the Handler gets the good
	// one's bytes before the close.
	if _, err := cl.Write([]byte{4, 'l', 'a', 's', 't', 0}); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, r.traffic, "OnTraffic before the error"); string(got) != "last" {
		t.Fatalf("bytes before the error: got %q, want last", got)
	}
	if err := recv(t, r.closed, "OnClose"); !errors.Is(err, errZeroFrame) {
		t.Fatalf("OnClose error %v, want %v", err, errZeroFrame)
	}
	if got := readFrame(t, cl); got != "last" { // the echo, written before the close
		t.Fatalf("echo: got %q", got)
	}
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := cl.Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("read after a refused frame: %d bytes, %v; want EOF", n, err)
	}
}

// TestLayerLoopClose closes a Layer with Loop.Close: Closing writes its
// message, the raw socket closes, OnClose gets the Layer.
func TestLayerLoopClose(t *testing.T) {
	r := newRecorder()
	_, loops := startGnet(t, r, 1)
	cl, c := adoptFramed(t, r, loops[0], "")
	if err := loops[0].Execute(func() {
		if err := loops[0].Close(c); err != nil {
			t.Error(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	recv(t, r.closed, "OnClose")
	if got := readFrame(t, cl); got != "bye" {
		t.Fatalf("last word: got %q, want bye", got)
	}
	if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after close: %v, want EOF", err)
	}
}
