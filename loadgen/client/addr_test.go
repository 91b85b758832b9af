package client

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "localhost:1884", want: "localhost:1884"},
		{in: "localhost", want: "localhost:1883"},
		{in: "127.0.0.1", want: "127.0.0.1:1883"},
		{in: ":1883", want: ":1883"},
		{in: "tcp://example.com:2883", want: "example.com:2883"},
		{in: "mqtt://example.com", want: "example.com:1883"},
		{in: "MQTT://example.com:1/", want: "example.com:1"},
		{in: "[::1]:1883", want: "[::1]:1883"},
		{in: "::1", want: "[::1]:1883"},
		{in: "tcp://[::1]:9", want: "[::1]:9"},
		{in: "", err: "empty"},
		{in: "mqtts://example.com:8883", err: "not supported"},
		{in: "ws://example.com", err: "not supported"},
		{in: "http://example.com", err: "unknown scheme"},
		{in: "tcp://", err: "no host"},
		{in: "tcp://u:p@example.com", err: "only a host and port"},
		{in: "example.com:mqtt", err: "port"},
		{in: "example.com:70000", err: "port"},
	} {
		got, err := ParseAddr(tc.in)
		if tc.err != "" {
			if err == nil || !errors.Is(err, ErrAddr) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAddr(%q) = %q, %v; want an ErrAddr saying %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseAddr(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Endpoint
		err  string
	}{
		{in: "localhost", want: Endpoint{HostPort: "localhost:1883"}},
		{in: "mqtts://example.com", want: Endpoint{HostPort: "example.com:8883", TLS: true}},
		{in: "ssl://example.com:9883", want: Endpoint{HostPort: "example.com:9883", TLS: true}},
		{in: "ws://example.com", want: Endpoint{HostPort: "example.com:80", WebSocket: true, Path: "/mqtt"}},
		{in: "ws://example.com:8080/broker/mqtt", want: Endpoint{HostPort: "example.com:8080", WebSocket: true, Path: "/broker/mqtt"}},
		{in: "WSS://[::1]", want: Endpoint{HostPort: "[::1]:443", TLS: true, WebSocket: true, Path: "/mqtt"}},
		{in: "mqtts://example.com/path", err: "only a host and port"},
		{in: "ws://example.com/x?y=1", err: "only a host and port"},
		{in: "http://example.com", err: "unknown scheme"},
		{in: "wss://", err: "no host"},
	} {
		got, err := ParseEndpoint(tc.in)
		if tc.err != "" {
			if err == nil || !errors.Is(err, ErrAddr) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseEndpoint(%q) = %+v, %v; want an ErrAddr saying %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseEndpoint(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
