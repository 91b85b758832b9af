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

// ParseAddr turns the address forms MQTT tools take into host:port:
// "host:port", "host", "tcp://host:port" and "mqtt://host:port" (the port
// defaulting to 1883). Schemes of transports this client does not speak
// (TLS, WebSocket) are refused by name.
func ParseAddr(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty (want host:port, tcp://host:port or mqtt://host:port)", ErrAddr)
	}
	hostport := s
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("%w %q: %v", ErrAddr, s, err)
		}
		switch strings.ToLower(scheme) {
		case "tcp", "mqtt":
		case "mqtts", "ssl", "tls", "ws", "wss":
			return "", fmt.Errorf("%w %q: scheme %s is not supported (plain TCP only: tcp:// or mqtt://)", ErrAddr, s, scheme)
		default:
			return "", fmt.Errorf("%w %q: unknown scheme %s (want tcp:// or mqtt://)", ErrAddr, s, scheme)
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("%w %q: want only a host and port after %s://", ErrAddr, s, scheme)
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: the whole thing is the host (an IPv6 one in brackets or not).
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), DefaultPort
		if strings.Contains(host, "]") || strings.Contains(host, "[") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
			return "", fmt.Errorf("%w %q (want host:port, tcp://host:port or mqtt://host:port)", ErrAddr, s)
		}
	}
	if host == "" && strings.Contains(s, "://") {
		return "", fmt.Errorf("%w %q: no host", ErrAddr, s)
	}
	if port == "" {
		port = DefaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%w %q: port %q is not a number from 1 to 65535", ErrAddr, s, port)
	}
	return net.JoinHostPort(host, port), nil
}
