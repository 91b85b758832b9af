package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gust-mqtt/gust/engine/transport/certgen"
)

func init() { commands["certs"] = runCerts }

// runCerts implements `gust certs`: a throw-away CA, a server certificate
// and a client certificate, for trying TLS and mutual TLS without OpenSSL.
func runCerts(args []string) int {
	fs := flag.NewFlagSet("gust certs", flag.ContinueOnError)
	dir := fs.String("dir", "certs", "`directory` to write ca.pem, server.pem, client.pem and their -key.pem files into")
	hosts := fs.String("hosts", "localhost,127.0.0.1,::1", "comma-separated host names and IP addresses of the server certificate")
	client := fs.String("client", "gust-client", "Common Name of the client certificate (the user name with use_identity_as_username)")
	valid := fs.Duration("valid", 365*24*time.Hour, "how long the certificates are valid")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gust certs: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var hs []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	set, err := certgen.WriteSet(*dir, hs, *client, *valid)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust certs:", err)
		return 1
	}
	fmt.Printf("CA:     %s (key %s)\nserver: %s (key %s) for %s\nclient: %s (key %s), CN %s\n",
		set.CA, set.CAKey, set.Server, set.ServerKey, strings.Join(hs, ", "), set.Client, set.ClientKey, *client)
	fmt.Printf("try:    gust serve --listen-tls :8883 --tls-cert %s --tls-key %s\n", set.Server, set.ServerKey)
	fmt.Printf("        mosquitto_sub -p 8883 --cafile %s -t '#' -v\n", set.CA)
	return 0
}
