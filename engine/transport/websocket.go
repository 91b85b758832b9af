package transport

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/engine/transport/ws"
)

// WebSocket on the event loops: the upgrade request, the frames and
// permessage-deflate are decoded by package ws in wsLayer.Fill, on the
// connection's loop, over the raw connection (ws) or its TLS Layer (wss).

// WSOptions are one WebSocket listener's settings.
type WSOptions struct {
	// Path is the request path; "" means ws.DefaultPath.
	Path string
	// MaxHeaderBytes bounds the upgrade request; 0 means
	// ws.DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxMessage bounds a compressed WebSocket message on the wire,
	// MaxInflated the same message inflated (0 means MaxMessage) and
	// MaxFrame a frame (0 means MaxMessage). A peer past any is closed
	// with 1009. Uncompressed messages are streamed: only their frames are
	// bounded.
	MaxMessage, MaxInflated, MaxFrame int
	// Deflate accepts permessage-deflate when the client offers it.
	Deflate bool
	// CompressThreshold: messages to the client shorter than this are not
	// compressed; 0 means ws.DefaultCompressThreshold.
	CompressThreshold int
	// Origins, when not empty, are the Origin header values accepted
	// (compared without regard to case). A request with no Origin is not
	// from a browser and is accepted: the check keeps other sites' pages
	// from reaching the broker through their visitors' browsers.
	Origins []string
}

// ErrWSOptions is wrapped by every WebSocket setting error.
var ErrWSOptions = errors.New("transport: websocket")

// WSStats counts what a WebSocket listener refused and closed. Safe from
// any goroutine.
type WSStats struct {
	Upgraded atomic.Uint64 // upgrade requests accepted
	Deflated atomic.Uint64 // of which with permessage-deflate
	Refused  atomic.Uint64 // upgrade requests refused (HTTP error sent)
	Broken   atomic.Uint64 // connections closed for a frame error (close frame sent)
}

// WSServer is one WebSocket listener's transport. Safe from any
// goroutine.
type WSServer struct {
	cfg    ws.Config
	limits ws.Limits
	thresh int
	log    *slog.Logger
	logs   logLimiter
	Stats  WSStats
}

// NewWSServer checks opts. Refusals and protocol errors are logged on log
// (at most a few lines a second) and counted in Stats.
func NewWSServer(opts WSOptions, log *slog.Logger) (*WSServer, error) {
	if opts.Path != "" && opts.Path[0] != '/' {
		return nil, errors.Join(ErrWSOptions, errors.New("path "+opts.Path+": want an absolute path such as /mqtt"))
	}
	if opts.MaxFrame == 0 {
		opts.MaxFrame = opts.MaxMessage
	}
	if opts.MaxInflated == 0 {
		opts.MaxInflated = opts.MaxMessage
	}
	if opts.MaxMessage < 16 || opts.MaxFrame < 16 || opts.MaxInflated < 16 {
		return nil, errors.Join(ErrWSOptions, errors.New("max message, inflated or frame size under 16 bytes"))
	}
	s := &WSServer{
		cfg:    ws.Config{Path: opts.Path, MaxHeaderBytes: opts.MaxHeaderBytes, Deflate: opts.Deflate},
		limits: ws.Limits{MaxFrame: opts.MaxFrame, MaxMessage: opts.MaxMessage, MaxInflated: opts.MaxInflated},
		thresh: opts.CompressThreshold,
		log:    log,
	}
	if s.thresh <= 0 {
		s.thresh = ws.DefaultCompressThreshold
	}
	if len(opts.Origins) > 0 {
		allowed := make(map[string]bool, len(opts.Origins))
		for _, o := range opts.Origins {
			allowed[strings.ToLower(o)] = true
		}
		s.cfg.CheckOrigin = func(o string) bool { return o == "" || allowed[strings.ToLower(o)] }
	}
	return s, nil
}

// Wrap builds the WebSocket Layer of a connection over under: the raw
// connection, or the TLS Layer of a wss listener. Loop-only.
func (s *WSServer) Wrap(under network.Conn) network.Layer {
	l := &wsLayer{srv: s, under: under, raw: under, built: time.Now()}
	if ly, ok := under.(network.Layer); ok {
		l.lower, l.raw = ly, ly.Under()
	}
	l.dec.Limits = s.limits
	l.enc.Threshold = s.thresh
	return l
}

// wsLayer is one WebSocket connection: a network.Layer over under.
// Loop-only, as every Layer.
type wsLayer struct {
	srv   *WSServer
	under network.Conn  // what carries the frames: raw or TLS
	lower network.Layer // under when it is a Layer (wss), else nil
	raw   network.Conn  // the loop's connection

	hs       ws.Handshake
	upgraded bool
	dec      ws.Decoder
	enc      ws.Encoder
	closing  bool // a close frame was sent: nothing more is written
	// peerClosed: the peer's close frame arrived; what follows is ignored.
	peerClosed bool

	// plain[off:] is the payload not yet consumed by the Handler; it is
	// dropped once consumed, so an idle connection holds none.
	plain []byte
	off   int

	ctx   any
	err   error
	built time.Time // when Wrap built it
}

// errWSClosed is the Fill error of a connection whose peer sent a close
// frame (answered).
var errWSClosed = errors.New("transport: websocket closed by the peer")

func (l *wsLayer) Under() network.Conn { return l.raw }
func (l *wsLayer) Err() error          { return l.err }

// AcceptedAt passes on the TLS Layer's time of accept; without TLS it is
// when the layer was built, at adoption.
func (l *wsLayer) AcceptedAt() time.Time {
	if o, ok := l.lower.(network.Opened); ok {
		return o.AcceptedAt()
	}
	return l.built
}

// PeerIdentity passes on the TLS Layer's client identity.
func (l *wsLayer) PeerIdentity() string {
	if o, ok := l.lower.(network.Identified); ok {
		return o.PeerIdentity()
	}
	return ""
}

// Fill reads the upgrade request, then frames, from under.
func (l *wsLayer) Fill() (int, error) {
	if l.lower != nil {
		if _, err := l.lower.Fill(); err != nil {
			l.err = err
			return 0, err
		}
	}
	if l.peerClosed {
		l.err = errWSClosed
		return 0, l.err
	}
	if l.under.InboundBuffered() == 0 {
		return 0, nil
	}
	if !l.upgraded {
		if err := l.upgrade(); err != nil || !l.upgraded {
			return 0, err
		}
	}
	return l.frames()
}

// upgrade answers the upgrade request once it is whole.
func (l *wsLayer) upgrade() error {
	buf, _ := l.under.Peek(0)
	n, u, err := l.hs.Parse(buf, &l.srv.cfg)
	if errors.Is(err, ws.ErrIncomplete) {
		return nil
	}
	var he *ws.HandshakeError
	if errors.As(err, &he) {
		l.srv.Stats.Refused.Add(1)
		l.srv.logs.warn(l.srv.log, "websocket upgrade refused", "remote", l.raw.RemoteAddr(), "status", he.Status, "reason", he.Reason)
		_, _ = l.under.Write(ws.AppendRefusal(nil, he))
		l.closing = true
		l.err = err
		return err
	}
	_, _ = l.under.Discard(n)
	l.upgraded = true
	l.dec.Deflate, l.enc.Deflate = u.Deflate, u.Deflate
	l.hs = ws.Handshake{}
	l.srv.Stats.Upgraded.Add(1)
	if u.Deflate {
		l.srv.Stats.Deflated.Add(1)
	}
	_, err = l.under.Write(ws.AppendResponse(nil, &u))
	if err != nil {
		l.err = err
	}
	return err
}

// frames decodes the frames under holds into plain and answers control
// frames.
func (l *wsLayer) frames() (int, error) {
	before := len(l.plain) - l.off
	for l.under.InboundBuffered() > 0 {
		buf, _ := l.under.Peek(0)
		if l.off > 0 && l.off == len(l.plain) {
			l.plain, l.off = l.plain[:0], 0
		}
		n, out, ctl, err := l.dec.Decode(buf, l.plain)
		l.plain = out
		if n > 0 { // Discard(0) would discard everything
			_, _ = l.under.Discard(n)
		}
		if err != nil {
			return l.fail(err)
		}
		switch ctl.Op {
		case ws.OpPing:
			l.writeFrame(ws.AppendPong(nil, ctl.Payload))
		case ws.OpClose:
			code := ctl.Code
			if code == ws.CloseNoStatus {
				code = 0
			}
			l.writeFrame(ws.AppendClose(nil, code, ""))
			l.closing = true
			l.peerClosed = true
			// What came before the close frame (an MQTT DISCONNECT) is
			// the Handler's first; the next Fill, or the peer's end of
			// the TCP connection, closes.
			if k := l.added(before); k > 0 {
				return k, nil
			}
			l.err = errWSClosed
			return 0, l.err
		case 0:
			if n == 0 {
				return l.added(before), nil // a partial header
			}
		}
	}
	return l.added(before), nil
}

func (l *wsLayer) added(before int) int {
	if l.off == len(l.plain) {
		l.plain, l.off = nil, 0
	}
	return len(l.plain) - l.off - before
}

// fail sends the close frame of a frame error and reports it.
func (l *wsLayer) fail(err error) (int, error) {
	var ce *ws.CloseError
	if errors.As(err, &ce) {
		l.srv.Stats.Broken.Add(1)
		l.srv.logs.warn(l.srv.log, "websocket closed", "remote", l.raw.RemoteAddr(), "code", ce.Code, "reason", ce.Reason)
		l.writeFrame(ws.AppendClose(nil, ce.Code, ce.Reason))
		l.closing = true
	}
	l.err = err
	return 0, err
}

// writeFrame writes a frame of the layer's own (pong, close) under.
func (l *wsLayer) writeFrame(b []byte) {
	if !l.closing {
		_, _ = l.under.Write(b)
	}
}

// Closing sends a close frame, then lets a TLS Layer under say its last
// word.
func (l *wsLayer) Closing() {
	if l.upgraded {
		l.writeFrame(ws.AppendClose(nil, ws.CloseNormal, ""))
		l.closing = true
	}
	if l.lower != nil {
		l.lower.Closing()
	}
}

// InboundBuffered is the payload not yet consumed.
func (l *wsLayer) InboundBuffered() int { return len(l.plain) - l.off }

// Peek returns the next n payload bytes (all if n <= 0), valid until the
// next Discard, Read or Fill.
func (l *wsLayer) Peek(n int) ([]byte, error) {
	buf := l.plain[l.off:]
	if n <= 0 {
		return buf, nil
	}
	if n > len(buf) {
		return buf, io.ErrShortBuffer
	}
	return buf[:n], nil
}

// Discard consumes n payload bytes, all if n <= 0.
func (l *wsLayer) Discard(n int) (int, error) {
	avail := len(l.plain) - l.off
	if n <= 0 || n > avail {
		n = avail
	}
	l.off += n
	if l.off == len(l.plain) {
		l.plain, l.off = nil, 0
	}
	return n, nil
}

// Read consumes up to len(p) payload bytes into p.
func (l *wsLayer) Read(p []byte) (int, error) {
	n := copy(p, l.plain[l.off:])
	return l.Discard(n)
}

// frameBuf is a pooled buffer a Write frames its bytes in; the framed
// bytes are copied by under's Write, so none is held between writes.
type frameBuf struct{ b, z []byte }

var frameBufs = sync.Pool{New: func() any { return new(frameBuf) }}

// frameBufKeep is the capacity of a frameBuf kept for reuse.
const frameBufKeep = 64 << 10

// Write sends p as one binary message.
func (l *wsLayer) Write(p []byte) (int, error) {
	if !l.upgraded || l.closing {
		return 0, net.ErrClosed
	}
	fb := frameBufs.Get().(*frameBuf)
	fb.b, fb.z = l.enc.AppendMessage(fb.b[:0], p, fb.z)
	_, err := l.under.Write(fb.b)
	if cap(fb.b) <= frameBufKeep && cap(fb.z) <= frameBufKeep {
		frameBufs.Put(fb)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *wsLayer) OutboundBuffered() int   { return l.raw.OutboundBuffered() }
func (l *wsLayer) SetLinger(sec int) error { return l.raw.SetLinger(sec) }
func (l *wsLayer) RemoteAddr() net.Addr    { return l.raw.RemoteAddr() }
func (l *wsLayer) Context() any            { return l.ctx }
func (l *wsLayer) SetContext(ctx any)      { l.ctx = ctx }

// logLimiter lets through at most logBurst lines a second: a flood of bad
// peers is counted, not logged line by line. Safe from any goroutine.
type logLimiter struct {
	sec atomic.Int64 // the second of the current window
	n   atomic.Int64 // lines logged in it
}

const logBurst = 10

func (r *logLimiter) warn(log *slog.Logger, msg string, args ...any) {
	if log == nil {
		return
	}
	now := time.Now().Unix()
	if s := r.sec.Load(); s != now && r.sec.CompareAndSwap(s, now) {
		r.n.Store(0)
	}
	if r.n.Add(1) <= logBurst {
		log.Warn(msg, args...)
	}
}
