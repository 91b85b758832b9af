package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/engine"
)

// TestCertsAndTLSLoad: `gust certs` writes a CA, server and client pair
// that a TLS listener serves with; `gust load` over TLS (--cafile, and
// --cert/--key against a listener requiring client certificates) loses
// nothing; without the CA (and without --insecure) it cannot connect.
func TestCertsAndTLSLoad(t *testing.T) {
	dir := t.TempDir()
	r := runGust(t, "", "certs", "-dir", dir, "-hosts", "127.0.0.1", "-client", "loader")
	if r.code != 0 || !strings.Contains(r.stdout, "CN loader") {
		t.Fatalf("gust certs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	f := func(n string) string { return filepath.Join(dir, n) }
	tlsAddr := func(mutual bool) func(*engine.Config) {
		return func(c *engine.Config) {
			l := engine.Listener{Transport: engine.TransportTLS, Addr: "127.0.0.1:0",
				CertFile: f("server.pem"), KeyFile: f("server-key.pem")}
			if mutual {
				l.CAFile, l.RequireCertificate = f("ca.pem"), true
			}
			c.Listeners = []engine.Listener{l}
		}
	}
	server := startBroker(t, tlsAddr(false))
	mutual := startBroker(t, tlsAddr(true))
	run := []string{"load", "--quiet", "--pubs", "2", "--subs", "2", "--count", "500", "--duration", "10", "--drain", "2", "--qos", "1", "--size", "3000"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "cafile", args: []string{"--addr", server, "--cafile", f("ca.pem")}, code: 0, want: "lost 0 "},
		{name: "insecure", args: []string{"--addr", server, "--tls", "--insecure"}, code: 0, want: "lost 0 "},
		{name: "unverified", args: []string{"--addr", server, "--tls"}, code: 1, want: "certificate"},
		{name: "client cert", args: []string{"--addr", mutual, "--cafile", f("ca.pem"), "--cert", f("client.pem"), "--key", f("client-key.pem")}, code: 0, want: "lost 0 "},
		{name: "no client cert", args: []string{"--addr", mutual, "--cafile", f("ca.pem"), "--connect-timeout", "3"}, code: 1, want: "could not connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runGust(t, "", append(append([]string{}, run...), tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}
