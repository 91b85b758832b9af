package engine

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/engine/transport"
)

// The transports of Listener.Transport.
const (
	TransportTCP = "tcp" // MQTT over TCP
	TransportTLS = "tls" // MQTT over TLS over TCP
	TransportWS  = "ws"  // MQTT over WebSocket (Config.WebSocket)
	TransportWSS = "wss" // MQTT over WebSocket over TLS
)

// Listener is one listening socket and its transport; Config.Listeners
// lists them (TOML: [[listener]] blocks).
type Listener struct {
	// Transport is tcp, tls, ws or wss.
	Transport string `toml:"transport"`
	// Addr is the address to listen on, "host:port"; port 0 picks a free
	// one (Broker.ListenerAddrs reports it).
	Addr string `toml:"addr"`

	// CertFile and KeyFile are the server's PEM certificate (chain) and
	// key (tls, wss). Reloaded by Broker.ReloadTLS (SIGHUP).
	CertFile string `toml:"tls_cert"`
	KeyFile  string `toml:"tls_key"`
	// CAFile holds the PEM CA certificates client certificates are
	// verified against (mutual TLS); "" asks clients for none.
	CAFile string `toml:"tls_ca"`
	// RequireCertificate refuses TLS clients without a certificate signed
	// by CAFile (like Mosquitto's require_certificate).
	RequireCertificate bool `toml:"require_certificate"`
	// UseIdentityAsUsername takes the client certificate's Common Name (or
	// its first DNS, e-mail or URI name) as the MQTT user name; the
	// certificate stands for the password (like Mosquitto's
	// use_identity_as_username).
	UseIdentityAsUsername bool `toml:"use_identity_as_username"`
	// TLSMinVersion is "1.2" (default) or "1.3".
	TLSMinVersion string `toml:"tls_min_version"`
	// TLSCipherSuites restricts the TLS 1.2 cipher suites (Go's names);
	// empty means Go's default list.
	TLSCipherSuites []string `toml:"tls_cipher_suites"`

	// Path is the HTTP path of a ws or wss listener; "" means "/mqtt".
	Path string `toml:"path"`
	// WSMaxFrameSize bounds a WebSocket data frame's payload (ws, wss);
	// 0 means 4 max_packet_size, at least 16 MiB (a client may join many
	// packets in one frame). Past it the connection is closed (1009).
	WSMaxFrameSize ByteSize `toml:"ws_max_frame_size"`
	// WSMaxMessageSize bounds a compressed (permessage-deflate) message on
	// the wire, WSMaxInflatedSize the same message inflated (the bound of
	// a compression bomb); 0 means max_packet_size + 4 KiB, at least 64
	// KiB. Past either the connection is closed (1009). Uncompressed
	// messages are streamed: only their frames are bounded.
	WSMaxMessageSize  ByteSize `toml:"ws_max_message_size"`
	WSMaxInflatedSize ByteSize `toml:"ws_max_inflated_size"`
	// WSMaxHeaderSize bounds the HTTP upgrade request; 0 means 8 KiB.
	// Past it the request is refused (431).
	WSMaxHeaderSize ByteSize `toml:"ws_max_header_size"`
	// WSDeflate accepts permessage-deflate when the client offers it; nil
	// means true.
	WSDeflate *bool `toml:"ws_deflate"`
	// WSCompressThreshold: messages to a client shorter than this are sent
	// uncompressed; 0 means 256 bytes.
	WSCompressThreshold ByteSize `toml:"ws_compress_threshold"`
	// WSOrigins, when not empty, are the Origin header values a WebSocket
	// upgrade is accepted with (scheme://host[:port], or "null"); an
	// upgrade with another Origin is refused (403), one with none (not
	// from a browser) accepted. Empty: no check.
	WSOrigins []string `toml:"ws_origins"`

	// MaxConnections caps the connections open through this listener
	// (0: no cap of its own), under the broker's max_connections: past
	// it a connection is closed at accept, counted (Stats.Listeners,
	// /metrics gust_listener_connections_refused_total) and logged, as
	// at the broker's bound.
	MaxConnections int `toml:"max_connections"`
}

func (l *Listener) isTLS() bool {
	return l.Transport == TransportTLS || l.Transport == TransportWSS
}

func (l *Listener) tlsOptions() transport.TLSOptions {
	return transport.TLSOptions{
		CertFile: l.CertFile, KeyFile: l.KeyFile, CAFile: l.CAFile,
		RequireCertificate: l.RequireCertificate, UseIdentityAsUsername: l.UseIdentityAsUsername,
		MinVersion: l.TLSMinVersion, CipherSuites: l.TLSCipherSuites,
	}
}

// listeners returns the configured listeners, or the one on Listen.
func (c *Config) listeners() []Listener {
	if len(c.Listeners) > 0 {
		return c.Listeners
	}
	return []Listener{{Transport: TransportTCP, Addr: c.Listen}}
}

// validateListeners checks each listener's settings (not its files: New
// loads those).
func (c *Config) validateListeners() error {
	for i, l := range c.Listeners {
		at := fmt.Sprintf("listener %d (%s %s)", i+1, l.Transport, l.Addr)
		switch l.Transport {
		case TransportTCP, TransportTLS, TransportWS, TransportWSS:
		default:
			return fmt.Errorf("%w: %s: transport %q, want tcp, tls, ws or wss", ErrConfig, at, l.Transport)
		}
		if _, _, err := net.SplitHostPort(l.Addr); err != nil {
			return fmt.Errorf("%w: %s: addr %q: want host:port (such as :8883)", ErrConfig, at, l.Addr)
		}
		if !l.isTLS() && (l.CertFile != "" || l.KeyFile != "" || l.CAFile != "" || l.RequireCertificate || l.UseIdentityAsUsername) {
			return fmt.Errorf("%w: %s: tls_cert, tls_key, tls_ca, require_certificate and use_identity_as_username apply to tls and wss listeners only", ErrConfig, at)
		}
		if l.MaxConnections < 0 {
			return fmt.Errorf("%w: %s: max_connections %d, want 0 (only the broker's max_connections) or a count", ErrConfig, at, l.MaxConnections)
		}
		if err := l.validateWS(); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrConfig, at, err)
		}
	}
	return nil
}

// isWS reports whether l carries WebSocket.
func (l *Listener) isWS() bool {
	return l.Transport == TransportWS || l.Transport == TransportWSS
}

// validateWS checks l's WebSocket settings.
func (l *Listener) validateWS() error {
	if !l.isWS() {
		if l.Path != "" || l.WSMaxFrameSize != 0 || l.WSMaxMessageSize != 0 || l.WSMaxInflatedSize != 0 ||
			l.WSMaxHeaderSize != 0 || l.WSDeflate != nil || l.WSCompressThreshold != 0 || len(l.WSOrigins) > 0 {
			return errors.New("path and the ws_* settings apply to ws and wss listeners only")
		}
		return nil
	}
	if l.Path != "" && !strings.HasPrefix(l.Path, "/") {
		return fmt.Errorf("path %q, want an absolute path such as /mqtt", l.Path)
	}
	for _, sz := range []struct {
		name string
		v    ByteSize
		min  ByteSize
	}{
		{name: "ws_max_frame_size", v: l.WSMaxFrameSize, min: 16},
		{name: "ws_max_message_size", v: l.WSMaxMessageSize, min: 16},
		{name: "ws_max_inflated_size", v: l.WSMaxInflatedSize, min: 16},
		{name: "ws_max_header_size", v: l.WSMaxHeaderSize, min: 256},
		{name: "ws_compress_threshold", v: l.WSCompressThreshold, min: 1},
	} {
		if sz.v != 0 && (sz.v < sz.min || sz.v > 1<<30) {
			return fmt.Errorf("%s %d, want 0 (the default) or a size from %d bytes to 1GiB, such as 64KiB", sz.name, int64(sz.v), int64(sz.min))
		}
	}
	for _, o := range l.WSOrigins {
		if !validOrigin(o) {
			return fmt.Errorf("ws_origins %q, want origins such as https://example.com or http://localhost:8080 (scheme://host[:port], no path), or null", o)
		}
	}
	return nil
}

// validOrigin reports whether o is written as an Origin header is
// (RFC 6454): "null", or scheme://host with an optional port.
func validOrigin(o string) bool {
	if o == "null" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Scheme != "" && u.Host != "" && u.Path == "" && u.RawQuery == "" &&
		u.Fragment == "" && u.User == nil && u.Hostname() != ""
}

// listener is one of the broker's listeners once started.
type listener struct {
	cfg  Listener
	addr net.Addr
	// open counts the connections open through this listener, from
	// admission to close, as Broker.open counts all of them.
	open atomic.Int64
	acc  atomic.Pointer[acceptor] // set by Start
	tls  *transport.TLSServer     // tls, wss
	// ws builds the WebSocket Layer over a connection's raw or TLS one.
	ws func(under network.Conn) network.Layer
}

// prepareListeners loads what each listener needs (certificates, the
// WebSocket transport): a bad file stops New with the setting named.
func (b *Broker) prepareListeners() error {
	for _, lc := range b.cfg.listeners() {
		ln := &listener{cfg: lc}
		if lc.isTLS() {
			srv, err := transport.NewTLSServer(lc.tlsOptions())
			if err != nil {
				return fmt.Errorf("%w: listener %s %s: %v", ErrConfig, lc.Transport, lc.Addr, err)
			}
			ln.tls = srv
		}
		if lc.isWS() {
			newWS := b.cfg.WebSocket
			if newWS == nil {
				newWS = b.webSocket
			}
			ws, err := newWS(lc)
			if err != nil {
				return fmt.Errorf("%w: listener %s %s: %v", ErrConfig, lc.Transport, lc.Addr, err)
			}
			ln.ws = ws
		}
		b.lns = append(b.lns, ln)
	}
	b.handshakes = transport.NewHandshakes(b.cfg.TLSHandshakes)
	b.tlsLogs = newTLSLogs(b)
	return nil
}

// listen binds every listener; on an error none stays bound.
func (b *Broker) listen() ([]*os.File, error) {
	files := make([]*os.File, 0, len(b.lns))
	for _, ln := range b.lns {
		f, addr, err := listenTCP(ln.cfg.Addr)
		if err != nil {
			for _, f := range files {
				_ = f.Close()
			}
			return nil, fmt.Errorf("engine: listen %s (%s): %w", ln.cfg.Addr, ln.cfg.Transport, err)
		}
		ln.addr = addr
		files = append(files, f)
	}
	return files, nil
}

// startAcceptors starts one acceptor per bound listener (files from
// listen).
func (b *Broker) startAcceptors(files []*os.File, loops []*loop, maxConns int64) error {
	next := new(atomic.Uint64) // round robin, shared by acceptors and handshakes
	for i, ln := range b.lns {
		acc, err := newAcceptor(files[i], maxConns, &b.open, b.handOff(ln, loops, next), b.listenerFailed, newAcceptLogs(b.log))
		if err != nil { // not reached: a socket file has a raw connection
			for _, f := range files[i:] {
				_ = f.Close()
			}
			return err
		}
		acc.lnMax, acc.lnOpen, acc.addr, acc.peer = int64(ln.cfg.MaxConnections), &ln.open, ln.addr, ln.tls != nil
		ln.acc.Store(acc)
		go acc.run()
	}
	b.acc.Store(b.lns[0].acc.Load())
	return nil
}

// handOff is a listener's hand-off: straight to a loop for tcp and ws, to
// a TLS handshake first for tls and wss. Loops are picked round robin
// (next), from the acceptor or from a handshake goroutine.
func (b *Broker) handOff(ln *listener, loops []*loop, next *atomic.Uint64) handOffFunc {
	pick := func() *loop { return loops[(next.Add(1)-1)%uint64(len(loops))] }
	var wrap network.Wrap
	if ln.ws != nil {
		wrap = network.Wrap(func(raw network.Conn) network.Layer { return ln.ws(raw) })
	}
	if ln.tls == nil {
		return func(fd int, sa unix.Sockaddr, lost func(error)) error {
			return pick().nl.Adopt(fd, sa, ln.addr, wrap, lost)
		}
	}
	return func(fd int, sa unix.Sockaddr, lost func(error)) error {
		now := time.Now()
		a := transport.Accepted{FD: fd, Local: ln.addr, Remote: transport.SockaddrAddr(sa), At: now,
			Deadline: now.Add(b.cfg.ConnectTimeout)}
		adopt := func(tlsWrap network.Wrap) error {
			w := tlsWrap
			if ln.ws != nil { // wss: WebSocket over the TLS Layer
				w = func(raw network.Conn) network.Layer { return ln.ws(tlsWrap(raw)) }
			}
			return pick().nl.Adopt(fd, sa, ln.addr, w, lost)
		}
		failed := func(err error) {
			b.open.Add(-1)
			ln.open.Add(-1)
			b.tlsLogs.failed(ln, a.Remote, err)
		}
		err := b.handshakes.Start(ln.tls, a, adopt, failed)
		if errors.Is(err, transport.ErrHandshakesFull) {
			_ = unix.Close(fd)
			b.open.Add(-1)
			ln.open.Add(-1)
			b.tlsLogs.full.note(1, "tls_handshakes", b.cfg.TLSHandshakes, "refused_total", b.handshakes.Refused.Load())
			return nil
		}
		return err
	}
}

// ReloadTLS reads the certificate, key and CA files of every TLS and wss
// listener again; connections already open keep theirs. A listener whose
// files do not load keeps its previous ones; the first error is returned
// and each is logged. Safe from any goroutine.
func (b *Broker) ReloadTLS() error {
	var first error
	for _, ln := range b.lns {
		if ln.tls == nil {
			continue
		}
		if err := ln.tls.Reload(); err != nil {
			b.log.Error("TLS certificates not reloaded; the previous ones stay in use",
				"listener", ln.cfg.Addr, "err", err)
			if first == nil {
				first = err
			}
			continue
		}
		b.log.Info("TLS certificates reloaded", "listener", ln.cfg.Addr, "cert", ln.cfg.CertFile)
	}
	return first
}

// listenerOf returns the listener nc was accepted from, nil for a
// connection of no listener (the tests' in-memory ones). Loop-only.
func (b *Broker) listenerOf(nc network.Conn) *listener {
	local := network.LocalAddr(nc)
	if local == nil {
		return nil
	}
	for _, ln := range b.lns {
		if ln.addr == local { // the very net.Addr the listener handed to Adopt
			return ln
		}
	}
	return nil
}

// connClosed accounts for the close of a connection admitted through ln
// (nil: none). Safe from any goroutine.
func (b *Broker) connClosed(ln *listener) {
	b.open.Add(-1)
	if ln != nil {
		ln.open.Add(-1)
	}
}

// ListenerStats is one listener's connection counts.
type ListenerStats struct {
	Transport, Addr string // as configured; Addr is the bound address once started
	Open            int64  // connections open through it, connected or not
	MaxConnections  int    // its own cap, 0 for none
	Refused         uint64 // connections closed at accept (its cap, the broker's, out of descriptors)
}

// ListenerStats returns the connection counts of each listener, in
// Config.Listeners order, nil before Start. Safe from any goroutine.
func (b *Broker) ListenerStats() []ListenerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		return nil
	}
	st := make([]ListenerStats, len(b.lns))
	for i, ln := range b.lns {
		st[i] = ListenerStats{Transport: ln.cfg.Transport, Addr: ln.addr.String(), Open: ln.open.Load(),
			MaxConnections: ln.cfg.MaxConnections}
		if a := ln.acc.Load(); a != nil {
			st[i].Refused = a.refused.Load()
		}
	}
	return st
}

// ListenerAddrs returns the bound address of each listener, in
// Config.Listeners order, nil before Start.
func (b *Broker) ListenerAddrs() []net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		return nil
	}
	addrs := make([]net.Addr, len(b.lns))
	for i, ln := range b.lns {
		addrs[i] = ln.addr
	}
	return addrs
}

// tlsLogs are the rate-limited log lines of TLS handshakes.
type tlsLogs struct {
	b                   *Broker
	full, timeout, fail *rateLog
}

func newTLSLogs(b *Broker) *tlsLogs {
	return &tlsLogs{
		b:       b,
		full:    newRateLog(b.log, "connection refused: TLS handshakes at their bound (tls_handshakes)"),
		timeout: newRateLog(b.log, "TLS handshake timed out (connect_timeout); connection closed"),
		fail:    newRateLog(b.log, "TLS handshake failed; connection closed"),
	}
}

// failed logs a failed handshake of ln's from remote. Any goroutine.
func (t *tlsLogs) failed(ln *listener, remote net.Addr, err error) {
	if transport.IsTimeout(err) {
		t.timeout.note(1, "listener", ln.cfg.Addr, "remote", remote, "connect_timeout", t.b.cfg.ConnectTimeout,
			"failed_total", t.b.handshakes.Failed.Load())
		return
	}
	t.fail.note(1, "listener", ln.cfg.Addr, "remote", remote, "err", err,
		"failed_total", t.b.handshakes.Failed.Load())
}

func (t *tlsLogs) flush() {
	t.full.flush()
	t.timeout.flush()
	t.fail.flush()
}
