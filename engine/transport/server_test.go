package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/engine/transport/certgen"
)

func testSet(t *testing.T) certgen.Set {
	t.Helper()
	set, err := certgen.WriteSet(t.TempDir(), []string{"127.0.0.1"}, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestTLSServerOptions: the configuration follows the options, and bad
// ones are errors naming the setting.
func TestTLSServerOptions(t *testing.T) {
	set := testSet(t)
	base := TLSOptions{CertFile: set.Server, KeyFile: set.ServerKey}
	s, err := NewTLSServer(base)
	if err != nil {
		t.Fatal(err)
	}
	c := s.cur.Load()
	if c.plain.MinVersion != tls.VersionTLS12 || c.plain.ClientAuth != tls.NoClientCert || len(c.plain.NextProtos) != 0 {
		t.Fatalf("default: min %x, client auth %v, ALPN %v", c.plain.MinVersion, c.plain.ClientAuth, c.plain.NextProtos)
	}
	if got, _ := s.forClient(&tls.ClientHelloInfo{SupportedProtos: []string{"h2", "mqtt"}}); len(got.NextProtos) != 1 || got.NextProtos[0] != "mqtt" {
		t.Fatalf("a client offering mqtt gets ALPN %v", got.NextProtos)
	}
	if got, _ := s.forClient(&tls.ClientHelloInfo{SupportedProtos: []string{"x-other"}}); len(got.NextProtos) != 0 {
		t.Fatalf("a client offering another protocol gets ALPN %v", got.NextProtos)
	}

	o := base
	o.CAFile, o.RequireCertificate, o.MinVersion = set.CA, true, "1.3"
	o.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
	s, err = NewTLSServer(o)
	if err != nil {
		t.Fatal(err)
	}
	c = s.cur.Load()
	if c.plain.MinVersion != tls.VersionTLS13 || c.plain.ClientAuth != tls.RequireAndVerifyClientCert ||
		len(c.plain.CipherSuites) != 1 || c.plain.ClientCAs == nil {
		t.Fatalf("mutual 1.3: min %x, client auth %v, suites %v", c.plain.MinVersion, c.plain.ClientAuth, c.plain.CipherSuites)
	}

	for _, tc := range []struct {
		name string
		edit func(*TLSOptions)
		want string
	}{
		{name: "no key", edit: func(o *TLSOptions) { o.KeyFile = "" }, want: "tls_cert and tls_key"},
		{name: "wrong key", edit: func(o *TLSOptions) { o.KeyFile = set.ClientKey }, want: "tls_key"},
		{name: "version", edit: func(o *TLSOptions) { o.MinVersion = "1.0" }, want: "tls_min_version"},
		{name: "suite", edit: func(o *TLSOptions) { o.CipherSuites = []string{"TLS_AES_128_GCM_SHA256"} }, want: "tls_cipher_suites"},
		{name: "ca missing", edit: func(o *TLSOptions) { o.CAFile = "/nonexistent" }, want: "tls_ca"},
		{name: "ca not pem", edit: func(o *TLSOptions) { o.CAFile = set.ServerKey }, want: "no PEM certificate"},
		{name: "identity without ca", edit: func(o *TLSOptions) { o.UseIdentityAsUsername = true }, want: "need tls_ca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			_, err := NewTLSServer(o)
			if !errors.Is(err, ErrTLSConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrTLSConfig saying %q", err, tc.want)
			}
		})
	}
}

// TestTLSServerReload: Reload takes new files; a bad file keeps the old
// configuration.
func TestTLSServerReload(t *testing.T) {
	set := testSet(t)
	s, err := NewTLSServer(TLSOptions{CertFile: set.Server, KeyFile: set.ServerKey})
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		return s.cur.Load().plain.Certificates[0].Leaf.SerialNumber.String()
	}
	before := serial()
	next, err := certgen.WriteSet(filepath.Join(t.TempDir(), "n"), []string{"127.0.0.1"}, "x", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]string{{next.Server, set.Server}, {next.ServerKey, set.ServerKey}} {
		b, _ := os.ReadFile(p[0])
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	after := serial()
	if after == before {
		t.Fatal("Reload kept the old certificate")
	}
	if err := os.WriteFile(set.Server, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("a junk certificate reloaded")
	}
	if serial() != after {
		t.Fatal("a failed reload dropped the certificate in use")
	}
}

// TestIdentity: CN first, then DNS, e-mail, URI.
func TestIdentity(t *testing.T) {
	u, _ := url.Parse("spiffe://gust/dev")
	for _, tc := range []struct {
		cert *x509.Certificate
		want string
	}{
		{cert: &x509.Certificate{}, want: ""},
		{cert: &x509.Certificate{DNSNames: []string{"dev.example"}, EmailAddresses: []string{"a@b"}}, want: "dev.example"},
		{cert: &x509.Certificate{EmailAddresses: []string{"a@b"}}, want: "a@b"},
		{cert: &x509.Certificate{URIs: []*url.URL{u}}, want: "spiffe://gust/dev"},
	} {
		if got := identity(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.cert}}); got != tc.want {
			t.Errorf("identity: got %q, want %q", got, tc.want)
		}
	}
	set := testSet(t)
	kp, err := tls.LoadX509KeyPair(set.Client, set.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := identity(&tls.ConnectionState{PeerCertificates: []*x509.Certificate{kp.Leaf}}); got != "alice" {
		t.Fatalf("identity of the client certificate: %q, want alice (its CN)", got)
	}
	if got := identity(&tls.ConnectionState{}); got != "" {
		t.Fatalf("identity without a certificate: %q", got)
	}
}
