package engine

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/engine/transport/certgen"
	"github.com/gust-mqtt/gust/engine/transport/ws"
	"github.com/gust-mqtt/gust/loadgen"
)

// wsBroker is a broker listening on plain TCP, WebSocket and secure
// WebSocket, each on a free loopback port.
type wsBroker struct {
	b       *Broker
	tcp     string
	ws, wss string // host:port
	certs   certgen.Set
	tlsConf *tls.Config // trusts the broker's certificate
	log     *syncBuffer
}

func startWSBroker(t *testing.T, mod func(*Config)) *wsBroker {
	t.Helper()
	certs, err := certgen.WriteSet(t.TempDir(), []string{"127.0.0.1", "localhost"}, "client", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	w := &wsBroker{certs: certs, log: new(syncBuffer)}
	w.b = startBroker(t, func(c *Config) {
		c.Listeners = []Listener{
			{Transport: TransportTCP, Addr: "127.0.0.1:0"},
			{Transport: TransportWS, Addr: "127.0.0.1:0"},
			{Transport: TransportWSS, Addr: "127.0.0.1:0", CertFile: certs.Server, KeyFile: certs.ServerKey},
		}
		c.Logger = logTo(w.log)
		if mod != nil {
			mod(c)
		}
	})
	addrs := w.b.ListenerAddrs()
	w.tcp, w.ws, w.wss = addrs[0].String(), addrs[1].String(), addrs[2].String()
	pem, err := os.ReadFile(certs.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	w.tlsConf = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	return w
}

// TestInteropPahoWebSocket: paho.mqtt.golang (gorilla/websocket under it)
// over ws:// and wss:// exchanges QoS 0, 1 and 2 messages with a TCP
// client, both ways, with payloads from 1 byte to 200 KiB.
func TestInteropPahoWebSocket(t *testing.T) {
	w := startWSBroker(t, nil)
	onWS := pahoClient(t, w.b, "on-ws", func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker("ws://" + w.ws + "/mqtt")
	})
	onWSS := pahoClient(t, w.b, "on-wss", func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker("wss://" + w.wss + "/mqtt")
		o.SetTLSConfig(w.tlsConf)
	})
	onTCP := pahoClient(t, w.b, "on-tcp", nil)
	colWS, colWSS, colTCP := newCollector(), newCollector(), newCollector()
	subscribe(t, onWS, "to/ws", 1, colWS)
	subscribe(t, onWSS, "to/wss", 2, colWSS)
	subscribe(t, onTCP, "to/tcp", 1, colTCP)

	payloads := []string{"x", strings.Repeat("p", 1000), strings.Repeat("large ", 200<<10/6)}
	for qos := byte(0); qos <= 2; qos++ {
		for _, p := range payloads {
			publish(t, onTCP, "to/ws", qos, false, p)
			publish(t, onWS, "to/wss", qos, false, p)
			publish(t, onWSS, "to/tcp", qos, false, p)
		}
	}
	n := 3 * len(payloads)
	for name, col := range map[string]*collector{"ws": colWS, "wss": colWSS, "tcp": colTCP} {
		msgs := col.wait(t, n, 10*time.Second)
		for i, m := range msgs {
			if want := payloads[i%len(payloads)]; string(m.Payload()) != want {
				t.Fatalf("%s: message %d: %d bytes, want %d", name, i, len(m.Payload()), len(want))
			}
		}
	}
	if st := w.b.Stats(); st.WSUpgrades != 2 || st.WSRefused != 0 || st.WSBroken != 0 {
		t.Fatalf("upgrades %d refused %d broken %d, want 2 0 0", st.WSUpgrades, st.WSRefused, st.WSBroken)
	}
}

// wsDial opens a TCP connection to a ws listener and sends req.
func wsDial(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	return c
}

const wsUpgrade = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"

var wsKey = [4]byte{1, 2, 3, 4}

// wsFrame is a masked client frame.
func wsFrame(op ws.Opcode, rsv1 bool, p []byte) []byte {
	b := ws.AppendClientHeader(nil, op, true, rsv1, len(p), wsKey)
	i := len(b)
	b = append(b, p...)
	ws.MaskBytes(wsKey, 0, b[i:])
	return b
}

// wsCloseCode reads server frames until a close frame and returns its
// code, then expects the connection to end.
func wsCloseCode(t *testing.T, r *bufio.Reader) uint16 {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			t.Fatal("no close frame:", err)
		}
		n := int(h[1] & 0x7f)
		if n == 126 {
			var e [2]byte
			_, _ = io.ReadFull(r, e[:])
			n = int(e[0])<<8 | int(e[1])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			t.Fatal(err)
		}
		if ws.Opcode(h[0]&0xf) == ws.OpClose {
			if _, err := r.ReadByte(); err == nil {
				t.Fatal("bytes after the close frame")
			}
			return uint16(p[0])<<8 | uint16(p[1])
		}
	}
}

// TestWebSocketBadInput: each bad upgrade or frame closes only its own
// connection, with its HTTP status or close code and a log line, while a
// client on the same listener carries on.
func TestWebSocketBadInput(t *testing.T) {
	w := startWSBroker(t, nil)
	good := pahoClient(t, w.b, "good", func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker("ws://" + w.ws + "/mqtt")
	})
	col := newCollector()
	subscribe(t, good, "still/here", 1, col)

	refusals := []struct {
		name, req string
		status    int
	}{
		{"wrong subprotocol", strings.Replace(wsUpgrade, "Protocol: mqtt", "Protocol: chat", 1) + "\r\n", 400},
		{"missing key", strings.Replace(wsUpgrade, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1) + "\r\n", 400},
		{"MQTT without WebSocket", string(connectBytes("raw", 0)) + "\r\n\r\n", 400},
		{"header too large", wsUpgrade + "X: " + strings.Repeat("a", 9000) + "\r\n\r\n", 431},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			c := wsDial(t, w.ws, tt.req)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if _, err := io.ReadAll(resp.Body); err != nil {
				t.Fatal(err)
			}
		})
	}

	bomb := deflateZeros(64 << 20) // about 64 KiB on the wire
	frameErrs := []struct {
		name    string
		deflate bool
		wire    []byte
		code    uint16
	}{
		{name: "unmasked", wire: ws.AppendHeader(nil, ws.OpBinary, true, false, 3), code: ws.CloseProtocolError},
		{name: "text frame", wire: wsFrame(ws.OpText, false, []byte("hi")), code: ws.CloseUnsupportedData},
		{name: "oversize frame", wire: ws.AppendClientHeader(nil, ws.OpBinary, true, false, 1<<30, wsKey), code: ws.CloseMessageTooBig},
		{name: "deflate bomb", deflate: true, wire: wsFrame(ws.OpBinary, true, bomb), code: ws.CloseMessageTooBig},
		{name: "compressed without deflate", wire: wsFrame(ws.OpBinary, true, []byte{1}), code: ws.CloseProtocolError},
	}
	for _, tt := range frameErrs {
		t.Run(tt.name, func(t *testing.T) {
			req := wsUpgrade
			if tt.deflate {
				req += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
			}
			c := wsDial(t, w.ws, req+"\r\n")
			r := bufio.NewReader(c)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 101 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != tt.deflate {
				t.Fatalf("deflate negotiated %v, want %v", got, tt.deflate)
			}
			if _, err := c.Write(wsFrame(ws.OpBinary, false, connectBytes("bad-"+strings.ReplaceAll(tt.name, " ", "-"), 0))); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(tt.wire); err != nil {
				t.Fatal(err)
			}
			if got := wsCloseCode(t, r); got != tt.code {
				t.Fatalf("close code %d, want %d", got, tt.code)
			}
		})
	}

	publish(t, good, "still/here", 1, false, "yes")
	col.wait(t, 1, 5*time.Second)
	st := w.b.Stats()
	if st.WSRefused != uint64(len(refusals)) || st.WSBroken != uint64(len(frameErrs)) {
		t.Fatalf("refused %d broken %d, want %d %d", st.WSRefused, st.WSBroken, len(refusals), len(frameErrs))
	}
	logs := w.log.String()
	for _, want := range []string{"websocket upgrade refused", "Sec-WebSocket-Key missing", "does not offer mqtt",
		"client frame not masked", "message over the size limit", "frame over the size limit"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log has no %q", want)
		}
	}
}

// deflateZeros is n zero bytes compressed as a permessage-deflate sender
// does (sync flush, 00 00 ff ff stripped).
func deflateZeros(n int) []byte {
	var b strings.Builder
	zw, _ := flate.NewWriter(&b, flate.BestCompression)
	chunk := make([]byte, 1<<20)
	for i := 0; i < n; i += len(chunk) {
		_, _ = zw.Write(chunk)
	}
	_ = zw.Flush()
	return []byte(strings.TrimSuffix(b.String(), "\x00\x00\xff\xff"))
}

// TestInteropMQTTJSWebSocket runs the MQTT.js scenarios of
// TestInteropMQTTJS (but auth, which needs a password file) over ws:// and
// over wss://, each against a broker of its own; MQTT.js's ws package
// offers permessage-deflate, so messages of 256 bytes and more travel
// compressed both ways (the large scenario's 300 kB payloads too).
func TestInteropMQTTJSWebSocket(t *testing.T) {
	node := mqttjsNode(t)
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			w := startWSBroker(t, nil)
			addr := "ws://" + w.ws + "/mqtt"
			if scheme == "wss" {
				addr = "wss://localhost:" + w.wss[strings.LastIndexByte(w.wss, ':')+1:] + "/mqtt"
			}
			var cases []mqttjsCase
			args := []string{"scenarios.js", addr, w.tcp}
			for _, c := range mqttjsCases {
				if c.scenario != "auth" {
					cases = append(cases, c)
					args = append(args, c.scenario+"/"+strconv.Itoa(c.version))
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), mqttjsTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, args...)
			cmd.Dir = mqttjsDir
			cmd.Env = append(os.Environ(), "GUST_CA="+w.certs.CA)
			cmd.WaitDelay = time.Second
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			runErr := cmd.Run()
			results := map[string]*jsResult{}
			if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &results); err != nil {
				t.Fatalf("scenarios.js: %v (run: %v)\nstdout: %s\nstderr: %s", err, runErr, out.String(), errb.String())
			}
			for _, c := range cases {
				key := c.scenario + "/" + strconv.Itoa(c.version)
				t.Run(c.scenario+"/v"+strconv.Itoa(c.version), func(t *testing.T) {
					r := results[key]
					if r == nil {
						t.Fatal("no result for", key, "stderr:", errb.String())
					}
					if r.Error != "" || len(r.Failures) > 0 {
						t.Fatalf("error %q, failures %q (run: %v)\nstderr: %s", r.Error, r.Failures, runErr, errb.String())
					}
					c.check(t, c.version, r)
				})
			}
			st := w.b.Stats()
			if st.WSUpgrades == 0 || st.WSDeflated != st.WSUpgrades || st.WSRefused != 0 || st.WSBroken != 0 {
				t.Fatalf("upgrades %d (deflate %d), refused %d, broken %d: want all with deflate, none refused or broken",
					st.WSUpgrades, st.WSDeflated, st.WSRefused, st.WSBroken)
			}
			t.Logf("%s: %d WebSocket connections, all with permessage-deflate", scheme, st.WSUpgrades)
		})
	}
}

// TestLoadWebSocket runs gust load's WebSocket clients (masked frames, one
// per flush, so many packets joined in one frame) against the ws and wss
// listeners: every QoS 1 and 2 message arrives once, 100 kB ones included.
func TestLoadWebSocket(t *testing.T) {
	w := startWSBroker(t, nil)
	for _, tc := range []struct {
		name  string
		qos   byte
		size  int
		count int
		wss   bool
	}{
		{name: "qos1", qos: 1, size: 64, count: 200},
		// 200 messages of 100 kB queue at most 20 MB per subscriber, under
		// max_queued_bytes (32 MiB), past which the broker drops them.
		{name: "qos2-100k", qos: 2, size: 100 << 10, count: 50},
		{name: "wss-qos1", qos: 1, size: 1000, count: 200, wss: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadgen.DefaultConfig()
			cfg.Addr, cfg.WebSocket = w.ws, true
			if tc.wss {
				cfg.Addr, cfg.TLS = w.wss, w.tlsConf
			}
			cfg.QoS, cfg.PayloadSize = tc.qos, tc.size
			cfg.Publishers, cfg.Subscribers = 4, 2
			cfg.PubTopic, cfg.SubTopic = "wsload/"+tc.name+"/%i", "wsload/"+tc.name+"/#"
			cfg.Count = tc.count
			cfg.Duration, cfg.Drain = 20*time.Second, 10*time.Second
			res, err := loadgen.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			sent := int64(4 * tc.count)
			if res.Connected != 6 || res.Sent != sent || res.Acked != sent || res.Delivered != 2*sent ||
				res.Lost != 0 || res.Duplicated != 0 || res.Errors != 0 {
				t.Fatalf("connected %d sent %d acked %d delivered %d lost %d dup %d errors %d (%s)",
					res.Connected, res.Sent, res.Acked, res.Delivered, res.Lost, res.Duplicated, res.Errors, res.Failures)
			}
		})
	}
	if st := w.b.Stats(); st.WSBroken != 0 || st.WSRefused != 0 {
		t.Fatalf("broken %d refused %d", st.WSBroken, st.WSRefused)
	}
}

// TestWebSocketListenerSettings: a ws listener's own settings hold for a
// real client and for hand-made upgrades: its path (paho over ws:// on
// it; /mqtt is 404), its allowed origins (another is 403, none or the
// allowed one in another case is served), permessage-deflate off (not
// agreed when offered), its frame bound, and on a second listener the
// inflated-size bound, tripped by a message small on the wire.
func TestWebSocketListenerSettings(t *testing.T) {
	off := false
	logs := new(syncBuffer)
	b := startBroker(t, func(c *Config) {
		c.Logger = logTo(logs)
		c.Listeners = []Listener{
			{Transport: TransportWS, Addr: "127.0.0.1:0", Path: "/custom", WSDeflate: &off,
				WSOrigins: []string{"https://ok.example"}, WSMaxFrameSize: 64 << 10},
			{Transport: TransportWS, Addr: "127.0.0.1:0", WSMaxInflatedSize: 32 << 10},
		}
	})
	addrs := b.ListenerAddrs()
	first, second := addrs[0].String(), addrs[1].String()
	sub := pahoClient(t, b, "custom-path", func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker("ws://" + first + "/custom")
	})
	col := newCollector()
	subscribe(t, sub, "s", 1, col)
	pub := pahoClient(t, b, "default-path", func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker("ws://" + second + "/mqtt")
	})
	publish(t, pub, "s", 1, false, "through both listeners")
	if m := col.wait(t, 1, 5*time.Second); string(m[0].Payload()) != "through both listeners" {
		t.Fatalf("got %q", m[0].Payload())
	}

	custom := strings.Replace(wsUpgrade, "GET /mqtt", "GET /custom", 1)
	offer := "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{name: "default path", req: wsUpgrade + "\r\n", status: 404},
		{name: "other origin", req: custom + "Origin: https://evil.example\r\n\r\n", status: 403},
		{name: "allowed origin", req: custom + "Origin: https://OK.example\r\n" + offer + "\r\n", status: 101},
		{name: "no origin", req: custom + offer + "\r\n", status: 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.ReadResponse(bufio.NewReader(wsDial(t, first, tc.req)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
				t.Fatalf("extension %q agreed with ws_deflate false", ext)
			}
		})
	}

	closeCode := func(t *testing.T, addr, req string, frames ...[]byte) uint16 {
		t.Helper()
		c := wsDial(t, addr, req)
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		for _, f := range frames {
			if _, err := c.Write(f); err != nil {
				t.Fatal(err)
			}
		}
		return wsCloseCode(t, r)
	}
	connect := wsFrame(ws.OpBinary, false, connectBytes("bounded", 0))
	if got := closeCode(t, first, custom+"\r\n", connect, ws.AppendClientHeader(nil, ws.OpBinary, true, false, 64<<10+1, wsKey)); got != ws.CloseMessageTooBig {
		t.Fatalf("frame of ws_max_frame_size + 1: close code %d, want %d", got, ws.CloseMessageTooBig)
	}
	bomb := deflateZeros(40 << 10) // well under the message bound on the wire
	if got := closeCode(t, second, wsUpgrade+offer+"\r\n", connect, wsFrame(ws.OpBinary, true, bomb)); got != ws.CloseMessageTooBig {
		t.Fatalf("message inflating past ws_max_inflated_size: close code %d, want %d", got, ws.CloseMessageTooBig)
	}
	if !strings.Contains(logs.String(), "message over the size limit") {
		t.Fatal("no log line for the inflated bound")
	}
}

// wsClientConn is MQTT over WebSocket as a net.Conn for the raw test
// client (rawConn): each Write is one masked binary frame, Read returns
// the payload of the server's data frames; a close frame ends the stream.
// Deadlines are the underlying connection's.
type wsClientConn struct {
	net.Conn
	r    *bufio.Reader // over Conn, holding what followed the upgrade response
	left int           // payload bytes of the current data frame not yet read
}

func (c *wsClientConn) Write(p []byte) (int, error) {
	if _, err := c.Conn.Write(wsFrame(ws.OpBinary, false, p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsClientConn) Read(p []byte) (int, error) {
	for c.left == 0 {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return 0, err
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var e [2]byte
			if _, err := io.ReadFull(c.r, e[:]); err != nil {
				return 0, err
			}
			n = int(e[0])<<8 | int(e[1])
		case 127:
			var e [8]byte
			if _, err := io.ReadFull(c.r, e[:]); err != nil {
				return 0, err
			}
			n = 0
			for _, x := range e {
				n = n<<8 | int(x)
			}
		}
		switch op := ws.Opcode(h[0] & 0xf); {
		case op == ws.OpClose:
			return 0, io.EOF
		case op.IsControl():
			if _, err := c.r.Discard(n); err != nil {
				return 0, err
			}
		default:
			c.left = n
		}
	}
	k, err := c.r.Read(p[:min(len(p), c.left)])
	c.left -= k
	return k, err
}

// upgradeWS sends the WebSocket upgrade for /mqtt over nc and returns a
// raw client speaking MQTT in binary frames over it.
func upgradeWS(t testing.TB, nc net.Conn) *rawConn {
	t.Helper()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte(wsUpgrade + "\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(nc)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	_ = nc.SetDeadline(time.Time{})
	wc := &wsClientConn{Conn: nc, r: r}
	return &rawConn{t: t, nc: wc, r: bufio.NewReader(wc)}
}
