package ws

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// upgradeRequest builds an upgrade request with the given header lines after
// the request line.
func upgradeRequest(target string, lines ...string) []byte {
	return []byte("GET " + target + " HTTP/1.1\r\n" + strings.Join(lines, "\r\n") + "\r\n\r\n")
}

// goodLines is a valid upgrade request's header, the key from RFC 6455
// 1.3.
var goodLines = []string{
	"Host: broker.example",
	"Upgrade: websocket",
	"Connection: keep-alive, Upgrade",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	"Sec-WebSocket-Version: 13",
	"Sec-WebSocket-Protocol: mqtt",
}

// without returns goodLines without the field named name, plus extra.
func without(name string, extra ...string) []string {
	var out []string
	for _, l := range goodLines {
		if !strings.HasPrefix(l, name+":") {
			out = append(out, l)
		}
	}
	return append(out, extra...)
}

func TestHandshakeAccepts(t *testing.T) {
	tests := []struct {
		name     string
		req      []byte
		cfg      Config
		protocol string
		deflate  bool
	}{
		{name: "mqtt", req: upgradeRequest("/mqtt", goodLines...), protocol: "mqtt"},
		{name: "query", req: upgradeRequest("/mqtt?x=1", goodLines...), protocol: "mqtt"},
		{name: "custom path", req: upgradeRequest("/ws", goodLines...), cfg: Config{Path: "/ws"}, protocol: "mqtt"},
		{name: "mqttv3.1", req: upgradeRequest("/mqtt", without("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: mqttv3.1")...), protocol: "mqttv3.1"},
		{
			name:     "mqtt preferred in a list",
			req:      upgradeRequest("/mqtt", without("Sec-WebSocket-Protocol", "sec-websocket-protocol: chat, mqttv3.1 ,mqtt")...),
			protocol: "mqtt",
		},
		{
			name:     "protocol field repeated",
			req:      upgradeRequest("/mqtt", without("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: mqtt")...),
			protocol: "mqtt",
		},
		{
			name:     "case-insensitive names and values",
			req:      upgradeRequest("/mqtt", "UPGRADE: WebSocket", "connection: UPGRADE", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==", "SEC-WEBSOCKET-VERSION: 13", "Sec-Websocket-Protocol: mqtt"),
			protocol: "mqtt",
		},
		{
			name:     "deflate offered, not enabled",
			req:      upgradeRequest("/mqtt", append(goodLines, "Sec-WebSocket-Extensions: permessage-deflate")...),
			protocol: "mqtt",
		},
		{
			name:     "deflate as browsers offer it",
			req:      upgradeRequest("/mqtt", append(goodLines, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")...),
			cfg:      Config{Deflate: true},
			protocol: "mqtt",
			deflate:  true,
		},
		{
			name:     "deflate with both takeovers and window 15",
			req:      upgradeRequest("/mqtt", append(goodLines, `Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits="15"; client_max_window_bits=10`)...),
			cfg:      Config{Deflate: true},
			protocol: "mqtt",
			deflate:  true,
		},
		{
			name:     "small server window declined, next offer taken",
			req:      upgradeRequest("/mqtt", append(goodLines, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10, permessage-deflate")...),
			cfg:      Config{Deflate: true},
			protocol: "mqtt",
			deflate:  true,
		},
		{
			name:     "small server window declined",
			req:      upgradeRequest("/mqtt", append(goodLines, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10")...),
			cfg:      Config{Deflate: true},
			protocol: "mqtt",
		},
		{
			name:     "unknown parameter declined",
			req:      upgradeRequest("/mqtt", append(goodLines, "Sec-WebSocket-Extensions: permessage-deflate; foo")...),
			cfg:      Config{Deflate: true},
			protocol: "mqtt",
		},
		{
			name:     "origin allowed",
			req:      upgradeRequest("/mqtt", append(goodLines, "Origin: https://ok.example")...),
			cfg:      Config{CheckOrigin: func(o string) bool { return o == "https://ok.example" }},
			protocol: "mqtt",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append(bytes.Clone(tt.req), 0x82, 0x80) // the first frame's bytes follow
			var h Handshake
			n, u, err := h.Parse(in, &tt.cfg)
			require.NoError(t, err)
			require.Equal(t, len(tt.req), n)
			require.Equal(t, tt.protocol, u.Protocol)
			require.Equal(t, tt.deflate, u.Deflate)
			require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", u.Accept) // RFC 6455 1.3

			// Byte by byte: incomplete until the last byte, then the same.
			var h2 Handshake
			for i := 1; i < len(tt.req); i++ {
				_, _, err := h2.Parse(tt.req[:i], &tt.cfg)
				require.ErrorIs(t, err, ErrIncomplete, "at %d", i)
			}
			n2, u2, err := h2.Parse(tt.req, &tt.cfg)
			require.NoError(t, err)
			require.Equal(t, n, n2)
			require.Equal(t, u.Protocol, u2.Protocol)
			require.Equal(t, u.Deflate, u2.Deflate)
		})
	}
}

func TestHandshakeRefuses(t *testing.T) {
	tests := []struct {
		name   string
		req    []byte
		cfg    Config
		status int
	}{
		{name: "wrong subprotocol", req: upgradeRequest("/mqtt", without("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: chat")...), status: 400},
		{name: "no subprotocol", req: upgradeRequest("/mqtt", without("Sec-WebSocket-Protocol")...), status: 400},
		{name: "missing key", req: upgradeRequest("/mqtt", without("Sec-WebSocket-Key")...), status: 400},
		{name: "short key", req: upgradeRequest("/mqtt", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAA")...), status: 400},
		{name: "two keys", req: upgradeRequest("/mqtt", append(goodLines, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")...), status: 400},
		{name: "wrong path", req: upgradeRequest("/other", goodLines...), status: 404},
		{name: "custom path", req: upgradeRequest("/mqtt", goodLines...), cfg: Config{Path: "/ws"}, status: 404},
		{name: "POST", req: []byte("POST /mqtt HTTP/1.1\r\n" + strings.Join(goodLines, "\r\n") + "\r\n\r\n"), status: 405},
		{name: "HTTP/1.0", req: []byte("GET /mqtt HTTP/1.0\r\n" + strings.Join(goodLines, "\r\n") + "\r\n\r\n"), status: 505},
		{name: "garbage request line", req: []byte("\x10\x20\x00\x04MQTT\r\n\r\n"), status: 400},
		{name: "no upgrade", req: upgradeRequest("/mqtt", without("Upgrade")...), status: 426},
		{name: "no connection upgrade", req: upgradeRequest("/mqtt", without("Connection", "Connection: keep-alive")...), status: 400},
		{name: "version 8", req: upgradeRequest("/mqtt", without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8")...), status: 426},
		{name: "no version", req: upgradeRequest("/mqtt", without("Sec-WebSocket-Version")...), status: 426},
		{name: "folded field", req: upgradeRequest("/mqtt", append(goodLines, "X-A: b", " c")...), status: 400},
		{name: "space before colon", req: upgradeRequest("/mqtt", append(goodLines, "X-A : b")...), status: 400},
		{name: "no colon", req: upgradeRequest("/mqtt", append(goodLines, "X-A")...), status: 400},
		{
			name:   "origin refused",
			req:    upgradeRequest("/mqtt", append(goodLines, "Origin: https://evil.example")...),
			cfg:    Config{CheckOrigin: func(o string) bool { return o == "https://ok.example" }},
			status: 403,
		},
		{
			name:   "too many fields",
			req:    upgradeRequest("/mqtt", append(goodLines, strings.Split(strings.Repeat("X-A: b\n", maxHeaderLines), "\n")[:maxHeaderLines]...)...),
			status: 431,
		},
		{
			name:   "too large",
			req:    upgradeRequest("/mqtt", append(goodLines, "X-A: "+strings.Repeat("b", DefaultMaxHeaderBytes))...),
			status: 431,
		},
		{
			name:   "over a small bound",
			req:    upgradeRequest("/mqtt", goodLines...),
			cfg:    Config{MaxHeaderBytes: 100},
			status: 431,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Handshake
			_, _, err := h.Parse(tt.req, &tt.cfg)
			var he *HandshakeError
			require.True(t, errors.As(err, &he), "err %v", err)
			require.Equal(t, tt.status, he.Status)

			// The refusal is an HTTP response a client can read.
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(AppendRefusal(nil, he))), nil)
			require.NoError(t, err)
			require.Equal(t, tt.status, resp.StatusCode)
			require.NoError(t, resp.Body.Close())
		})
	}
}

// A request past the bound is refused before its end arrives.
func TestHandshakeBoundWithoutEnd(t *testing.T) {
	var h Handshake
	cfg := Config{MaxHeaderBytes: 64}
	in := []byte("GET /mqtt HTTP/1.1\r\nX: " + strings.Repeat("a", 30))
	_, _, err := h.Parse(in, &cfg)
	require.ErrorIs(t, err, ErrIncomplete)
	in = append(in, strings.Repeat("a", 20)...)
	_, _, err = h.Parse(in, &cfg)
	var he *HandshakeError
	require.ErrorAs(t, err, &he)
	require.Equal(t, 431, he.Status)
}

func TestAppendResponse(t *testing.T) {
	u := Upgrade{Protocol: "mqtt", Accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", Deflate: true}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(AppendResponse(nil, &u))), nil)
	require.NoError(t, err)
	require.Equal(t, 101, resp.StatusCode)
	require.Equal(t, "websocket", resp.Header.Get("Upgrade"))
	require.Equal(t, "Upgrade", resp.Header.Get("Connection"))
	require.Equal(t, u.Accept, resp.Header.Get("Sec-WebSocket-Accept"))
	require.Equal(t, "mqtt", resp.Header.Get("Sec-WebSocket-Protocol"))
	require.Equal(t, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", resp.Header.Get("Sec-WebSocket-Extensions"))
}
