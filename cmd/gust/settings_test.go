package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseSeconds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "10", want: 10 * time.Second},
		{in: "0", want: 0},
		{in: " 7 ", want: 7 * time.Second},
		{in: "10s", want: 10 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "-1", want: -time.Second},
		{in: "", bad: true},
		{in: "10x", bad: true},
		{in: "1.5", bad: true},
		{in: "99999999999999999", bad: true},
	} {
		got, err := parseSeconds(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

// TestServeDurations: a plain integer is seconds, in the file and as a
// flag; Go durations work in both.
func TestServeDurations(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want time.Duration
	}{
		{name: "toml integer", args: []string{"--config", writeFile(t, "connect_timeout = 10\n")}, want: 10 * time.Second},
		{name: "toml duration", args: []string{"--config", writeFile(t, "connect_timeout = \"1m30s\"\n")}, want: 90 * time.Second},
		{name: "toml string of seconds", args: []string{"--config", writeFile(t, "connect_timeout = \"20\"\n")}, want: 20 * time.Second},
		{name: "flag integer", args: []string{"--connect-timeout", "10"}, want: 10 * time.Second},
		{name: "flag duration", args: []string{"--connect-timeout=500ms"}, want: 500 * time.Millisecond},
		{name: "flag over file", args: []string{"--config", writeFile(t, "connect_timeout = 10\n"), "--connect-timeout", "3"}, want: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadServeConfig(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.ConnectTimeout != tc.want {
				t.Errorf("connect_timeout = %v, want %v", cfg.ConnectTimeout, tc.want)
			}
		})
	}
}

// TestServeSettingErrors: every parse error names the setting (and for a
// file, the file and line) and the forms it accepts.
func TestServeSettingErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{name: "flag duration", args: []string{"--connect-timeout", "soon"},
			want: []string{"connect-timeout", "a duration such as 10s", "a whole number of seconds"}},
		{name: "flag int", args: []string{"--max-inflight", "many"}, want: []string{"max-inflight", "want a whole number"}},
		{name: "flag bool", args: []string{"--allow-anonymous=maybe"}, want: []string{"allow-anonymous", "true or false"}},
		{name: "toml duration", args: []string{"--config", writeFile(t, "# comment\n\nconnect_timeout = \"soon\"\n")},
			want: []string{"gust.toml:3", "connect_timeout", "a duration such as 10s", "whole number of seconds"}},
		{name: "toml duration type", args: []string{"--config", writeFile(t, "connect_timeout = true\n")},
			want: []string{"gust.toml:1", "connect_timeout", "not a boolean"}},
		{name: "toml int as string", args: []string{"--config", writeFile(t, "max_inflight = \"5\"\n")},
			want: []string{"max_inflight", "want a whole number, not a string"}},
		{name: "toml bool", args: []string{"--config", writeFile(t, "listen = \"x:1\"\nallow_anonymous = 1\n")},
			want: []string{"gust.toml:2", "allow_anonymous", "want true or false"}},
		{name: "toml string as int", args: []string{"--config", writeFile(t, "listen = 1883\n")},
			want: []string{"gust.toml:1", "listen", "want a string, not an integer"}},
		{name: "toml size as bool", args: []string{"--config", writeFile(t, "memory_limit = true\n")},
			want: []string{"memory_limit", "want a string or a number, not a boolean"}},
		{name: "toml unknown", args: []string{"--config", writeFile(t, "listen = \":1\"\nconect_timeout = 3\n")},
			want: []string{"gust.toml:2", "conect_timeout", "unknown setting"}},
		{name: "toml table", args: []string{"--config", writeFile(t, "[server]\nport = 3\n")},
			want: []string{"server", "unknown setting"}},
		{name: "toml listener table", args: []string{"--config", writeFile(t, "[listener]\nport = 3\n")},
			want: []string{"listener", "want [[listener]] blocks"}},
		{name: "toml listener key", args: []string{"--config", writeFile(t, "[[listener]]\ntransport = \"tcp\"\naddr = \":1\"\nport = 3\n")},
			want: []string{"[[listener]] port", "unknown setting"}},
		{name: "listener transport", args: []string{"--config", writeFile(t, "[[listener]]\ntransport = \"quic\"\naddr = \":1\"\n")},
			want: []string{"transport \"quic\"", "want tcp, tls, ws or wss"}},
		{name: "listener max connections", args: []string{"--config", writeFile(t, "[[listener]]\ntransport = \"tcp\"\naddr = \":1\"\nmax_connections = -5\n")},
			want: []string{"max_connections -5", "want 0 (only the broker's max_connections) or a count"}},
		{name: "ws flags without listener", args: []string{"--ws-path", "/x"},
			want: []string{"ws-* settings need listen-ws or listen-wss"}},
		{name: "ws origin", args: []string{"--listen-ws", "127.0.0.1:0", "--ws-origins", "example.com"},
			want: []string{`ws_origins "example.com"`, "https://example.com", "scheme://host[:port]"}},
		{name: "ws frame size", args: []string{"--listen-ws", "127.0.0.1:0", "--ws-max-frame-size", "8"},
			want: []string{"ws_max_frame_size 8", "0 (the default) or a size from 16 bytes to 1GiB"}},
		{name: "ws size form", args: []string{"--listen-ws", "127.0.0.1:0", "--ws-max-inflated-size", "lots"},
			want: []string{"ws-max-inflated-size", "MiB"}},
		{name: "toml ws on tcp", args: []string{"--config", writeFile(t, "[[listener]]\ntransport = \"tcp\"\naddr = \":1\"\nws_deflate = false\n")},
			want: []string{"ws_* settings apply to ws and wss listeners only"}},
		{name: "tls files without listener", args: []string{"--tls-cert", "x.pem"},
			want: []string{"need listen-tls or listen-wss"}},
		{name: "toml config key", args: []string{"--config", writeFile(t, "config = \"other.toml\"\n")},
			want: []string{"config", "unknown setting"}},
		{name: "toml dashed key", args: []string{"--config", writeFile(t, "\"max-inflight\" = 3\n")},
			want: []string{"gust.toml: max-inflight: unknown setting"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadServeConfig(tc.args, io.Discard)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
