package engine

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/network"
)

// fakeConn is an in-memory network.Conn: tests append inbound bytes, the
// broker's writes are counted (or kept when keep is set).
type fakeConn struct {
	el      *fakeLoop
	in      []byte
	out     []byte
	keep    bool
	written int
	ctx     any
	closed  bool
	// outBuffered is what OutboundBuffered reports: bytes a real connection
	// would hold for a peer that does not read.
	outBuffered int
	linger      *int // set by SetLinger
	// peeksAll counts Peek calls for everything buffered: the ones that
	// copy a real connection's whole ring when it is in use.
	peeksAll int
}

func (f *fakeConn) Peek(n int) ([]byte, error) {
	if n <= 0 {
		f.peeksAll++
	}
	if n <= 0 || n > len(f.in) {
		return f.in, nil
	}
	return f.in[:n], nil
}

func (f *fakeConn) Discard(n int) (int, error) {
	if n <= 0 || n >= len(f.in) {
		n = len(f.in)
	}
	f.in = f.in[:copy(f.in, f.in[n:])]
	return n, nil
}

// Read moves inbound bytes into p.
func (f *fakeConn) Read(p []byte) (int, error) {
	n := copy(p, f.in)
	f.in = f.in[:copy(f.in, f.in[n:])]
	return n, nil
}

func (f *fakeConn) InboundBuffered() int  { return len(f.in) }
func (f *fakeConn) OutboundBuffered() int { return f.outBuffered }
func (f *fakeConn) SetLinger(sec int) error {
	f.linger = &sec
	return nil
}
func (f *fakeConn) Write(p []byte) (int, error) {
	f.written += len(p)
	if f.keep {
		f.out = append(f.out, p...)
	}
	return len(p), nil
}
func (f *fakeConn) Context() any         { return f.ctx }
func (f *fakeConn) SetContext(ctx any)   { f.ctx = ctx }
func (f *fakeConn) RemoteAddr() net.Addr { return fakeAddr{} }

type fakeAddr struct{}

func (fakeAddr) Network() string { return "tcp" }
func (fakeAddr) String() string  { return "127.0.0.1:1" }

// fakeLoop is an in-memory network.Loop: Execute runs its function at
// once; Wake writes a byte to a socket pair, as network.Gnet's doorbell
// does, so that benchmarks pay for it (the harness drains inboxes with
// pump).
type fakeLoop struct {
	idx  int
	h    handler
	bell [2]int // read end, write end
}

func (el *fakeLoop) Execute(fn func()) error {
	fn()
	return nil
}
func (el *fakeLoop) Wake() { _, _ = unix.Write(el.bell[1], bellByte) }

// bellByte is what Wake writes.
var bellByte = []byte{1}

func (el *fakeLoop) Adopt(int, unix.Sockaddr, net.Addr, network.Wrap, func(error)) error {
	return errors.New("fakeLoop: no sockets")
}
func (el *fakeLoop) Close(c network.Conn) error {
	f := c.(*fakeConn)
	if !f.closed {
		f.closed = true
		el.h.OnClose(c, nil)
	}
	return nil
}

// harnessHandler is the broker's handler with OnOpen taking a fakeConn,
// whose loop it knows.
type harnessHandler struct{ handler }

func (h harnessHandler) OnOpen(f *fakeConn) network.Action { return h.handler.OnOpen(f.el.idx, f) }

// harness drives a Broker through its network handler without sockets:
// nloops fake loops, whose inboxes are drained by hand with pump.
type harness struct {
	t     testing.TB
	b     *Broker
	h     harnessHandler
	loops []*fakeLoop
}

func newHarness(t testing.TB, nloops int, mods ...func(*Config)) *harness {
	cfg := DefaultConfig()
	cfg.SysInterval = 0
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, mod := range mods {
		mod(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := &harness{t: t, b: b, h: harnessHandler{handler{b}}}
	for i := 0; i < nloops; i++ {
		el := &fakeLoop{idx: i, h: hs.h.handler}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			if err := unix.SetNonblock(fd, true); err != nil {
				t.Fatal(err)
			}
		}
		el.bell = fds
		t.Cleanup(func() { _ = unix.Close(fds[0]); _ = unix.Close(fds[1]) })
		b.loops = append(b.loops, newLoop(b, i, el))
		hs.loops = append(hs.loops, el)
	}
	return hs
}

// loop returns the broker loop of fake loop i.
func (hs *harness) loop(i int) *loop { return hs.b.loops[i] }

// conn opens a connection on loop i and sends CONNECT.
func (hs *harness) conn(i int, id string) *fakeConn {
	f := &fakeConn{el: hs.loops[i]}
	hs.h.OnOpen(f)
	hs.send(f, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
		CleanStart: true, ClientID: []byte(id)}))
	return f
}

// send feeds bytes to f as one read and runs OnTraffic.
func (hs *harness) send(f *fakeConn, b []byte) {
	f.in = append(f.in, b...)
	if hs.h.OnTraffic(f) == network.Close {
		hs.loops[0].Close(f)
	}
}

// pump empties every loop's doorbell and drains its inbox, as OnWake
// would.
func (hs *harness) pump() {
	var buf [64]byte
	for i, l := range hs.b.loops {
		for {
			if n, _ := unix.Read(hs.loops[i].bell[0], buf[:]); n <= 0 {
				break
			}
		}
		l.drain()
	}
}

func (hs *harness) subscribe(f *fakeConn, filter string, qos byte) {
	hs.send(f, codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}))
}

// connV5 opens an MQTT 5 client on loop i of the harness.
func (hs *harness) connV5(i int, id string) *fakeConn {
	f := &fakeConn{el: hs.loops[i]}
	hs.h.OnOpen(f)
	hs.send(f, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5,
		CleanStart: true, ClientID: []byte(id)}))
	return f
}

// subscribeV5 subscribes an MQTT 5 client of the harness.
func (hs *harness) subscribeV5(f *fakeConn, filter string, qos byte) {
	hs.send(f, codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}))
}

// ackAll answers every QoS 1 PUBLISH the broker wrote to f with a PUBACK.
func (hs *harness) ackAll(f *fakeConn, scratch []byte) []byte {
	acks := scratch[:0]
	for off := 0; off < len(f.out); {
		t, flags, n, err := codec.PacketLen(f.out[off:], 0)
		if err != nil {
			break
		}
		if t == codec.TypePublish && flags&0x06 != 0 {
			var p codec.Publish
			if _, err := codec.DecodePublish(f.out[off:off+n], codec.V311, &p); err == nil {
				acks = codec.AppendAck(acks, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})
			}
		}
		off += n
	}
	f.out = f.out[:0]
	if len(acks) > 0 {
		hs.send(f, acks)
	}
	return acks
}

// ackAllV5 is ackAll for an MQTT 5 client.
// p is the caller's decode scratch, so the bench's own decoding does not
// allocate.
func (hs *harness) ackAllV5(f *fakeConn, scratch []byte, p *codec.Publish) []byte {
	acks := scratch[:0]
	for off := 0; off < len(f.out); {
		t, flags, n, err := codec.PacketLen(f.out[off:], 0)
		if err != nil {
			break
		}
		if t == codec.TypePublish && flags&0x06 != 0 {
			if _, err := codec.DecodePublish(f.out[off:off+n], codec.V5, p); err == nil {
				acks = codec.AppendAck(acks, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})
			}
		}
		off += n
	}
	f.out = f.out[:0]
	if len(acks) > 0 {
		hs.send(f, acks)
	}
	return acks
}
