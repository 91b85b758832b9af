package transport

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gust-mqtt/gust/engine/network"
)

// TLS on the event loops. crypto/tls does the cryptography; what is ours
// is the net.Conn under each tls.Conn (wire), which has two lives:
//
//   - During the handshake, on a handshake goroutine (handshake.go), it is
//     a duplicate of the socket in Go's poller: reads and writes block,
//     bounded by the handshake deadline.
//   - Once the socket is adopted by a loop, it reads the raw connection's
//     buffered bytes and returns errWouldBlock (a temporary net.Error)
//     when there are none: tls.Conn keeps what it has read of a record
//     and does not record a temporary error as the connection's failure
//     (readRecordOrCCS), so tls.Conn.Read runs on the loop without
//     blocking. Writes go to the raw connection's Write, which copies.
//
// tlsLayer is the network.Layer over it: Fill decrypts every whole record
// the raw connection holds into the plaintext the engine reads.

// errWouldBlock is what the wire returns on the loop when the raw
// connection holds no more bytes.
var errWouldBlock net.Error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "transport: no buffered input" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// wire is the net.Conn under a tls.Conn; see above. f is set during the
// handshake (its goroutine only), raw after adoption (the loop only); the
// hand-over between them goes through Loop.Adopt.
type wire struct {
	f      *os.File
	raw    network.Conn
	local  net.Addr
	remote net.Addr
}

func (w *wire) Read(p []byte) (int, error) {
	if w.f != nil {
		return w.f.Read(p)
	}
	if w.raw == nil || w.raw.InboundBuffered() == 0 {
		return 0, errWouldBlock
	}
	return w.raw.Read(p)
}

func (w *wire) Write(p []byte) (int, error) {
	if w.f != nil {
		return w.f.Write(p)
	}
	if w.raw == nil {
		return 0, net.ErrClosed
	}
	return w.raw.Write(p)
}

// Close is a no-op: the handshake goroutine closes its duplicate, the loop
// the raw connection.
func (w *wire) Close() error         { return nil }
func (w *wire) LocalAddr() net.Addr  { return w.local }
func (w *wire) RemoteAddr() net.Addr { return w.remote }

// The deadlines bound the handshake; on the loop nothing blocks.
func (w *wire) SetDeadline(t time.Time) error {
	if w.f != nil {
		return w.f.SetDeadline(t)
	}
	return nil
}

func (w *wire) SetReadDeadline(t time.Time) error {
	if w.f != nil {
		return w.f.SetReadDeadline(t)
	}
	return nil
}

func (w *wire) SetWriteDeadline(t time.Time) error {
	if w.f != nil {
		return w.f.SetWriteDeadline(t)
	}
	return nil
}

// plainSize is the size of a plaintext buffer: the largest TLS record's
// plaintext, so one tls.Conn.Read always has room for what it returns.
const plainSize = 16 << 10

// plainBuf is a pooled plaintext buffer. A connection holds one only while
// it has plaintext the engine has not consumed, so an idle connection
// holds none.
type plainBuf struct{ b [plainSize]byte }

var plainPool = sync.Pool{New: func() any { return new(plainBuf) }}

// tlsLayer is a TLS connection adopted by a loop: a network.Layer over
// the raw connection. Loop-only, as every Layer.
type tlsLayer struct {
	raw  network.Conn
	tc   *tls.Conn
	wire *wire

	// plain[off:] is the plaintext not yet consumed; pb backs plain while
	// it is pooled (nil once plain outgrew it, or while empty).
	plain []byte
	off   int
	pb    *plainBuf
	// more is set when tls.Conn may hold read records not yet returned.
	more bool

	ctx      any
	err      error
	accepted time.Time
	identity string // user name from the client certificate, "" if not used
}

// Under returns the raw connection.
func (t *tlsLayer) Under() network.Conn { return t.raw }

// Err is the error of the last Fill.
func (t *tlsLayer) Err() error { return t.err }

// AcceptedAt is when the socket was accepted, before its handshake.
func (t *tlsLayer) AcceptedAt() time.Time { return t.accepted }

// PeerIdentity is the client certificate's identity when the listener
// takes it as the user name, else "".
func (t *tlsLayer) PeerIdentity() string { return t.identity }

// Fill decrypts the records the raw connection holds into plain. io.EOF
// means the peer sent close_notify.
func (t *tlsLayer) Fill() (int, error) {
	if !t.more && t.raw.InboundBuffered() == 0 {
		return 0, nil
	}
	n := 0
	for {
		if t.plain == nil {
			t.pb = plainPool.Get().(*plainBuf)
			t.plain = t.pb.b[:0]
		} else if len(t.plain) == cap(t.plain) {
			t.grow()
		}
		k, err := t.tc.Read(t.plain[len(t.plain):cap(t.plain)])
		t.plain = t.plain[:len(t.plain)+k]
		n += k
		if err == errWouldBlock {
			t.more = false
			t.release()
			return n, nil
		}
		if err != nil {
			t.err = err
			return n, err
		}
		t.more = true
	}
}

// grow makes room in a full plain: by moving the unconsumed bytes down,
// or by a larger buffer when more than half is unconsumed (the engine is
// not reading: a takeover, a password check, a partial packet).
func (t *tlsLayer) grow() {
	if t.off >= len(t.plain)/2 {
		t.plain = t.plain[:copy(t.plain, t.plain[t.off:])]
		t.off = 0
		return
	}
	bigger := make([]byte, len(t.plain)-t.off, 2*cap(t.plain))
	copy(bigger, t.plain[t.off:])
	t.plain, t.off = bigger, 0
	if t.pb != nil {
		plainPool.Put(t.pb)
		t.pb = nil
	}
}

// release gives the buffer back once everything in it was consumed.
func (t *tlsLayer) release() {
	if t.plain == nil || t.off < len(t.plain) {
		return
	}
	if t.pb != nil {
		plainPool.Put(t.pb)
		t.pb = nil
	}
	t.plain, t.off = nil, 0
}

// InboundBuffered is the plaintext not yet consumed.
func (t *tlsLayer) InboundBuffered() int { return len(t.plain) - t.off }

// Peek returns the next n bytes of plaintext (all if n <= 0), valid until
// the next Discard, Read or Fill.
func (t *tlsLayer) Peek(n int) ([]byte, error) {
	buf := t.plain[t.off:]
	if n <= 0 {
		return buf, nil
	}
	if n > len(buf) {
		return buf, io.ErrShortBuffer
	}
	return buf[:n], nil
}

// Discard consumes n bytes of plaintext, all if n <= 0.
func (t *tlsLayer) Discard(n int) (int, error) {
	avail := len(t.plain) - t.off
	if n <= 0 || n > avail {
		n = avail
	}
	t.off += n
	t.release()
	return n, nil
}

// Read consumes up to len(p) bytes of plaintext into p.
func (t *tlsLayer) Read(p []byte) (int, error) {
	n := copy(p, t.plain[t.off:])
	t.off += n
	t.release()
	return n, nil
}

// Write seals p into records written to the raw connection.
func (t *tlsLayer) Write(p []byte) (int, error) { return t.tc.Write(p) }

// Closing sends close_notify.
func (t *tlsLayer) Closing() { _ = t.tc.CloseWrite() }

// OutboundBuffered is the raw connection's: sealed bytes not yet sent.
func (t *tlsLayer) OutboundBuffered() int   { return t.raw.OutboundBuffered() }
func (t *tlsLayer) SetLinger(sec int) error { return t.raw.SetLinger(sec) }
func (t *tlsLayer) RemoteAddr() net.Addr    { return t.raw.RemoteAddr() }
func (t *tlsLayer) Context() any            { return t.ctx }
func (t *tlsLayer) SetContext(ctx any)      { t.ctx = ctx }
