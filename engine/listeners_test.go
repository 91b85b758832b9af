package engine

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/transport/certgen"
)

// TestListenersSeveral serves plain TCP and TLS from one broker: a client
// on each sees the other's messages.
func TestListenersSeveral(t *testing.T) {
	set, err := certgen.WriteSet(t.TempDir(), []string{"127.0.0.1"}, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, func(c *Config) {
		c.Listeners = []Listener{
			{Transport: TransportTCP, Addr: "127.0.0.1:0"},
			{Transport: TransportTLS, Addr: "127.0.0.1:0", CertFile: set.Server, KeyFile: set.ServerKey},
		}
	})
	addrs := b.ListenerAddrs()
	if len(addrs) != 2 || addrs[0].String() != b.Addr().String() {
		t.Fatalf("listener addresses %v, Addr %v", addrs, b.Addr())
	}
	plain := dialRaw(t, b)
	plain.write(connectBytes("plain", 30))
	plain.mustRead(codec.TypeConnack)
	plain.subscribe(1, "x", 0)

	nc, err := tls.Dial("tcp", addrs[1].String(), clientTLS(t, set, false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	sec := &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	sec.write(connectBytes("secure", 30))
	sec.mustRead(codec.TypeConnack)
	sec.publish(&codec.Publish{Topic: []byte("x"), Payload: []byte("from-tls")})
	if p := decodePublish(t, plain.mustRead(codec.TypePublish)); string(p.Payload) != "from-tls" {
		t.Fatalf("plain subscriber got %q", p.Payload)
	}
}

// TestListenersConfigErrors: a bad listener stops New naming the setting.
func TestListenersConfigErrors(t *testing.T) {
	set, err := certgen.WriteSet(t.TempDir(), []string{"127.0.0.1"}, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		l    Listener
		want string
	}{
		{name: "transport", l: Listener{Transport: "quic", Addr: ":1"}, want: `transport "quic"`},
		{name: "addr", l: Listener{Transport: "tcp", Addr: "1883"}, want: "want host:port"},
		{name: "no cert", l: Listener{Transport: "tls", Addr: ":1"}, want: "tls_cert and tls_key are both needed"},
		{name: "missing cert", l: Listener{Transport: "tls", Addr: ":1", CertFile: "/nonexistent.pem", KeyFile: set.ServerKey}, want: "tls_cert /nonexistent.pem"},
		{name: "key mismatch", l: Listener{Transport: "tls", Addr: ":1", CertFile: set.Server, KeyFile: set.ClientKey}, want: "tls_key"},
		{name: "version", l: Listener{Transport: "tls", Addr: ":1", CertFile: set.Server, KeyFile: set.ServerKey, TLSMinVersion: "1.1"}, want: "tls_min_version"},
		{name: "suite", l: Listener{Transport: "tls", Addr: ":1", CertFile: set.Server, KeyFile: set.ServerKey, TLSCipherSuites: []string{"TLS_RSA_WITH_RC4_128_SHA"}}, want: "tls_cipher_suites"},
		{name: "require without ca", l: Listener{Transport: "tls", Addr: ":1", CertFile: set.Server, KeyFile: set.ServerKey, RequireCertificate: true}, want: "need tls_ca"},
		{name: "cert on tcp", l: Listener{Transport: "tcp", Addr: ":1", CertFile: set.Server}, want: "tls and wss listeners only"},
		{name: "ws path", l: Listener{Transport: "ws", Addr: ":1", Path: "mqtt"}, want: "want an absolute path"},
		{name: "max connections", l: Listener{Transport: "tcp", Addr: ":1", MaxConnections: -1}, want: "max_connections -1, want 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Listeners = []Listener{tc.l}
			_, err := New(cfg)
			if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want ErrConfig saying %q", err, tc.want)
			}
		})
	}
}

// TestTLSBadInput: garbage, plaintext MQTT and a stalled handshake on the
// TLS port each close only that connection (counted), within
// connect_timeout for the stalled one; a TLS client connected throughout
// keeps working.
func TestTLSBadInput(t *testing.T) {
	b, set := tlsBroker(t, func(c *Config, _ *Listener) { c.ConnectTimeout = 500 * time.Millisecond })
	good, err := dialTLS(t, b, clientTLS(t, set, false))
	if err != nil {
		t.Fatal(err)
	}
	good.write(connectBytes("good", 0))
	good.mustRead(codec.TypeConnack)
	good.subscribe(1, "still", 0)

	for _, tc := range []struct {
		name string
		send []byte
	}{
		{name: "garbage", send: []byte("\x16\x03\x01\x00\x05hello, this is not a ClientHello at all")},
		{name: "plaintext mqtt", send: connectBytes("plain", 30)},
		{name: "stalled", send: nil},
		{name: "half a hello", send: []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", b.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if tc.send != nil {
				if _, err := nc.Write(tc.send); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 512)
			for {
				_, err := nc.Read(buf)
				if err == nil {
					continue // an alert
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("connection not closed within 5 s")
				}
				break
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("closed after %v, connect_timeout is 500ms", d)
			}
		})
	}
	waitFor(t, "4 failed handshakes counted", func() bool { return b.Stats().TLSHandshakeFailures >= 4 })
	pub, err := dialTLS(t, b, clientTLS(t, set, false))
	if err != nil {
		t.Fatal(err)
	}
	pub.write(connectBytes("pub", 0))
	pub.mustRead(codec.TypeConnack)
	pub.publish(&codec.Publish{Topic: []byte("still"), Payload: []byte("alive")})
	if p := decodePublish(t, good.mustRead(codec.TypePublish)); string(p.Payload) != "alive" {
		t.Fatalf("got %q", p.Payload)
	}
}

// TestTLSHandshakeBound: with tls_handshakes 2, two stalled handshakes
// make the next socket close at once (counted); once they time out a
// client connects again.
func TestTLSHandshakeBound(t *testing.T) {
	b, set := tlsBroker(t, func(c *Config, _ *Listener) {
		c.TLSHandshakes = 2
		c.ConnectTimeout = time.Second
	})
	for range 2 {
		nc, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
	}
	waitFor(t, "two handshakes running", func() bool { return b.handshakes.Running() == 2 })
	if _, err := dialTLS(t, b, clientTLS(t, set, false)); err == nil {
		t.Fatal("a third handshake was served while two were stalled at the bound")
	}
	if got := b.Stats().TLSHandshakesRefused; got != 1 {
		t.Fatalf("refused handshakes: %d, want 1", got)
	}
	waitFor(t, "stalled handshakes timed out", func() bool { return b.handshakes.Running() == 0 })
	r, err := dialTLS(t, b, clientTLS(t, set, false))
	if err != nil {
		t.Fatal(err)
	}
	r.write(connectBytes("after", 30))
	r.mustRead(codec.TypeConnack)
}

// TestTLSReload: ReloadTLS swaps the server certificate for new
// connections while a connected client stays; a bad file keeps the old.
func TestTLSReload(t *testing.T) {
	b, set := tlsBroker(t, nil)
	old, err := dialTLS(t, b, clientTLS(t, set, false))
	if err != nil {
		t.Fatal(err)
	}
	old.write(connectBytes("old", 0))
	old.mustRead(codec.TypeConnack)
	old.subscribe(1, "r", 0)

	next, err := certgen.WriteSet(filepath.Join(t.TempDir(), "next"), []string{"127.0.0.1"}, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range [][2]string{{next.Server, set.Server}, {next.ServerKey, set.ServerKey}} {
		data, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if _, err := dialTLS(t, b, clientTLS(t, set, false)); err == nil {
		t.Fatal("the old CA still verifies the server after the reload")
	}
	fresh, err := dialTLS(t, b, clientTLS(t, next, false))
	if err != nil {
		t.Fatal("the new CA does not verify the reloaded server:", err)
	}
	fresh.write(connectBytes("fresh", 0))
	fresh.mustRead(codec.TypeConnack)
	fresh.publish(&codec.Publish{Topic: []byte("r"), Payload: []byte("rotated")})
	if p := decodePublish(t, old.mustRead(codec.TypePublish)); string(p.Payload) != "rotated" {
		t.Fatalf("client connected before the reload got %q", p.Payload)
	}
	if err := os.WriteFile(set.Server, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.ReloadTLS(); err == nil {
		t.Fatal("a bad certificate file reloaded without an error")
	}
	if _, err := dialTLS(t, b, clientTLS(t, next, false)); err != nil {
		t.Fatal("the previous certificate was dropped by a failed reload:", err)
	}
}

// TestSlowConsumerTransports: on every transport a subscriber that stops
// reading has the QoS 0 messages past max_outbound_bytes dropped
// (counted) and is closed as a slow consumer, as on plain TCP: the
// outbound bound counts the bytes the transport wrote (sealed records,
// frames).
func TestSlowConsumerTransports(t *testing.T) {
	overTransports(t, func(c *Config) {
		c.MaxOutboundBytes = 64 << 10
		c.SlowConsumerTimeout = 300 * time.Millisecond
	}, func(t *testing.T, b *Broker, dial func() *rawConn) {
		slow := dial()
		slow.connect(&codec.Connect{ClientID: []byte("slow"), CleanStart: true})
		slow.subscribe(1, "flood", 0)
		pub := dial()
		pub.connect(&codec.Connect{ClientID: []byte("flooder"), CleanStart: true})
		payload := make([]byte, 8<<10)
		pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("flood"), Payload: payload})
		deadline := time.Now().Add(15 * time.Second)
		for b.Stats().SlowConsumersClosed == 0 {
			if time.Now().After(deadline) {
				t.Fatal("a subscriber that does not read was not closed as a slow consumer")
			}
			for range 64 {
				pub.write(pkt)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if st := b.Stats(); st.PublishDropped == 0 || st.SlowConsumersClosed != 1 {
			t.Fatalf("dropped %d, slow consumers closed %d: want drops past max_outbound_bytes and one closed",
				st.PublishDropped, st.SlowConsumersClosed)
		}
		// The publisher is served throughout.
		pub.publish(&codec.Publish{Topic: []byte("after"), QoS: 1, PacketID: 1, Payload: []byte("x")})
		pub.readAck(codec.TypePuback)
	})
}

// TestListenerMaxConnections: a TLS listener with max_connections 2 serves
// two paho clients over ssl:// and closes the third at accept (counted for
// that listener, logged), while the plain TCP listener of the same broker
// still serves; once a TLS client leaves, a new one is served.
func TestListenerMaxConnections(t *testing.T) {
	set, err := certgen.WriteSet(t.TempDir(), []string{"127.0.0.1"}, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	var logs *syncBuffer
	b := startBroker(t, func(c *Config) {
		logs = captureLog(c)
		c.Listeners = []Listener{
			{Transport: TransportTCP, Addr: "127.0.0.1:0"},
			{Transport: TransportTLS, Addr: "127.0.0.1:0", CertFile: set.Server, KeyFile: set.ServerKey, MaxConnections: 2},
		}
	})
	tlsAddr := b.ListenerAddrs()[1].String()
	overTLS := func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker("ssl://" + tlsAddr)
		o.SetTLSConfig(clientTLS(t, set, false))
	}
	first := pahoClient(t, b, "tls-1", overTLS)
	pahoClient(t, b, "tls-2", overTLS)

	o := mqtt.NewClientOptions().SetClientID("tls-3").SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
	overTLS(o)
	third := mqtt.NewClient(o)
	if tok := third.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
		third.Disconnect(0)
		t.Fatal("a third client was served by a TLS listener with max_connections 2")
	}
	st := b.ListenerStats()
	if st[1].Refused != 1 || st[1].Open != 2 || st[1].MaxConnections != 2 {
		t.Fatalf("TLS listener stats %+v, want 1 refused, 2 open, max 2", st[1])
	}
	if st[0].Refused != 0 {
		t.Fatalf("TCP listener stats %+v, want none refused", st[0])
	}
	if got := b.Stats().ConnectionsRefused; got != 1 {
		t.Fatalf("Stats.ConnectionsRefused %d, want 1", got)
	}
	// The refusal is counted before the close the client sees; its log
	// line is written after it.
	logged := func() bool {
		l := logs.String()
		return strings.Contains(l, "connection refused: the listener's max_connections reached") &&
			strings.Contains(l, "max_connections=2")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !logged() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !logged() {
		t.Fatalf("no log line for the listener's bound:\n%s", logs.String())
	}

	plain := pahoClient(t, b, "tcp-1", nil)
	if !plain.IsConnected() {
		t.Fatal("the TCP listener refused a client while the TLS one was full")
	}
	first.Disconnect(50)
	waitFor(t, "the TLS listener's count to fall", func() bool { return b.ListenerStats()[1].Open == 1 })
	pahoClient(t, b, "tls-4", overTLS)
}

// overTransports runs test once per transport (tcp, tls, ws, wss) against
// a broker whose one listener is of that transport (cfg adjusted by mod);
// dial opens a raw client to it, speaking MQTT over the transport.
func overTransports(t *testing.T, mod func(*Config), test func(t *testing.T, b *Broker, dial func() *rawConn)) {
	set, err := certgen.WriteSet(t.TempDir(), []string{"127.0.0.1"}, "c", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []string{TransportTCP, TransportTLS, TransportWS, TransportWSS} {
		t.Run(tr, func(t *testing.T) {
			l := Listener{Transport: tr, Addr: "127.0.0.1:0"}
			if l.isTLS() {
				l.CertFile, l.KeyFile = set.Server, set.ServerKey
			}
			b := startBroker(t, func(c *Config) {
				c.Listeners = []Listener{l}
				if mod != nil {
					mod(c)
				}
			})
			dial := func() *rawConn {
				var nc net.Conn
				var err error
				if l.isTLS() {
					nc, err = tls.Dial("tcp", b.Addr().String(), clientTLS(t, set, false))
				} else {
					nc, err = net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
				}
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = nc.Close() })
				if l.isWS() {
					return upgradeWS(t, nc)
				}
				return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
			}
			test(t, b, dial)
		})
	}
}
