package loadgen

import (
	"crypto/tls"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// TLS on the load generator's loops, as the broker does it
// (engine/transport): the handshake blocks, on a duplicate of the socket in
// Go's poller bounded by the connect timeout (it runs on the loop: the
// connect phase is not what is measured); after it, tls.Conn reads from the
// bytes the loop read (a temporary net.Error when there are none, which
// crypto/tls does not record as a failure) and its writes are collected
// and written by flush.

// tlsWire is the net.Conn under a connection's tls.Conn.
type tlsWire struct {
	f   *os.File // during the handshake only
	in  []byte   // read from the socket, not yet taken by tls.Conn
	out []byte   // sealed, not yet written
	off int      // bytes of out written
}

var errNoInput net.Error = noInput{}

type noInput struct{}

func (noInput) Error() string   { return "loadgen: no buffered input" }
func (noInput) Timeout() bool   { return true }
func (noInput) Temporary() bool { return true }

func (w *tlsWire) Read(p []byte) (int, error) {
	if w.f != nil {
		return w.f.Read(p)
	}
	if len(w.in) == 0 {
		return 0, errNoInput
	}
	n := copy(p, w.in)
	w.in = w.in[:copy(w.in, w.in[n:])]
	return n, nil
}

func (w *tlsWire) Write(p []byte) (int, error) {
	if w.f != nil {
		return w.f.Write(p)
	}
	w.out = append(w.out, p...)
	return len(p), nil
}

func (w *tlsWire) Close() error                { return nil }
func (w *tlsWire) LocalAddr() net.Addr         { return &net.TCPAddr{} }
func (w *tlsWire) RemoteAddr() net.Addr        { return &net.TCPAddr{} }
func (w *tlsWire) SetDeadline(time.Time) error { return nil }
func (w *tlsWire) SetReadDeadline(time.Time) error {
	return nil
}
func (w *tlsWire) SetWriteDeadline(time.Time) error { return nil }

// tlsConn is a connection's TLS state.
type tlsConn struct {
	tc *tls.Conn
	w  *tlsWire
}

// handshake runs the TLS handshake on c's connected socket.
func (c *conn) handshake(cfg *tls.Config, timeout time.Duration) error {
	dup, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(dup), "tls-handshake")
	defer func() { _ = f.Close() }()
	if err := f.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	w := &tlsWire{f: f}
	tc := tls.Client(w, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	w.f = nil
	c.tls = &tlsConn{tc: tc, w: w}
	return nil
}

// tlsConsume decrypts data (one read's bytes) and handles the plaintext.
// It returns false when the connection was closed.
func (c *conn) tlsConsume(data []byte) bool {
	t := c.tls
	t.w.in = append(t.w.in, data...)
	for {
		n, err := t.tc.Read(c.l.plain)
		if n > 0 && !c.consume(c.l.plain[:n]) {
			return false
		}
		if err == errNoInput {
			return true
		}
		if err != nil {
			c.note("tls: " + err.Error())
			c.lost()
			return false
		}
	}
}

// seal moves c.out's plaintext into sealed records.
func (c *conn) seal() {
	if c.woff < len(c.out) {
		if _, err := c.tls.tc.Write(c.out[c.woff:]); err != nil {
			c.note("tls: " + err.Error())
		}
	}
	c.out, c.woff = c.out[:0], 0
}

// pendingOut is the number of bytes waiting to be written.
func (c *conn) pendingOut() int {
	n := len(c.out) - c.woff
	if c.tls != nil {
		n += len(c.tls.w.out) - c.tls.w.off
	}
	return n
}
