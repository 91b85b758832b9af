package bench

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"

	"github.com/gust-mqtt/gust/engine/transport/certgen"
)

// harnessCerts are the throw-away certificates of a TLS target and the
// generator's configuration that trusts them.
type harnessCerts struct {
	set    certgen.Set
	client *tls.Config
}

// makeCerts writes a CA and a server certificate for 127.0.0.1 into a
// new directory of the system's temporary directory (returned too, for
// the caller to remove). Directory and key are world-readable: Mosquitto
// started as root reads them as the mosquitto user (the harness's own
// temporary directory is private), and they are thrown away with the run.
func makeCerts() (*harnessCerts, string, error) {
	d, err := os.MkdirTemp("", "gust-bench-certs-")
	if err != nil {
		return nil, "", err
	}
	if err := os.Chmod(d, 0o755); err != nil {
		return nil, d, err
	}
	set, err := certgen.WriteSet(d, []string{"127.0.0.1"}, "bench", 0)
	if err != nil {
		return nil, d, err
	}
	if err := os.Chmod(filepath.Join(d, "server-key.pem"), 0o644); err != nil {
		return nil, d, err
	}
	pem, err := os.ReadFile(set.CA)
	if err != nil {
		return nil, d, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &harnessCerts{set: set, client: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"mqtt"}}}, d, nil
}
