package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine"
)

// TestPub: gust pub sends -m, -n, -f, -s and -l payloads at each QoS,
// retained or not, with MQTT 5 properties from -D, to Gust and Mosquitto,
// with mosquitto's -h/-p and with --addr.
func TestPub(t *testing.T) {
	file := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(file, []byte("from a file\nline 2"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, b := range cliBrokers(t) {
		t.Run(b.name, func(t *testing.T) {
			host, port := hostPort(t, b.addr)
			sub := subscriber(t, b.addr, codec.V5, "pub/#")
			for _, tc := range []struct {
				name   string
				stdin  string
				args   []string
				want   []string // payloads, in order
				qos    byte
				retain bool
			}{
				{name: "m qos0", args: []string{"-h", host, "-p", port, "-t", "pub/a", "-m", "hello"}, want: []string{"hello"}},
				{name: "m qos1", args: []string{"--addr", "tcp://" + b.addr, "-t", "pub/a", "-m", "one", "-q", "1"}, want: []string{"one"}, qos: 1},
				{name: "m qos2 v5", args: []string{"--addr", "mqtt://" + b.addr, "-V", "5", "-t", "pub/a", "-m", "two", "-q", "2"}, want: []string{"two"}, qos: 2},
				{name: "null retained", args: []string{"-H", host, "-p", port, "-t", "pub/a", "-n", "-r", "-q", "1"}, want: []string{""}, qos: 1, retain: false},
				{name: "file", args: []string{"--addr", b.addr, "-t", "pub/f", "-f", file}, want: []string{"from a file\nline 2"}},
				{name: "stdin whole", stdin: "all\nof it", args: []string{"--addr", b.addr, "-t", "pub/s", "-s"}, want: []string{"all\nof it"}},
				{name: "stdin lines", stdin: "l1\nl2\n\nl4\n", args: []string{"--addr", b.addr, "-t", "pub/l", "-l", "-q", "1"},
					want: []string{"l1", "l2", "", "l4"}, qos: 1},
				{name: "repeat", args: []string{"--addr", b.addr, "-t", "pub/r", "-m", "again", "--repeat", "3"}, want: []string{"again", "again", "again"}},
			} {
				r := runGust(t, tc.stdin, append([]string{"pub"}, tc.args...)...)
				if r.code != 0 {
					t.Fatalf("%s: exit %d: %s", tc.name, r.code, r.stderr)
				}
				for _, want := range tc.want {
					m := receive(t, sub)
					if string(m.Payload) != want || m.QoS != tc.qos || m.Retain != tc.retain {
						t.Fatalf("%s: got %q QoS %d retain %v, want %q QoS %d", tc.name, m.Payload, m.QoS, m.Retain, want, tc.qos)
					}
				}
			}
			// Retained: a later subscriber gets it with RETAIN set.
			if r := runGust(t, "", "pub", "--addr", b.addr, "-t", "pub/kept", "-m", "kept", "-r", "-q", "1"); r.code != 0 {
				t.Fatal(r.stderr)
			}
			_ = receive(t, sub)
			late := subscriber(t, b.addr, codec.V311, "pub/kept")
			if m := receive(t, late); string(m.Payload) != "kept" || !m.Retain {
				t.Errorf("retained: got %q retain %v", m.Payload, m.Retain)
			}
			if r := runGust(t, "", "pub", "--addr", b.addr, "-t", "pub/kept", "-n", "-r"); r.code != 0 {
				t.Fatal(r.stderr)
			}
			_ = receive(t, sub)
			// MQTT 5 properties from -D.
			r := runGust(t, "", "pub", "--addr", b.addr, "-V", "5", "-t", "pub/p", "-m", "props",
				"-D", "publish", "user-property", "k1", "v1", "-D", "publish", "user-property", "k2", "v2",
				"-D", "publish", "content-type", "text/plain", "-D", "publish", "response-topic", "pub/reply",
				"-D", "publish", "message-expiry-interval", "60", "-D", "connect", "user-property", "c", "d")
			if r.code != 0 {
				t.Fatal(r.stderr)
			}
			m := receive(t, sub)
			var users []string
			for _, u := range m.Props.User {
				users = append(users, string(u.Key)+"="+string(u.Value))
			}
			if got := strings.Join(users, ","); got != "k1=v1,k2=v2" || string(m.Props.ContentType) != "text/plain" ||
				string(m.Props.ResponseTopic) != "pub/reply" || !m.Props.Has(codec.PropMessageExpiry) || m.Props.MessageExpiry > 60 {
				t.Errorf("properties: users %s, content type %q, response topic %q, expiry %d",
					got, m.Props.ContentType, m.Props.ResponseTopic, m.Props.MessageExpiry)
			}
		})
	}
}

// TestPubErrors: bad flags exit 2 with a message; a broker that cannot
// be reached or refuses exits 1 saying why.
func TestPubErrors(t *testing.T) {
	addr := startBroker(t, func(c *engine.Config) { c.MaxClientIDLength = 23 })
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "no topic", args: []string{"-m", "x"}, code: 2, want: "-t"},
		{name: "no payload", args: []string{"-t", "a"}, code: 2, want: "exactly one of"},
		{name: "two payloads", args: []string{"-t", "a", "-m", "x", "-n"}, code: 2, want: "exactly one of"},
		{name: "bad qos", args: []string{"-t", "a", "-m", "x", "-q", "3"}, code: 2, want: "want 0, 1 or 2"},
		{name: "bad version", args: []string{"-t", "a", "-m", "x", "-V", "4.0"}, code: 2, want: "-V"},
		{name: "-c without id", args: []string{"-t", "a", "-m", "x", "-c"}, code: 2, want: "-i"},
		{name: "-D on 3.1.1", args: []string{"-t", "a", "-m", "x", "-D", "publish", "user-property", "k", "v"}, code: 2, want: "-V 5"},
		{name: "-D unknown", args: []string{"-t", "a", "-m", "x", "-V", "5", "-D", "publish", "topic-alias", "3"}, code: 2, want: "topic-alias"},
		{name: "-D short", args: []string{"-t", "a", "-D", "publish"}, code: 2, want: "COMMAND IDENTIFIER VALUE"},
		{name: "will qos alone", args: []string{"-t", "a", "-m", "x", "--will-qos", "1"}, code: 2, want: "--will-topic"},
		{name: "missing file", args: []string{"--addr", addr, "-t", "a", "-f", "/nonexistent/payload"}, code: 1, want: "/nonexistent/payload"},
		{name: "refused", args: []string{"--addr", closed, "-t", "a", "-m", "x"}, code: 1, want: "connection refused"},
		{name: "CONNACK", args: []string{"--addr", addr, "-V", "5", "-i", strings.Repeat("x", 30), "-t", "a", "-m", "x"}, code: 1,
			want: "CONNACK 0x85 client identifier not valid"},
		{name: "quiet", args: []string{"--addr", closed, "-t", "a", "-m", "x", "--quiet"}, code: 1},
	} {
		r := runGust(t, "", append([]string{"pub"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d with %q", tc.name, r.code, r.stderr, tc.code, tc.want)
		}
		if tc.want == "" && r.stderr != "" {
			t.Errorf("%s: --quiet printed %q", tc.name, r.stderr)
		}
	}
}

// TestPubLinesInterrupt: gust pub -l waiting on standard input ends at
// SIGINT with status 0, after sending what it had read.
func TestPubLinesInterrupt(t *testing.T) {
	addr := startBroker(t, nil)
	sub := subscriber(t, addr, codec.V311, "int/#")
	cmd := exec.Command(gustBinary(t), "pub", "--addr", addr, "-t", "int/l", "-l", "-q", "1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	if _, err := io.WriteString(stdin, "first\n"); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, sub); string(m.Payload) != "first" {
		t.Fatalf("got %q", m.Payload)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGINT: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("gust pub -l ignored SIGINT while waiting for input")
	}
}
