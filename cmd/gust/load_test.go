package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/engine"
)

// TestLoadExitCodes: gust load exits 0 on a clean run, 1 with the reason
// when clients cannot connect or QoS 1/2 messages are lost, 2 on a bad
// --addr; --addr takes host:port, tcp:// and mqtt://.
func TestLoadExitCodes(t *testing.T) {
	ok := startBroker(t, nil)
	strict := startBroker(t, func(c *engine.Config) { c.MaxClientIDLength = 23 })
	lossy := startBroker(t, func(c *engine.Config) { c.MaxQueuedMessages, c.MaxInflight = 1, 1 })
	small := startBroker(t, func(c *engine.Config) { c.MaxPacketSize = 1000 })
	closed := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	run := []string{"load", "--quiet", "--pubs", "2", "--count", "50", "--duration", "10", "--drain", "2"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{name: "host:port", args: []string{"--addr", ok, "--qos", "1"}, code: 0},
		{name: "tcp url", args: []string{"--addr", "tcp://" + ok, "--qos", "2"}, code: 0},
		{name: "mqtt url", args: []string{"--addr", "mqtt://" + ok + "/", "--qos", "1", "--version", "5"}, code: 0},
		{name: "nothing listening", args: []string{"--addr", "tcp://" + closed}, code: 1,
			want: "3 of 3 clients could not connect; why: connect: connection refused (3)"},
		{name: "CONNACK v5", args: []string{"--addr", strict, "--version", "5", "--client-prefix", strings.Repeat("x", 30)}, code: 1,
			want: "CONNACK 0x85 client identifier not valid (3)"},
		{name: "CONNACK v3", args: []string{"--addr", strict, "--client-prefix", strings.Repeat("x", 30)}, code: 1,
			want: "CONNACK return code 2 identifier rejected (3)"},
		{name: "lost QoS 1", args: []string{"--addr", lossy, "--qos", "1", "--count", "2000"}, code: 1,
			want: "QoS 1 messages"},
		{name: "DISCONNECT", args: []string{"--addr", small, "--version", "5", "--qos", "1", "--size", "2000"}, code: 1,
			want: "lost 100 QoS 1 messages; why: broker sent DISCONNECT 0x95 packet too large (2)\n"},
		{name: "closed", args: []string{"--addr", small, "--qos", "1", "--size", "2000"}, code: 1,
			want: "lost 100 QoS 1 messages; why: "}, // closed by the broker, or reset with our data unread
		{name: "websocket", args: []string{"--addr", "ws://" + ok}, code: 2, want: "not supported"},
		{name: "bad port", args: []string{"--addr", "localhost:http"}, code: 2, want: "--addr"},
		{name: "bad duration", args: []string{"--addr", ok, "--drain", "soon"}, code: 2, want: "whole number of seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runGust(t, "", append(append([]string{}, run...), tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			if tc.code == 0 && !strings.Contains(r.stdout, "lost 0 ") {
				t.Errorf("clean run reports loss:\n%s", r.stdout)
			}
		})
	}
}
