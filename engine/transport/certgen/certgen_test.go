package certgen

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"
)

// TestWriteSet: the server certificate verifies for its hosts and the
// client one as a client, both against the CA; an expired one does not.
func TestWriteSet(t *testing.T) {
	set, err := WriteSet(t.TempDir(), []string{"localhost", "127.0.0.1"}, "bob", 0)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(set.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("ca.pem holds no certificate")
	}
	load := func(c, k string) *x509.Certificate {
		kp, err := tls.LoadX509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return kp.Leaf
	}
	srv := load(set.Server, set.ServerKey)
	for _, h := range []string{"localhost", "127.0.0.1"} {
		if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: h}); err != nil {
			t.Fatalf("server certificate for %s: %v", h, err)
		}
	}
	if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err == nil {
		t.Fatal("server certificate verified for a host it does not name")
	}
	cl := load(set.Client, set.ClientKey)
	if _, err := cl.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil || cl.Subject.CommonName != "bob" {
		t.Fatalf("client certificate %q: %v", cl.Subject.CommonName, err)
	}
	if st, _ := os.Stat(set.ClientKey); st.Mode().Perm() != 0o600 {
		t.Fatalf("client key mode %v, want 0600", st.Mode().Perm())
	}
	ca, err := FromTLS(load(set.CA, set.CAKey), mustKey(t, set.CA, set.CAKey))
	if err != nil {
		t.Fatal(err)
	}
	old, err := NewClient(ca, Options{Name: "old", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("an expired client certificate verified")
	}
}

func mustKey(t *testing.T, c, k string) any {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return kp.PrivateKey
}
