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
