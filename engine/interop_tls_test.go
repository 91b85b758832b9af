package engine

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/transport/certgen"
)

// tlsBroker starts a broker whose one listener is TLS on loopback with a
// throw-away CA, server and client certificate (client CN "alice").
func tlsBroker(t testing.TB, mod func(*Config, *Listener)) (*Broker, certgen.Set) {
	t.Helper()
	set, err := certgen.WriteSet(t.TempDir(), []string{"localhost", "127.0.0.1"}, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t, func(c *Config) {
		l := Listener{Transport: TransportTLS, Addr: "127.0.0.1:0", CertFile: set.Server, KeyFile: set.ServerKey}
		if mod != nil {
			mod(c, &l)
		}
		c.Listeners = []Listener{l}
	})
	return b, set
}

// caOf is the CA file tlsBroker writes next to a listener's certificate.
func caOf(l *Listener) string { return filepath.Join(filepath.Dir(l.CertFile), "ca.pem") }

// clientTLS is a Go client configuration trusting set's CA.
func clientTLS(t testing.TB, set certgen.Set, withCert bool) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(set.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	if withCert {
		cert, err := tls.LoadX509KeyPair(set.Client, set.ClientKey)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

// dialTLS is dialRaw over TLS.
func dialTLS(t testing.TB, b *Broker, cfg *tls.Config) (*rawConn, error) {
	t.Helper()
	nc, err := tls.Dial("tcp", b.Addr().String(), cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}, nil
}

// mosqRun runs a mosquitto tool against b and returns its exit error and
// output.
func mosqRun(t *testing.T, b *Broker, tool string, args ...string) (string, error) {
	t.Helper()
	path := mosquittoTool(t, tool)
	h, p := hostPort(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, append([]string{"-h", h, "-p", p, "-V", "mqttv311"}, args...)...).CombinedOutput()
	return string(out), err
}

// TestInteropTLSMosquitto: mosquitto_sub and mosquitto_pub over TLS with
// --cafile, QoS 0, 1 and 2.
func TestInteropTLSMosquitto(t *testing.T) {
	b, set := tlsBroker(t, nil)
	wait := mosqSub(t, b, "--cafile", set.CA, "-t", "tls/#", "-C", "3", "-v", "-q", "2")
	waitSubscribed(t, b, 1)
	for q := range 3 {
		mosqPub(t, b, "--cafile", set.CA, "-t", "tls/q", "-q", string(rune('0'+q)), "-m", "over-tls-"+string(rune('0'+q)))
	}
	got := wait()
	want := []string{"tls/q over-tls-0", "tls/q over-tls-1", "tls/q over-tls-2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("mosquitto_sub over TLS got %q, want %q", got, want)
	}
	if st := b.Stats(); st.TLSHandshakes < 4 {
		t.Fatalf("handshakes counted: %d, want >= 4", st.TLSHandshakes)
	}
}

// TestInteropTLSMutual: with require_certificate, mosquitto clients with
// --cert/--key get through and the certificate's CN is their user name
// (use_identity_as_username, checked through an ACL); without a
// certificate, with one from another CA, or with an expired one, the
// handshake fails, only that connection is closed, and it is counted.
func TestInteropTLSMutual(t *testing.T) {
	dir := t.TempDir()
	acl := filepath.Join(dir, "acl")
	// Only alice may use alice/#: the ACL sees the certificate's CN.
	if err := os.WriteFile(acl, []byte("user alice\ntopic readwrite alice/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, set := tlsBroker(t, func(c *Config, l *Listener) {
		l.CAFile = caOf(l)
		l.RequireCertificate = true
		l.UseIdentityAsUsername = true
		c.AllowAnonymous = false
		c.ACLFile = acl
	})
	mine := []string{"--cafile", set.CA, "--cert", set.Client, "--key", set.ClientKey}
	wait := mosqSub(t, b, append(mine, "-t", "alice/#", "-C", "1", "-v")...)
	waitSubscribed(t, b, 1)

	if out, err := mosqRun(t, b, "mosquitto_pub", "--cafile", set.CA, "-t", "alice/x", "-m", "no-cert"); err == nil {
		t.Fatalf("mosquitto_pub without a client certificate was accepted: %s", out)
	}
	other, err := certgen.WriteSet(filepath.Join(dir, "other"), []string{"127.0.0.1"}, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := mosqRun(t, b, "mosquitto_pub", "--cafile", set.CA, "--cert", other.Client, "--key", other.ClientKey,
		"-t", "alice/x", "-m", "untrusted"); err == nil {
		t.Fatalf("a client certificate from another CA was accepted: %s", out)
	}
	expired := expiredClient(t, set, filepath.Join(dir, "expired"))
	if out, err := mosqRun(t, b, "mosquitto_pub", "--cafile", set.CA, "--cert", expired[0], "--key", expired[1],
		"-t", "alice/x", "-m", "expired"); err == nil {
		t.Fatalf("an expired client certificate was accepted: %s", out)
	}
	if st := b.Stats(); st.TLSHandshakeFailures < 3 {
		t.Fatalf("handshake failures counted: %d, want >= 3", st.TLSHandshakeFailures)
	}
	mosqPub(t, b, append(mine, "-t", "alice/x", "-m", "with-cert")...)
	if got := wait(); len(got) != 1 || got[0] != "alice/x with-cert" {
		t.Fatalf("subscriber (kept through the refusals) got %q", got)
	}
}

// expiredClient writes a client certificate of set's CA that expired
// yesterday and returns its certificate and key files.
func expiredClient(t *testing.T, set certgen.Set, dir string) [2]string {
	t.Helper()
	caPair := loadPair(t, set.CA, set.CAKey)
	p, err := certgen.NewClient(caPair, certgen.Options{Name: "alice",
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := [2]string{filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem")}
	if err := p.Write(files[0], files[1]); err != nil {
		t.Fatal(err)
	}
	return files
}

// loadPair reads a certificate and its ECDSA key.
func loadPair(t *testing.T, certFile, keyFile string) *certgen.Pair {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(kp.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	p, err := certgen.FromTLS(cert, kp.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInteropTLSPaho: paho.mqtt.golang over ssl://, QoS 1 both ways, with
// a client certificate; a Go client offering ALPN "mqtt" gets it, one
// offering another protocol still connects.
func TestInteropTLSPaho(t *testing.T) {
	b, set := tlsBroker(t, func(_ *Config, l *Listener) { l.CAFile = caOf(l) })
	cfg := clientTLS(t, set, true)
	opts := func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker("ssl://" + b.Addr().String())
		o.SetTLSConfig(cfg)
	}
	sub := pahoClient(t, b, "paho-tls-sub", opts)
	pub := pahoClient(t, b, "paho-tls-pub", opts)
	col := newCollector()
	subscribe(t, sub, "p/#", 1, col)
	const n = 200
	for i := range n {
		publish(t, pub, "p/x", 1, false, strings.Repeat("m", i*50)) // up to 10 kB: several records
	}
	msgs := col.wait(t, n, 10*time.Second)
	for i, m := range msgs {
		if len(m.Payload()) != i*50 {
			t.Fatalf("message %d: %d bytes, want %d", i, len(m.Payload()), i*50)
		}
	}

	for _, tc := range []struct {
		offer []string
		want  string
	}{{offer: []string{"mqtt"}, want: "mqtt"}, {offer: []string{"x-other"}, want: ""}, {offer: nil, want: ""}} {
		c := cfg.Clone()
		c.NextProtos = tc.offer
		r, err := dialTLS(t, b, c)
		if err != nil {
			t.Fatalf("ALPN %v: %v", tc.offer, err)
		}
		if got := r.nc.(*tls.Conn).ConnectionState().NegotiatedProtocol; got != tc.want {
			t.Fatalf("ALPN %v: negotiated %q, want %q", tc.offer, got, tc.want)
		}
		r.write(connectBytes("alpn", 30))
		r.mustRead(codec.TypeConnack)
	}
}
