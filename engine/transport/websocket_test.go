package transport

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/engine/transport/ws"
)

// memConn is a network.Conn in memory: in is what the peer sent, out
// what was written to it.
type memConn struct {
	in, out bytes.Buffer
	ctx     any
}

func (c *memConn) InboundBuffered() int { return c.in.Len() }
func (c *memConn) Peek(n int) ([]byte, error) {
	b := c.in.Bytes()
	if n <= 0 || n > len(b) {
		return b, nil
	}
	return b[:n], nil
}
func (c *memConn) Discard(n int) (int, error) {
	if n <= 0 || n > c.in.Len() {
		n = c.in.Len()
	}
	c.in.Next(n)
	return n, nil
}
func (c *memConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *memConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *memConn) OutboundBuffered() int       { return 0 }
func (c *memConn) SetLinger(int) error         { return nil }
func (c *memConn) RemoteAddr() net.Addr        { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *memConn) Context() any                { return c.ctx }
func (c *memConn) SetContext(ctx any)          { c.ctx = ctx }

const upgradeReq = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"

var maskKey = [4]byte{9, 8, 7, 6}

// clientMsg is a masked binary frame carrying p.
func clientMsg(op ws.Opcode, p []byte) []byte {
	b := ws.AppendClientHeader(nil, op, true, false, len(p), maskKey)
	i := len(b)
	b = append(b, p...)
	ws.MaskBytes(maskKey, 0, b[i:])
	return b
}

func newWS(t *testing.T, opts WSOptions) (*WSServer, *memConn, network.Layer) {
	t.Helper()
	if opts.MaxMessage == 0 {
		opts.MaxMessage = 1 << 16
	}
	srv, err := NewWSServer(opts, nil)
	require.NoError(t, err)
	raw := new(memConn)
	return srv, raw, srv.Wrap(raw)
}

// upgraded returns a layer past its upgrade, its 101 response read.
func upgraded(t *testing.T, opts WSOptions, extra string) (*WSServer, *memConn, network.Layer) {
	t.Helper()
	srv, raw, l := newWS(t, opts)
	raw.in.WriteString(upgradeReq + extra + "\r\n")
	n, err := l.Fill()
	require.NoError(t, err)
	require.Zero(t, n)
	resp, err := http.ReadResponse(bufio.NewReader(&raw.out), nil)
	require.NoError(t, err)
	require.Equal(t, 101, resp.StatusCode)
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", resp.Header.Get("Sec-WebSocket-Accept"))
	require.Zero(t, raw.out.Len())
	require.EqualValues(t, 1, srv.Stats.Upgraded.Load())
	return srv, raw, l
}

// serverFrames parses the unmasked frames in b.
func serverFrames(t *testing.T, b []byte) (ops []ws.Opcode, payloads [][]byte) {
	t.Helper()
	for len(b) > 0 {
		require.GreaterOrEqual(t, len(b), 2)
		n, h := int(b[1]&0x7f), 2
		if n == 126 {
			n, h = int(b[2])<<8|int(b[3]), 4
		}
		require.GreaterOrEqual(t, len(b), h+n)
		ops = append(ops, ws.Opcode(b[0]&0xf))
		payloads = append(payloads, b[h:h+n])
		b = b[h+n:]
	}
	return ops, payloads
}

func TestWSLayerData(t *testing.T) {
	_, raw, l := upgraded(t, WSOptions{}, "")
	connect := []byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0}
	wire := append(clientMsg(ws.OpBinary, connect[:5]), clientMsg(ws.OpBinary, connect[5:])...)
	// Arriving a byte at a time, the payload comes out whole.
	got := 0
	for _, c := range wire {
		raw.in.WriteByte(c)
		n, err := l.Fill()
		require.NoError(t, err)
		got += n
	}
	require.Equal(t, len(connect), got)
	p, err := l.Peek(0)
	require.NoError(t, err)
	require.Equal(t, connect, p)
	_, err = l.Discard(-1)
	require.NoError(t, err)
	require.Zero(t, l.InboundBuffered())

	// A write is one binary frame.
	_, err = l.Write([]byte{0x20, 0x02, 0, 0})
	require.NoError(t, err)
	ops, payloads := serverFrames(t, raw.out.Bytes())
	require.Equal(t, []ws.Opcode{ws.OpBinary}, ops)
	require.Equal(t, []byte{0x20, 0x02, 0, 0}, payloads[0])
	raw.out.Reset()

	// A ping is answered with a pong; a close frame is echoed, and what
	// came before it reaches the Handler first.
	raw.in.Write(clientMsg(ws.OpPing, []byte("hi")))
	raw.in.Write(clientMsg(ws.OpBinary, []byte{0xe0, 0}))
	raw.in.Write(clientMsg(ws.OpClose, []byte{0x03, 0xe8}))
	n, err := l.Fill()
	require.NoError(t, err)
	require.Equal(t, 2, n)
	ops, payloads = serverFrames(t, raw.out.Bytes())
	require.Equal(t, []ws.Opcode{ws.OpPong, ws.OpClose}, ops)
	require.Equal(t, "hi", string(payloads[0]))
	require.Equal(t, []byte{0x03, 0xe8}, payloads[1])
	_, err = l.Fill()
	require.ErrorIs(t, err, errWSClosed)
	_, err = l.Write([]byte{0})
	require.Error(t, err)
}

func TestWSLayerRefusals(t *testing.T) {
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{name: "wrong subprotocol", req: strings.Replace(upgradeReq, "Protocol: mqtt", "Protocol: chat", 1), status: 400},
		{name: "missing key", req: strings.Replace(upgradeReq, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1), status: 400},
		{name: "wrong path", req: strings.Replace(upgradeReq, "/mqtt", "/x", 1), status: 404},
		{name: "MQTT on the WebSocket port", req: "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\r\n", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, raw, l := newWS(t, WSOptions{})
			raw.in.WriteString(tt.req + "\r\n")
			_, err := l.Fill()
			var he *ws.HandshakeError
			require.ErrorAs(t, err, &he)
			require.Equal(t, err, l.Err())
			resp, rerr := http.ReadResponse(bufio.NewReader(&raw.out), nil)
			require.NoError(t, rerr)
			require.Equal(t, tt.status, resp.StatusCode)
			require.EqualValues(t, 1, srv.Stats.Refused.Load())
			l.Closing()
			rest, _ := io.ReadAll(resp.Body)
			require.NotEmpty(t, rest)
		})
	}
}

func TestWSLayerFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		wire []byte
		code uint16
	}{
		{name: "unmasked", wire: ws.AppendHeader(nil, ws.OpBinary, true, false, 0), code: ws.CloseProtocolError},
		{name: "text", wire: clientMsg(ws.OpText, []byte("x")), code: ws.CloseUnsupportedData},
		{name: "oversize", wire: ws.AppendClientHeader(nil, ws.OpBinary, true, false, 1<<16+1, maskKey), code: ws.CloseMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, raw, l := upgraded(t, WSOptions{}, "")
			raw.in.Write(tt.wire)
			_, err := l.Fill()
			var ce *ws.CloseError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tt.code, ce.Code)
			ops, payloads := serverFrames(t, raw.out.Bytes())
			require.Equal(t, []ws.Opcode{ws.OpClose}, ops)
			require.Equal(t, []byte{byte(tt.code >> 8), byte(tt.code)}, payloads[0][:2])
			require.EqualValues(t, 1, srv.Stats.Broken.Load())
			raw.out.Reset()
			l.Closing() // no second close frame
			require.Zero(t, raw.out.Len())
		})
	}
}

// An idle connection holds no payload buffer.
func TestWSLayerIdleHoldsNothing(t *testing.T) {
	_, raw, l := upgraded(t, WSOptions{}, "")
	raw.in.Write(clientMsg(ws.OpBinary, make([]byte, 3000)))
	n, err := l.Fill()
	require.NoError(t, err)
	require.Equal(t, 3000, n)
	buf := make([]byte, 3000)
	k, err := l.Read(buf)
	require.NoError(t, err)
	require.Equal(t, 3000, k)
	require.Nil(t, l.(*wsLayer).plain)
}

func TestWSServerOptions(t *testing.T) {
	_, err := NewWSServer(WSOptions{Path: "mqtt", MaxMessage: 1024}, nil)
	require.ErrorIs(t, err, ErrWSOptions)
	_, err = NewWSServer(WSOptions{MaxMessage: 0}, nil)
	require.ErrorIs(t, err, ErrWSOptions)
}
