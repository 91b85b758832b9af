package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
)

// TLSOptions are one TLS listener's settings.
type TLSOptions struct {
	// CertFile and KeyFile are the server's PEM certificate (chain) and
	// private key.
	CertFile, KeyFile string
	// CAFile holds the PEM certificates client certificates are verified
	// against; "" asks for none.
	CAFile string
	// RequireCertificate refuses clients without a certificate signed by
	// CAFile; without it a certificate is verified if one is sent.
	RequireCertificate bool
	// UseIdentityAsUsername takes the client certificate's Common Name (or,
	// without one, its first DNS, e-mail or URI name) as the MQTT user
	// name, the certificate standing for the password.
	UseIdentityAsUsername bool
	// MinVersion is "1.2" or "1.3" ("" means 1.2).
	MinVersion string
	// CipherSuites names the TLS 1.2 cipher suites allowed (Go's names, such
	// as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); empty means Go's default
	// list. TLS 1.3 suites are not configurable.
	CipherSuites []string
}

// ErrTLSConfig is wrapped by every TLS setting error.
var ErrTLSConfig = errors.New("transport: tls")

// TLSServer is one TLS listener's configuration, its certificates
// reloadable while it serves (Reload). Safe from any goroutine.
type TLSServer struct {
	opts TLSOptions
	// cur holds the configurations built from the files last loaded: for a
	// client that offers ALPN "mqtt" and for one that does not (a server
	// with NextProtos refuses a client whose ALPN offer it does not share).
	cur  atomic.Pointer[tlsConfigs]
	base *tls.Config // GetConfigForClient picks from cur
}

type tlsConfigs struct{ alpn, plain *tls.Config }

// NewTLSServer checks opts and loads the files they name.
func NewTLSServer(opts TLSOptions) (*TLSServer, error) {
	s := &TLSServer{opts: opts}
	if _, err := s.build(); err != nil {
		return nil, err
	}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	s.base = &tls.Config{GetConfigForClient: s.forClient}
	return s, nil
}

// Options returns the listener's settings.
func (s *TLSServer) Options() TLSOptions { return s.opts }

// Reload reads the certificate, key and CA files again; on an error the
// previous ones stay in use. Connections already open are not touched.
func (s *TLSServer) Reload() error {
	cfgs, err := s.build()
	if err != nil {
		return err
	}
	s.cur.Store(cfgs)
	return nil
}

// forClient picks the configuration for a ClientHello.
func (s *TLSServer) forClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	c := s.cur.Load()
	if slices.Contains(hello.SupportedProtos, "mqtt") {
		return c.alpn, nil
	}
	return c.plain, nil
}

// build loads the files and makes the two configurations.
func (s *TLSServer) build() (*tlsConfigs, error) {
	o := s.opts
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, fmt.Errorf("%w: tls_cert and tls_key are both needed (PEM files; `gust certs` makes a test pair)", ErrTLSConfig)
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: tls_cert %s / tls_key %s: %v", ErrTLSConfig, o.CertFile, o.KeyFile, err)
	}
	c := &tls.Config{
		Certificates:                []tls.Certificate{cert},
		MinVersion:                  tls.VersionTLS12,
		DynamicRecordSizingDisabled: true, // full records: fewer writes on the loop
	}
	switch o.MinVersion {
	case "", "1.2":
	case "1.3":
		c.MinVersion = tls.VersionTLS13
	default:
		return nil, fmt.Errorf("%w: tls_min_version %q, want 1.2 or 1.3", ErrTLSConfig, o.MinVersion)
	}
	if c.CipherSuites, err = cipherSuites(o.CipherSuites); err != nil {
		return nil, err
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: tls_ca: %v", ErrTLSConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: tls_ca %s: no PEM certificate in it", ErrTLSConfig, o.CAFile)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.VerifyClientCertIfGiven
		if o.RequireCertificate {
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
	} else if o.RequireCertificate || o.UseIdentityAsUsername {
		return nil, fmt.Errorf("%w: require_certificate and use_identity_as_username need tls_ca (the CA that signs client certificates)", ErrTLSConfig)
	}
	alpn := c.Clone()
	alpn.NextProtos = []string{"mqtt"}
	return &tlsConfigs{alpn: alpn, plain: c}, nil
}

// cipherSuites maps names to Go's TLS 1.2 suite ids, refusing insecure or
// unknown ones.
func cipherSuites(names []string) ([]uint16, error) {
	if len(names) == 0 {
		return nil, nil
	}
	ids := make([]uint16, 0, len(names))
	for _, n := range names {
		found := false
		for _, cs := range tls.CipherSuites() {
			if cs.Name == n && slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
				ids = append(ids, cs.ID)
				found = true
			}
		}
		if !found {
			var known []string
			for _, cs := range tls.CipherSuites() {
				if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
					known = append(known, cs.Name)
				}
			}
			return nil, fmt.Errorf("%w: tls_cipher_suites: %q is not a secure TLS 1.2 suite; want some of %s", ErrTLSConfig, n, strings.Join(known, ", "))
		}
	}
	return ids, nil
}

// identity is the user name a verified client certificate stands for: its
// Common Name, else its first DNS name, e-mail address or URI; "" if none.
func identity(cs *tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	c := cs.PeerCertificates[0]
	switch {
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	}
	return ""
}
