package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/gust-mqtt/gust/engine"
)

// listenerTable is the TOML key of the listener blocks ([[listener]]), the
// one setting of `gust serve` that is a list of tables and no flag.
const listenerTable = "listener"

// exampleListeners ends the example configuration file.
const exampleListeners = `
# Several listeners, each with its own transport and settings, as [[listener]] blocks
# (like Mosquitto's 'listener' lines). With any block, 'listen' is not used; the listen_tls,
# listen_ws and listen_wss settings (and their tls_* settings) add listeners after the blocks.
# transport: tcp, tls, ws or wss. tls and wss take tls_cert, tls_key (reloaded on SIGHUP),
# tls_ca (client certificates), require_certificate, use_identity_as_username,
# tls_min_version ("1.2" or "1.3") and tls_cipher_suites; ws and wss take path ("/mqtt"),
# ws_max_frame_size, ws_max_message_size, ws_max_inflated_size, ws_max_header_size,
# ws_deflate, ws_compress_threshold and ws_origins (a list), as the ws_* settings above.
# Any listener takes max_connections: a cap of its own under the broker's max_connections
# (0: none); past it a connection is closed at accept, counted and logged.
#
#   [[listener]]
#   transport = "tcp"
#   addr = ":1883"
#
#   [[listener]]
#   transport = "tls"
#   addr = ":8883"
#   tls_cert = "/etc/gust/server.pem"
#   tls_key = "/etc/gust/server-key.pem"
#   tls_ca = "/etc/gust/ca.pem"
#   require_certificate = true
#   use_identity_as_username = true
#   max_connections = 10000
#
#   [[listener]]
#   transport = "ws"
#   addr = ":8080"
#   path = "/mqtt"
#   ws_origins = ["https://app.example.com"]
`

// listenFlags are the flag form of the common listeners: plain TCP on
// --listen (Config.Listen), and TLS, WebSocket and secure WebSocket ones
// sharing one certificate.
type listenFlags struct {
	tls, wsAddr    string
	wss            string
	cert, key, ca  string
	requireCert    bool
	identityAsUser bool
	tlsMinVersion  string
	ws             wsFlags
	fileListeners  []engine.Listener // the file's [[listener]] blocks
}

// wsFlags are the WebSocket settings of the listen-ws and listen-wss
// listeners.
type wsFlags struct {
	path                              string
	maxFrame, maxMessage, maxInflated engine.ByteSize
	maxHeader, compressThreshold      engine.ByteSize
	deflate                           bool
	origins                           string // comma-separated
}

// set reports whether any WebSocket flag differs from its default.
func (w *wsFlags) set() bool {
	return w.path != "" || w.maxFrame != 0 || w.maxMessage != 0 || w.maxInflated != 0 || w.maxHeader != 0 ||
		w.compressThreshold != 0 || !w.deflate || w.origins != ""
}

// apply sets l's WebSocket settings from the flags.
func (w *wsFlags) apply(l *engine.Listener) {
	deflate := w.deflate
	l.Path, l.WSDeflate = w.path, &deflate
	l.WSMaxFrameSize, l.WSMaxMessageSize, l.WSMaxInflatedSize = w.maxFrame, w.maxMessage, w.maxInflated
	l.WSMaxHeaderSize, l.WSCompressThreshold = w.maxHeader, w.compressThreshold
	for _, o := range strings.Split(w.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			l.WSOrigins = append(l.WSOrigins, o)
		}
	}
}

// bind adds the flags to fs.
func (lf *listenFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&lf.tls, "listen-tls", "", "also listen for MQTT over TLS on `host:port` (such as :8883), with tls-cert and tls-key")
	fs.StringVar(&lf.wsAddr, "listen-ws", "", "also listen for MQTT over WebSocket on `host:port` (such as :8080), path /mqtt")
	fs.StringVar(&lf.wss, "listen-wss", "", "also listen for MQTT over secure WebSocket on `host:port` (such as :8081), with tls-cert and tls-key")
	fs.StringVar(&lf.cert, "tls-cert", "", "PEM certificate `file` (chain) of the listen-tls and listen-wss listeners; reloaded on SIGHUP ('gust certs' makes a test one)")
	fs.StringVar(&lf.key, "tls-key", "", "PEM private key `file` of tls-cert")
	fs.StringVar(&lf.ca, "tls-ca", "", "PEM CA certificates `file` that client certificates are verified against (mutual TLS); clients are then asked for one")
	fs.BoolVar(&lf.requireCert, "tls-require-cert", false, "refuse TLS clients without a certificate signed by tls-ca")
	fs.BoolVar(&lf.identityAsUser, "tls-identity-as-username", false, "take the client certificate's Common Name (or first DNS/e-mail/URI name) as the MQTT user name, without a password")
	fs.StringVar(&lf.tlsMinVersion, "tls-min-version", "1.2", "lowest TLS version accepted: 1.2 or 1.3")
	w := &lf.ws
	w.deflate = true
	fs.StringVar(&w.path, "ws-path", "", "HTTP path of the listen-ws and listen-wss listeners (\"\" = /mqtt)")
	fs.Var(&w.maxFrame, "ws-max-frame-size", "largest WebSocket frame a client may send, a size such as 16MiB (0 = 4 max-packet-size, at least 16MiB); past it the connection is closed (1009)")
	fs.Var(&w.maxMessage, "ws-max-message-size", "largest compressed (permessage-deflate) WebSocket message on the wire, a size such as 1MiB (0 = max-packet-size + 4KiB, at least 64KiB); past it the connection is closed (1009)")
	fs.Var(&w.maxInflated, "ws-max-inflated-size", "largest compressed WebSocket message once inflated, the bound of a compression bomb (0 = max-packet-size + 4KiB, at least 64KiB); past it the connection is closed (1009)")
	fs.Var(&w.maxHeader, "ws-max-header-size", "largest WebSocket upgrade request (0 = 8KiB); past it 431")
	fs.BoolVar(&w.deflate, "ws-deflate", true, "accept permessage-deflate when a WebSocket client offers it")
	fs.Var(&w.compressThreshold, "ws-compress-threshold", "messages to a WebSocket client shorter than this are sent uncompressed (0 = 256B)")
	fs.StringVar(&w.origins, "ws-origins", "", "comma-separated Origin values a WebSocket upgrade from a browser is accepted with, such as https://app.example.com (\"\" = no check); other origins get 403, requests without an Origin are accepted")
}

// readListenerBlocks decodes the [[listener]] blocks of the TOML file at
// path, refusing unknown keys.
func readListenerBlocks(path string) ([]engine.Listener, error) {
	var file struct {
		Listener []engine.Listener `toml:"listener"`
	}
	md, err := toml.DecodeFile(path, &file)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && k[0] == listenerTable {
			return nil, fmt.Errorf("config file %s: [[listener]] %s: unknown setting (transport, addr, tls_cert, tls_key, tls_ca, require_certificate, use_identity_as_username, tls_min_version, tls_cipher_suites, max_connections, path, ws_max_frame_size, ws_max_message_size, ws_max_inflated_size, ws_max_header_size, ws_deflate, ws_compress_threshold, ws_origins)", path, k[len(k)-1])
		}
	}
	return file.Listener, nil
}

// apply sets cfg.Listeners from the file's blocks and the flags, or
// leaves it empty for the one plain TCP listener on cfg.Listen.
func (lf *listenFlags) apply(cfg *engine.Config) error {
	if len(lf.fileListeners) == 0 && lf.tls == "" && lf.wsAddr == "" && lf.wss == "" {
		if cfg.Listen == "" {
			return errors.New("no listener: listen is empty and no listen-tls, listen-ws, listen-wss or [[listener]] is given")
		}
		if lf.cert != "" || lf.key != "" || lf.ca != "" || lf.requireCert || lf.identityAsUser {
			return errors.New("tls-cert, tls-key, tls-ca, tls-require-cert and tls-identity-as-username need listen-tls or listen-wss")
		}
		if lf.ws.set() {
			return errors.New("the ws-* settings need listen-ws or listen-wss; a [[listener]] block takes its own")
		}
		return nil
	}
	ls := append([]engine.Listener(nil), lf.fileListeners...)
	if len(ls) == 0 && cfg.Listen != "" {
		ls = append(ls, engine.Listener{Transport: engine.TransportTCP, Addr: cfg.Listen})
	}
	secure := func(transport, addr string) engine.Listener {
		return engine.Listener{Transport: transport, Addr: addr, CertFile: lf.cert, KeyFile: lf.key, CAFile: lf.ca,
			RequireCertificate: lf.requireCert, UseIdentityAsUsername: lf.identityAsUser, TLSMinVersion: lf.tlsMinVersion}
	}
	if lf.tls != "" {
		ls = append(ls, secure(engine.TransportTLS, lf.tls))
	}
	if lf.wsAddr != "" {
		l := engine.Listener{Transport: engine.TransportWS, Addr: lf.wsAddr}
		lf.ws.apply(&l)
		ls = append(ls, l)
	}
	if lf.wss != "" {
		l := secure(engine.TransportWSS, lf.wss)
		lf.ws.apply(&l)
		ls = append(ls, l)
	}
	if lf.wsAddr == "" && lf.wss == "" && lf.ws.set() {
		return errors.New("the ws-* settings apply to listen-ws and listen-wss; a [[listener]] block takes its own")
	}
	if lf.tls == "" && lf.wss == "" && (lf.cert != "" || lf.key != "" || lf.ca != "") {
		return errors.New("tls-cert, tls-key and tls-ca apply to listen-tls and listen-wss; a [[listener]] block takes its own")
	}
	cfg.Listeners = ls
	return nil
}
