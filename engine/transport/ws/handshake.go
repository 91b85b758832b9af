package ws

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strconv"
)

// DefaultPath is the request path of the MQTT WebSocket endpoint.
const DefaultPath = "/mqtt"

// DefaultMaxHeaderBytes bounds an upgrade request (request line and
// header fields) by default.
const DefaultMaxHeaderBytes = 8 << 10

// maxHeaderLines bounds the header fields of an upgrade request.
const maxHeaderLines = 64

// keyGUID is the suffix of the Sec-WebSocket-Accept hash (RFC 6455 1.3).
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Subprotocols the broker accepts, in order of preference. [MQTT-6.0.0-3]
// The client offers "mqtt"; "mqttv3.1" is what MQTT 3.1 clients offer.
var Subprotocols = []string{"mqtt", "mqttv3.1"}

// ErrIncomplete means the upgrade request is not whole yet: keep the bytes
// and call again when more arrive.
var ErrIncomplete = errors.New("ws: incomplete upgrade request")

// Config is what a WebSocket listener accepts.
type Config struct {
	// Path is the request path, without the query; DefaultPath when empty.
	Path string
	// MaxHeaderBytes bounds the request; DefaultMaxHeaderBytes when 0.
	MaxHeaderBytes int
	// Deflate accepts permessage-deflate when the client offers it.
	Deflate bool
	// CheckOrigin, when set, is asked about the Origin header (empty when
	// the request has none); false refuses the request with 403.
	CheckOrigin func(origin string) bool
}

func (c *Config) path() string {
	if c.Path == "" {
		return DefaultPath
	}
	return c.Path
}

func (c *Config) maxHeaderBytes() int {
	if c.MaxHeaderBytes <= 0 {
		return DefaultMaxHeaderBytes
	}
	return c.MaxHeaderBytes
}

// Upgrade is an accepted upgrade request.
type Upgrade struct {
	// Path is the request target as sent (with the query, if any).
	Path string
	// Protocol is the subprotocol chosen: one of Subprotocols.
	Protocol string
	// Accept is the Sec-WebSocket-Accept value for the client's key.
	Accept string
	// Origin is the Origin header, empty when absent.
	Origin string
	// Deflate is true when permessage-deflate was negotiated.
	Deflate bool
}

// HandshakeError is a refused upgrade request: the HTTP status to answer
// with and why.
type HandshakeError struct {
	Status int
	Reason string
}

func (e *HandshakeError) Error() string {
	return "ws: upgrade refused: " + strconv.Itoa(e.Status) + " " + e.Reason
}

func refuse(status int, reason string) error {
	return &HandshakeError{Status: status, Reason: reason}
}

// Handshake parses one upgrade request as its bytes arrive. The zero value
// is ready; it remembers how far it has looked for the end of the header
// so that a request arriving a few bytes at a time is scanned once.
type Handshake struct {
	scanned int
}

// Parse looks for a whole request at the start of buf (all bytes received
// so far, the same prefix on every call). It returns ErrIncomplete while
// the end of the header has not arrived and the bound is not reached; a
// *HandshakeError when the request is refused; otherwise the number of
// bytes the request took (what follows is WebSocket frames) and the
// accepted upgrade.
func (h *Handshake) Parse(buf []byte, cfg *Config) (int, Upgrade, error) {
	max := cfg.maxHeaderBytes()
	from := h.scanned - 3
	if from < 0 {
		from = 0
	}
	end := -1
	if i := bytes.Index(buf[from:], crlfcrlf); i >= 0 {
		end = from + i + len(crlfcrlf)
	}
	if end < 0 || end > max {
		if len(buf) > max || end > max {
			return 0, Upgrade{}, refuse(431, "request header fields too large")
		}
		h.scanned = len(buf)
		return 0, Upgrade{}, ErrIncomplete
	}
	u, err := parseRequest(buf[:end-2], cfg)
	if err != nil {
		return 0, Upgrade{}, err
	}
	return end, u, nil
}

var crlfcrlf = []byte("\r\n\r\n")

// request is what parseRequest collects from the header fields.
type request struct {
	upgrade, connection, version bool
	key                          []byte
	keys                         int
	protocol                     string
	origin                       []byte
	deflate                      bool
}

// parseRequest checks a request whose header (without the final empty
// line) is head.
func parseRequest(head []byte, cfg *Config) (Upgrade, error) {
	line, rest, _ := bytes.Cut(head, crlf)
	method, line, ok1 := bytes.Cut(line, sp)
	target, version, ok2 := bytes.Cut(line, sp)
	if !ok1 || !ok2 || len(target) == 0 {
		return Upgrade{}, refuse(400, "malformed request line")
	}
	if string(method) != "GET" {
		return Upgrade{}, refuse(405, "method is not GET")
	}
	if string(version) != "HTTP/1.1" {
		return Upgrade{}, refuse(505, "HTTP version is not 1.1")
	}
	path, _, _ := bytes.Cut(target, []byte("?"))
	if string(path) != cfg.path() {
		return Upgrade{}, refuse(404, "path is not "+cfg.path())
	}
	var r request
	for n := 0; len(rest) > 0; n++ {
		if n == maxHeaderLines {
			return Upgrade{}, refuse(431, "too many header fields")
		}
		line, rest, _ = bytes.Cut(rest, crlf)
		name, value, ok := bytes.Cut(line, colon)
		if !ok || len(name) == 0 || name[len(name)-1] == ' ' || name[len(name)-1] == '\t' ||
			line[0] == ' ' || line[0] == '\t' {
			return Upgrade{}, refuse(400, "malformed header field")
		}
		if err := r.field(name, trimOWS(value), cfg); err != nil {
			return Upgrade{}, err
		}
	}
	switch {
	case !r.upgrade:
		return Upgrade{}, refuse(426, "Upgrade is not websocket")
	case !r.connection:
		return Upgrade{}, refuse(400, "Connection does not name upgrade")
	case !r.version:
		return Upgrade{}, refuse(426, "Sec-WebSocket-Version is not 13")
	case r.keys == 0:
		return Upgrade{}, refuse(400, "Sec-WebSocket-Key missing")
	case r.keys > 1 || !validKey(r.key):
		return Upgrade{}, refuse(400, "Sec-WebSocket-Key is not 16 bytes in base64")
	case r.protocol == "":
		return Upgrade{}, refuse(400, "Sec-WebSocket-Protocol does not offer mqtt")
	}
	origin := string(r.origin)
	if cfg.CheckOrigin != nil && !cfg.CheckOrigin(origin) {
		return Upgrade{}, refuse(403, "Origin not allowed")
	}
	return Upgrade{
		Path:     string(target),
		Protocol: r.protocol,
		Accept:   AcceptKey(r.key),
		Origin:   origin,
		Deflate:  r.deflate,
	}, nil
}

var (
	crlf  = []byte("\r\n")
	sp    = []byte(" ")
	colon = []byte(":")
	comma = []byte(",")
)

// field takes one header field; names compare case-insensitively (RFC
// 9110 5.1) and a field may repeat (its values join as a list).
func (r *request) field(name, value []byte, cfg *Config) error {
	switch {
	case equalFold(name, "Upgrade"):
		r.upgrade = r.upgrade || hasToken(value, "websocket")
	case equalFold(name, "Connection"):
		r.connection = r.connection || hasToken(value, "upgrade")
	case equalFold(name, "Sec-WebSocket-Version"):
		if string(value) != "13" {
			return refuse(426, "Sec-WebSocket-Version is not 13")
		}
		r.version = true
	case equalFold(name, "Sec-WebSocket-Key"):
		r.key = value
		r.keys++
	case equalFold(name, "Sec-WebSocket-Protocol"):
		if r.protocol == "" {
			r.protocol = chooseProtocol(value)
		}
	case equalFold(name, "Origin"):
		r.origin = value
	case equalFold(name, "Sec-WebSocket-Extensions"):
		if cfg.Deflate && !r.deflate {
			r.deflate = acceptDeflate(value)
		}
	}
	return nil
}

// chooseProtocol returns the first of Subprotocols the comma-separated
// list offers, or "".
func chooseProtocol(list []byte) string {
	for _, want := range Subprotocols {
		for p := range bytes.SplitSeq(list, comma) {
			if string(trimOWS(p)) == want {
				return want
			}
		}
	}
	return ""
}

// acceptDeflate reports whether one of the offers in an
// Sec-WebSocket-Extensions value is a permessage-deflate the broker can
// accept with both no_context_takeover parameters (RFC 7692 7.1). An
// offer asking the server for a window under 15 bits is declined: the
// encoder uses the full window.
func acceptDeflate(value []byte) bool {
	for offer := range bytes.SplitSeq(value, comma) {
		name, params, _ := bytes.Cut(offer, []byte(";"))
		if !equalFold(trimOWS(name), "permessage-deflate") {
			continue
		}
		ok := true
		seen := 0
		for p := range bytes.SplitSeq(params, []byte(";")) {
			p = trimOWS(p)
			if len(p) == 0 {
				continue
			}
			k, v, hasV := bytes.Cut(p, []byte("="))
			k, v = trimOWS(k), bytes.Trim(trimOWS(v), `"`)
			bit := 0
			switch {
			case equalFold(k, "server_no_context_takeover") && !hasV:
				bit = 1
			case equalFold(k, "client_no_context_takeover") && !hasV:
				bit = 2
			case equalFold(k, "client_max_window_bits"):
				bit = 4
				ok = ok && (!hasV || windowBits(v) > 0)
			case equalFold(k, "server_max_window_bits"):
				bit = 8
				ok = ok && windowBits(v) == 15
			default:
				ok = false
			}
			if seen&bit != 0 {
				ok = false // a parameter given twice (RFC 7692 7)
			}
			seen |= bit
		}
		if ok {
			return true
		}
	}
	return false
}

// windowBits parses a window size parameter, 8 to 15; 0 if invalid.
func windowBits(v []byte) int {
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 8 || n > 15 || len(v) > 2 {
		return 0
	}
	return n
}

// validKey reports whether k is the base64 form of 16 bytes (RFC 6455
// 4.2.1).
func validKey(k []byte) bool {
	if len(k) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], k)
	return err == nil && n == 16
}

// AcceptKey is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func AcceptKey(key []byte) string {
	h := sha1.New()
	h.Write(key)
	h.Write([]byte(keyGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// AppendResponse appends the 101 response accepting u.
func AppendResponse(dst []byte, u *Upgrade) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, u.Accept...)
	dst = append(dst, "\r\nSec-WebSocket-Protocol: "...)
	dst = append(dst, u.Protocol...)
	if u.Deflate {
		dst = append(dst, "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover"...)
	}
	return append(dst, "\r\n\r\n"...)
}

// AppendRefusal appends the HTTP response refusing a request with e; the
// connection is closed after it.
func AppendRefusal(dst []byte, e *HandshakeError) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText(e.Status)...)
	dst = append(dst, "\r\nConnection: close\r\nContent-Type: text/plain\r\n"...)
	if e.Status == 426 {
		dst = append(dst, "Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.Reason)+1), 10)
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, e.Reason...)
	return append(dst, '\n')
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 426:
		return "Upgrade Required"
	case 431:
		return "Request Header Fields Too Large"
	case 505:
		return "HTTP Version Not Supported"
	}
	return "Error"
}

// trimOWS trims optional white space (spaces and tabs) on both sides.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasToken reports whether the comma-separated list holds token, case
// insensitively.
func hasToken(list []byte, token string) bool {
	for t := range bytes.SplitSeq(list, comma) {
		if equalFold(trimOWS(t), token) {
			return true
		}
	}
	return false
}

// equalFold compares b with the ASCII string s, case-insensitively.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}
