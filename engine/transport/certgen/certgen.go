// Package certgen makes throw-away certificates for trying TLS and for
// tests: a CA, server certificates for host names and addresses, client
// certificates for a name, all ECDSA P-256 with crypto/x509. It is what
// `gust certs` runs. Not for production PKI.
package certgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Pair is a certificate and its private key.
type Pair struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	DER  []byte
}

// CertPEM is the certificate in PEM.
func (p *Pair) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.DER})
}

// KeyPEM is the private key in PEM (PKCS #8).
func (p *Pair) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Write writes the certificate to certFile and the key to keyFile (mode
// 0600).
func (p *Pair) Write(certFile, keyFile string) error {
	key, err := p.KeyPEM()
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, p.CertPEM(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, key, 0o600)
}

// FromTLS makes a Pair of a parsed certificate and its key (an ECDSA key,
// as this package makes them), such as tls.LoadX509KeyPair returns.
func FromTLS(cert *x509.Certificate, key any) (*Pair, error) {
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("certgen: key of type %T, want ECDSA", key)
	}
	return &Pair{Cert: cert, Key: k, DER: cert.Raw}, nil
}

// Options shape a certificate.
type Options struct {
	// Name is the Common Name.
	Name string
	// Hosts are the DNS names and IP addresses of a server certificate.
	Hosts []string
	// NotBefore and NotAfter bound its validity; zero values mean from an
	// hour ago for a year.
	NotBefore, NotAfter time.Time
}

func (o *Options) validity() (time.Time, time.Time) {
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = nb.Add(365 * 24 * time.Hour)
	}
	return nb, na
}

// NewCA makes a self-signed CA.
func NewCA(o Options) (*Pair, error) {
	if o.Name == "" {
		o.Name = "Gust test CA"
	}
	nb, na := o.validity()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: o.Name, Organization: []string{"Gust throw-away"}},
		NotBefore:             nb,
		NotAfter:              na,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	return sign(tmpl, nil)
}

// NewServer makes a server certificate signed by ca for o.Hosts.
func NewServer(ca *Pair, o Options) (*Pair, error) {
	if len(o.Hosts) == 0 {
		return nil, errors.New("certgen: a server certificate needs a host name or address")
	}
	if o.Name == "" {
		o.Name = o.Hosts[0]
	}
	nb, na := o.validity()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: o.Name},
		NotBefore:   nb,
		NotAfter:    na,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return sign(tmpl, ca)
}

// NewClient makes a client certificate signed by ca with Common Name
// o.Name.
func NewClient(ca *Pair, o Options) (*Pair, error) {
	if o.Name == "" {
		return nil, errors.New("certgen: a client certificate needs a name")
	}
	nb, na := o.validity()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: o.Name},
		NotBefore:   nb,
		NotAfter:    na,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return sign(tmpl, ca)
}

// sign gives tmpl a serial number and a new key and signs it with parent
// (itself when parent is nil).
func sign(tmpl *x509.Certificate, parent *Pair) (*Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("certgen: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Pair{Cert: cert, Key: key, DER: der}, nil
}

// Set is the files `gust certs` writes into a directory.
type Set struct {
	Dir               string
	CA, CAKey         string
	Server, ServerKey string
	Client, ClientKey string
}

// Files returns the paths of a set in dir.
func Files(dir string) Set {
	j := func(n string) string { return filepath.Join(dir, n) }
	return Set{Dir: dir, CA: j("ca.pem"), CAKey: j("ca-key.pem"), Server: j("server.pem"),
		ServerKey: j("server-key.pem"), Client: j("client.pem"), ClientKey: j("client-key.pem")}
}

// WriteSet makes a CA, a server certificate for hosts and a client
// certificate named client, and writes them into dir (created if needed)
// as ca.pem, ca-key.pem, server.pem, server-key.pem, client.pem and
// client-key.pem. It returns the paths.
func WriteSet(dir string, hosts []string, client string, validFor time.Duration) (Set, error) {
	s := Files(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, err
	}
	o := Options{}
	if validFor > 0 {
		o.NotBefore = time.Now().Add(-time.Hour)
		o.NotAfter = o.NotBefore.Add(validFor + time.Hour)
	}
	ca, err := NewCA(o)
	if err != nil {
		return s, err
	}
	so := o
	so.Hosts = hosts
	srv, err := NewServer(ca, so)
	if err != nil {
		return s, err
	}
	co := o
	co.Name = client
	cl, err := NewClient(ca, co)
	if err != nil {
		return s, err
	}
	for _, w := range []struct {
		p         *Pair
		cert, key string
	}{{ca, s.CA, s.CAKey}, {srv, s.Server, s.ServerKey}, {cl, s.Client, s.ClientKey}} {
		if err := w.p.Write(w.cert, w.key); err != nil {
			return s, err
		}
	}
	return s, nil
}
