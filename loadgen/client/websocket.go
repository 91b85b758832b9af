package client

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/gust-mqtt/gust/engine/transport/ws"
)

// maxControl is the largest control frame payload (RFC 6455 5.5).
const maxControl = 125

// wsConn is MQTT over WebSocket (RFC 6455) as a net.Conn: each Write is
// one masked binary frame; Read returns the payload of the broker's
// binary frames, answers its pings, and ends (io.EOF) at its close
// frame, which it echoes. Deadlines are the underlying connection's.
// Write is safe from any goroutine; Read from one at a time.
type wsConn struct {
	net.Conn
	r *bufio.Reader // over Conn; holds what followed the upgrade response

	wmu  sync.Mutex // guards wbuf and the writes to Conn
	wbuf []byte

	left int // payload bytes of the current data frame not yet read
	ctl  [maxControl]byte
}

// upgradeWebSocket sends the WebSocket upgrade request for path on host
// over conn (subprotocol mqtt) and checks the broker's answer.
func upgradeWebSocket(conn net.Conn, host, path string) (*wsConn, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(r, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, fmt.Errorf("%w: reading the upgrade response: %v", ErrWebSocket, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("%w: upgrade of %s refused: HTTP %s", ErrWebSocket, path, resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != ws.AcceptKey([]byte(key)) {
		return nil, fmt.Errorf("%w: wrong Sec-WebSocket-Accept %q", ErrWebSocket, got)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); !strings.EqualFold(p, "mqtt") {
		return nil, fmt.Errorf("%w: subprotocol %q agreed, want mqtt", ErrWebSocket, p)
	}
	if e := resp.Header.Get("Sec-WebSocket-Extensions"); e != "" {
		return nil, fmt.Errorf("%w: extension %q agreed, none offered", ErrWebSocket, e)
	}
	return &wsConn{Conn: conn, r: r}, nil
}

// Write sends p as one binary frame.
func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.send(ws.OpBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// send writes one masked frame of op carrying p.
func (c *wsConn) send(op ws.Opcode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var key [4]byte
	_, _ = rand.Read(key[:])
	c.wbuf = ws.AppendClientHeader(c.wbuf[:0], op, true, false, len(p), key)
	i := len(c.wbuf)
	c.wbuf = append(c.wbuf, p...)
	ws.MaskBytes(key, 0, c.wbuf[i:])
	_, err := c.Conn.Write(c.wbuf)
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
	}
	return err
}

// Read reads the payload of the broker's data frames.
func (c *wsConn) Read(p []byte) (int, error) {
	for c.left == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n, err := c.r.Read(p[:min(len(p), c.left)])
	c.left -= n
	return n, err
}

// next reads frame headers, and control frames whole, until a data frame
// with a payload starts.
func (c *wsConn) next() error {
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		return err
	}
	op, fin := ws.Opcode(h[0]&0x0f), h[0]&0x80 != 0
	if h[0]&0x70 != 0 || h[1]&0x80 != 0 {
		return fmt.Errorf("%w: reserved bits or a masked frame from the broker", ErrWebSocket)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(c.r, e[:]); err != nil {
			return err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(c.r, e[:]); err != nil {
			return err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	switch op {
	case ws.OpBinary, ws.OpContinuation:
		if n > 1<<31 {
			return fmt.Errorf("%w: frame of %d bytes", ErrWebSocket, n)
		}
		c.left = int(n)
		return nil
	case ws.OpPing, ws.OpPong, ws.OpClose:
		if n > maxControl || !fin {
			return fmt.Errorf("%w: bad control frame", ErrWebSocket)
		}
		p := c.ctl[:n]
		if _, err := io.ReadFull(c.r, p); err != nil {
			return err
		}
		switch op {
		case ws.OpPing:
			return c.send(ws.OpPong, p)
		case ws.OpClose:
			echo := p[:min(len(p), 2)]
			_ = c.send(ws.OpClose, echo)
			return io.EOF
		}
		return nil
	}
	return fmt.Errorf("%w: frame opcode %d (MQTT uses binary frames)", ErrWebSocket, op)
}
