package engine

import (
	"errors"
	"fmt"
	"net"
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
		if l.Path != "" && (l.Transport == TransportTCP || l.Transport == TransportTLS) {
			return fmt.Errorf("%w: %s: path applies to ws and wss listeners only", ErrConfig, at)
		}
		if l.MaxConnections < 0 {
			return fmt.Errorf("%w: %s: max_connections %d, want 0 (only the broker's max_connections) or a count", ErrConfig, at, l.MaxConnections)
		}
		if l.Path != "" && !strings.HasPrefix(l.Path, "/") {
			return fmt.Errorf("%w: %s: path %q, want an absolute path such as /mqtt", ErrConfig, at, l.Path)
		}
	}
	return nil
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
		if lc.Transport == TransportWS || lc.Transport == TransportWSS {
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
		acc.lnMax, acc.lnOpen, acc.addr = int64(ln.cfg.MaxConnections), &ln.open, ln.addr
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
