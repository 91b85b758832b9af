package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
)

// tlsFlags are the client side TLS flags (gust load).
type tlsFlags struct {
	on        bool
	caFile    string
	insecure  bool
	cert, key string
}

func (f *tlsFlags) bind(fs *flag.FlagSet) {
	fs.BoolVar(&f.on, "tls", false, "connect with TLS (verify the broker with --cafile, or --insecure)")
	fs.StringVar(&f.caFile, "cafile", "", "PEM CA `file` the broker's certificate is verified against (implies --tls)")
	fs.BoolVar(&f.insecure, "insecure", false, "with --tls, do not verify the broker's certificate (self-signed test certificates)")
	fs.StringVar(&f.cert, "cert", "", "PEM client certificate `file` for mutual TLS (implies --tls; with --key)")
	fs.StringVar(&f.key, "key", "", "PEM private key `file` of --cert")
}

// config returns the client TLS configuration for a broker at addr, nil
// without TLS.
func (f *tlsFlags) config(addr string) (*tls.Config, error) {
	if !f.on && f.caFile == "" && f.cert == "" {
		if f.insecure || f.key != "" {
			return nil, errors.New("--insecure and --key need --tls")
		}
		return nil, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	c := &tls.Config{ServerName: host, InsecureSkipVerify: f.insecure, NextProtos: []string{"mqtt"}} //nolint:gosec // --insecure asks for it
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--cafile: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cafile %s: no PEM certificate in it", f.caFile)
		}
	}
	if f.cert != "" || f.key != "" {
		kp, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c, nil
}
