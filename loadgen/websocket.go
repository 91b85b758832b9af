package loadgen

import (
	"bytes"
	"encoding/binary"

	"github.com/gust-mqtt/gust/engine/transport/ws"
)

// WebSocket framing of a client (Config.WebSocket): the upgrade request
// goes first and CONNECT once the 101 response arrived; every flush wraps
// the bytes queued since the last one in one masked binary frame; what the
// broker sends is unwrapped before the MQTT parser sees it. Loop-only,
// like conn.

// wsKeyHeader is the Sec-WebSocket-Key of every upgrade: the key proves
// nothing to a broker, only that the client speaks WebSocket.
const wsKeyHeader = "Sec-WebSocket-Key: Z3VzdC1sb2FkZ2VuLWtleQ==\r\n"

// maxWSResponse bounds the upgrade response.
const maxWSResponse = 8 << 10

// wsConn is the WebSocket state of a conn.
type wsConn struct {
	upgraded bool
	key      [4]byte
	framed   int       // bytes at the start of conn.out already framed
	pend     []byte    // broker bytes not processed: the response, a partial frame header
	inFrame  bool      // a frame's header was read
	left     int       // payload bytes of the current frame still to come
	op       ws.Opcode // of the current frame
	ctl      []byte    // payload of the current control frame
}

// upgradeRequest appends the upgrade request for path on host.
func upgradeRequest(dst []byte, host, path string) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"...)
	dst = append(dst, wsKeyHeader...)
	return append(dst, "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"...)
}

// frameOut wraps out[framed:], the MQTT bytes queued since the last
// flush, in one masked binary frame.
func (w *wsConn) frameOut(out, scratch []byte) (newOut, newScratch []byte) {
	p := out[w.framed:]
	if len(p) == 0 {
		return out, scratch
	}
	scratch = append(scratch[:0], p...)
	ws.MaskBytes(w.key, 0, scratch)
	out = ws.AppendClientHeader(out[:w.framed], ws.OpBinary, true, false, len(scratch), w.key)
	out = append(out, scratch...)
	w.framed = len(out)
	return out, scratch
}

// wsResult is what unframe found besides payload.
type wsResult uint8

const (
	wsMore     wsResult = iota // keep reading
	wsUpgraded                 // the 101 response arrived: send CONNECT
	wsFailed                   // a refused upgrade or a bad frame
	wsClosed                   // the broker sent a close frame
)

// unframe takes a read's bytes: the upgrade response while not upgraded,
// then frames, whose payload is appended to plain. pong collects the
// masked pongs to send.
func (w *wsConn) unframe(data, plain, pong []byte) (newPlain, newPong []byte, res wsResult) {
	buf := data
	if len(w.pend) > 0 {
		w.pend = append(w.pend, data...)
		buf = w.pend
	}
	if !w.upgraded {
		end := bytes.Index(buf, []byte("\r\n\r\n"))
		if end < 0 {
			if len(buf) > maxWSResponse {
				return plain, pong, wsFailed
			}
			w.keep(buf)
			return plain, pong, wsMore
		}
		if !bytes.HasPrefix(buf, []byte("HTTP/1.1 101 ")) {
			return plain, pong, wsFailed
		}
		w.upgraded = true
		res = wsUpgraded
		buf = buf[end+4:]
	}
	for len(buf) > 0 {
		if !w.inFrame {
			op, n, h, ok, bad := frameHeader(buf)
			if bad {
				return plain, pong, wsFailed
			}
			if !ok {
				break
			}
			w.inFrame, w.op, w.left = true, op, n
			w.ctl = w.ctl[:0]
			buf = buf[h:]
		}
		take := min(w.left, len(buf))
		if w.op.IsControl() {
			w.ctl = append(w.ctl, buf[:take]...)
		} else {
			plain = append(plain, buf[:take]...)
		}
		buf = buf[take:]
		w.left -= take
		if w.left > 0 {
			break
		}
		w.inFrame = false
		switch w.op {
		case ws.OpPing:
			pong = ws.AppendClientHeader(pong, ws.OpPong, true, false, len(w.ctl), w.key)
			j := len(pong)
			pong = append(pong, w.ctl...)
			ws.MaskBytes(w.key, 0, pong[j:])
		case ws.OpClose:
			return plain, pong, wsClosed
		}
	}
	w.keep(buf)
	return plain, pong, res
}

// frameHeader parses a server frame header at the start of b: ok is false
// while it is not whole; bad for a masked or compressed frame (not what
// this client negotiates).
func frameHeader(b []byte) (op ws.Opcode, n, h int, ok, bad bool) {
	if len(b) < 2 {
		return 0, 0, 0, false, false
	}
	if b[1]&0x80 != 0 || b[0]&0x70 != 0 {
		return 0, 0, 0, false, true
	}
	op, n, h = ws.Opcode(b[0]&0x0f), int(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return 0, 0, 0, false, false
		}
		n, h = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, 0, 0, false, false
		}
		u := binary.BigEndian.Uint64(b[2:])
		if u > 1<<40 {
			return 0, 0, 0, false, true
		}
		n, h = int(u), 10
	}
	return op, n, h, true, false
}

// keep holds the unprocessed bytes for the next read.
func (w *wsConn) keep(rest []byte) {
	if len(rest) == 0 {
		w.pend = w.pend[:0]
		return
	}
	w.pend = append(w.pend[:0], rest...)
}
