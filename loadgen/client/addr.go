package client

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// DefaultPort is the MQTT port taken when an address names none.
const DefaultPort = "1883"

// Default ports of the schemes that name a transport.
const (
	DefaultTLSPort = "8883" // mqtts://, ssl://, tls://
	DefaultWSPort  = "80"   // ws://
	DefaultWSSPort = "443"  // wss://
)

// DefaultWSPath is the WebSocket request path of a ws:// or wss:// URL
// that names none.
const DefaultWSPath = "/mqtt"

// Endpoint is a broker's address and the transport to reach it by.
type Endpoint struct {
	// HostPort is host:port.
	HostPort string
	// TLS is set by mqtts://, ssl://, tls:// and wss://.
	TLS bool
	// WebSocket is set by ws:// and wss://; Path is then the request
	// path (DefaultWSPath when the URL names none).
	WebSocket bool
	Path      string
}

// ParseAddr turns the plain TCP address forms MQTT tools take into
// host:port: "host:port", "host", "tcp://host:port" and
// "mqtt://host:port" (the port defaulting to 1883). Schemes of other
// transports (TLS, WebSocket) are refused by name: ParseEndpoint takes
// them.
func ParseAddr(s string) (string, error) {
	e, err := ParseEndpoint(s)
	if err != nil {
		return "", err
	}
	if e.TLS || e.WebSocket {
		scheme, _, _ := strings.Cut(s, "://")
		return "", fmt.Errorf("%w %q: scheme %s is not supported here (plain TCP only: tcp:// or mqtt://)", ErrAddr, s, scheme)
	}
	return e.HostPort, nil
}

// ParseEndpoint parses a broker address: the forms of ParseAddr, and the
// URLs mqtts://, ssl:// and tls:// (TLS, port 8883 by default), ws://
// (WebSocket, port 80, path /mqtt by default) and wss:// (WebSocket over
// TLS, port 443).
func ParseEndpoint(s string) (Endpoint, error) {
	const forms = "host:port, tcp://, mqtt://, mqtts://, ws:// or wss://host:port"
	var e Endpoint
	if s == "" {
		return e, fmt.Errorf("%w: empty (want %s)", ErrAddr, forms)
	}
	hostport, defPort := s, DefaultPort
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		u, err := url.Parse(s)
		if err != nil {
			return e, fmt.Errorf("%w %q: %v", ErrAddr, s, err)
		}
		switch strings.ToLower(scheme) {
		case "tcp", "mqtt":
		case "mqtts", "ssl", "tls":
			e.TLS, defPort = true, DefaultTLSPort
		case "ws":
			e.WebSocket, defPort = true, DefaultWSPort
		case "wss":
			e.TLS, e.WebSocket, defPort = true, true, DefaultWSSPort
		default:
			return e, fmt.Errorf("%w %q: unknown scheme %s (want %s)", ErrAddr, s, scheme, forms)
		}
		hasPath := u.Path != "" && u.Path != "/"
		if u.User != nil || (hasPath && !e.WebSocket) || u.RawQuery != "" || u.Fragment != "" {
			return e, fmt.Errorf("%w %q: want only a host and port after %s:// (and a path after ws:// or wss://)", ErrAddr, s, scheme)
		}
		if e.WebSocket {
			e.Path = DefaultWSPath
			if hasPath {
				e.Path = u.EscapedPath()
			}
		}
		hostport = u.Host
	}
	var err error
	e.HostPort, err = hostPort(s, hostport, defPort)
	return e, err
}

// hostPort checks hostport (from s) and adds defPort if it has no port.
func hostPort(s, hostport, defPort string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: the whole thing is the host (an IPv6 one in brackets or not).
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), defPort
		if strings.Contains(host, "]") || strings.Contains(host, "[") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
			return "", fmt.Errorf("%w %q (want host:port, tcp://host:port or mqtt://host:port)", ErrAddr, s)
		}
	}
	if host == "" && strings.Contains(s, "://") {
		return "", fmt.Errorf("%w %q: no host", ErrAddr, s)
	}
	if port == "" {
		port = defPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%w %q: port %q is not a number from 1 to 65535", ErrAddr, s, port)
	}
	return net.JoinHostPort(host, port), nil
}
