package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/loadgen/client"
)

// subProcess is a running gust sub.
type subProcess struct {
	stdout, stderr lockedBuffer
	done           chan struct{}
	code           int
}

// startUnready runs gust sub with args without waiting for anything.
func startUnready(t *testing.T, args ...string) *subProcess {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := exec.CommandContext(ctx, gustBinary(t), append([]string{"sub"}, args...)...)
	s := &subProcess{done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &s.stdout, &s.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		s.code = exitCode(cmd.Wait())
		cancel()
		close(s.done)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.done })
	return s
}

// startSub runs gust sub with args; it must be subscribed to ready (a
// retained "ready" message is published there first and awaited).
func startSub(t *testing.T, addr, ready string, args ...string) *subProcess {
	t.Helper()
	publish(t, addr, codec.V311, &client.Message{Topic: ready, Payload: []byte("ready"), QoS: 1, Retain: true})
	t.Cleanup(func() { publish(t, addr, codec.V311, &client.Message{Topic: ready, QoS: 1, Retain: true}) })
	s := startUnready(t, args...)
	waitFor(t, "gust sub to get the ready message", func() bool {
		return strings.Contains(s.stdout.String(), "ready") || s.exited()
	})
	return s
}

func (s *subProcess) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits up to 10 s for the process to exit and returns its code.
func (s *subProcess) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(10 * time.Second):
		t.Fatalf("gust sub did not exit; stdout %q stderr %q", s.stdout.String(), s.stderr.String())
	}
	return -1
}

// TestSub: gust sub prints what it receives (-v, -F, -N), stops after -C
// messages, filters (-T, -R), on Gust and Mosquitto, in 3.1.1 and 5.
func TestSub(t *testing.T) {
	for _, b := range cliBrokers(t) {
		t.Run(b.name, func(t *testing.T) {
			host, port := hostPort(t, b.addr)
			s := startSub(t, b.addr, "sub/v/ready", "-h", host, "-p", port, "-t", "sub/v/#", "-q", "1", "-v", "-C", "4", "-T", "sub/v/skip")
			publish(t, b.addr, codec.V311, &client.Message{Topic: "sub/v/skip", Payload: []byte("no"), QoS: 1})
			publish(t, b.addr, codec.V311, &client.Message{Topic: "sub/v/a", Payload: []byte("one two"), QoS: 1})
			publish(t, b.addr, codec.V311, &client.Message{Topic: "sub/v/b", Payload: []byte("three"), QoS: 2})
			publish(t, b.addr, codec.V311, &client.Message{Topic: "sub/v/c", Payload: nil})
			if code := s.wait(t); code != 0 {
				t.Fatalf("-C 4: exit %d, stderr %q", code, s.stderr.String())
			}
			if got, want := s.stdout.String(), "sub/v/ready ready\nsub/v/a one two\nsub/v/b three\nsub/v/c (null)\n"; got != want {
				t.Errorf("-v output %q, want %q", got, want)
			}

			s = startSub(t, b.addr, "sub/f/ready", "--addr", "mqtt://"+b.addr, "-V", "5", "-t", "sub/f/#", "-q", "2", "-C", "4",
				"-F", `%t|%p|%q|%r|%l|%x|%P\t%%`)
			publish(t, b.addr, codec.V5, &client.Message{Topic: "sub/f/x", Payload: []byte("hi"), QoS: 2,
				Props: codec.Properties{User: []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}}})
			publish(t, b.addr, codec.V5, &client.Message{Topic: "sub/f/y", Payload: []byte("yo"), QoS: 0})
			publish(t, b.addr, codec.V5, &client.Message{Topic: "sub/f/z", Payload: []byte("zz"), QoS: 1})
			if code := s.wait(t); code != 0 {
				t.Fatalf("-F: exit %d, stderr %q", code, s.stderr.String())
			}
			if got, want := s.stdout.String(), "sub/f/ready|ready|1|1|5|7265616479|\t%\n"+
				"sub/f/x|hi|2|0|2|6869|k:v\t%\nsub/f/y|yo|0|0|2|796f|\t%\nsub/f/z|zz|1|0|2|7a7a|\t%\n"; got != want {
				t.Errorf("-F output %q, want %q", got, want)
			}

			// -R: a retained message is not printed, a live one is.
			publish(t, b.addr, codec.V311, &client.Message{Topic: "sub/r/old", Payload: []byte("old"), QoS: 1, Retain: true})
			r := startUnready(t, "--addr", b.addr, "-t", "sub/r/#", "-R", "-v", "-C", "1")
			for !r.exited() {
				publish(t, b.addr, codec.V311, &client.Message{Topic: "sub/r/live", Payload: []byte("live")})
				time.Sleep(50 * time.Millisecond)
			}
			publish(t, b.addr, codec.V311, &client.Message{Topic: "sub/r/old", QoS: 1, Retain: true})
			if code := r.wait(t); code != 0 || r.stdout.String() != "sub/r/live live\n" {
				t.Errorf("-R: exit %d, output %q", code, r.stdout.String())
			}

			s = startSub(t, b.addr, "sub/j/ready", "--addr", b.addr, "-V", "5", "-t", "sub/j/#", "-q", "1", "-C", "2", "-F", "%j", "-N")
			publish(t, b.addr, codec.V5, &client.Message{Topic: "sub/j/x", Payload: []byte(`a "quoted" <b>`), QoS: 1,
				Props: codec.Properties{User: []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}}}})
			if code := s.wait(t); code != 0 {
				t.Fatalf("-F %%j: exit %d, stderr %q", code, s.stderr.String())
			}
			out := s.stdout.String()
			if strings.Contains(out, "\n") {
				t.Errorf("-N output has a newline: %q", out)
			}
			dec := json.NewDecoder(strings.NewReader(out))
			var objs []map[string]any
			for dec.More() {
				var o map[string]any
				if err := dec.Decode(&o); err != nil {
					t.Fatalf("%%j output %q: %v", out, err)
				}
				objs = append(objs, o)
			}
			if len(objs) != 2 || objs[1]["topic"] != "sub/j/x" || objs[1]["payload"] != `a "quoted" <b>` || objs[1]["qos"] != 1.0 ||
				objs[0]["retain"] != 1.0 || fmt.Sprint(objs[1]["properties"]) != "map[user-properties:map[k:v]]" {
				t.Errorf("%%j objects %v", objs)
			}
		})
	}
}

// TestSubExit: -W ends with status 27, -E after the SUBACK, a refused
// connection or a bad format with a message.
func TestSubExit(t *testing.T) {
	addr := startBroker(t, nil)
	start := time.Now()
	if r := runGust(t, "", "sub", "--addr", addr, "-t", "quiet/#", "-W", "1"); r.code != 27 || !strings.Contains(r.stderr, "timed out") {
		t.Errorf("-W 1: exit %d, stderr %q", r.code, r.stderr)
	}
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Errorf("-W 1 took %v", d)
	}
	if r := runGust(t, "", "sub", "--addr", addr, "-t", "a", "-t", "b", "-E"); r.code != 0 {
		t.Errorf("-E: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runGust(t, "", "sub", "--addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "-t", "a"); r.code != 1 || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("refused: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runGust(t, "", "sub", "--addr", addr, "-t", "a", "-F", "%z"); r.code != 2 || !strings.Contains(r.stderr, "-F") {
		t.Errorf("bad -F: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runGust(t, "", "sub", "--addr", addr); r.code != 2 || !strings.Contains(r.stderr, "-t") {
		t.Errorf("no topic: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runGust(t, "", "sub", "--addr", addr, "-t", "a/#/b"); r.code != 1 || !strings.Contains(r.stderr, "refused") {
		t.Errorf("invalid filter: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestInteropMosquittoClients: messages from mosquitto_pub reach gust sub
// and messages from gust pub reach mosquitto_sub, through Gust.
func TestInteropMosquittoClients(t *testing.T) {
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	addr := startBroker(t, nil)
	host, port := hostPort(t, addr)
	s := startSub(t, addr, "mix/ready", "-h", host, "-p", port, "-t", "mix/#", "-v", "-C", "2", "-V", "5")
	if out, err := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-t", "mix/m", "-m", "from mosquitto", "-q", "2").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	if code := s.wait(t); code != 0 || s.stdout.String() != "mix/ready ready\nmix/m from mosquitto\n" {
		t.Errorf("gust sub: exit %d, output %q", code, s.stdout.String())
	}
	cmd := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-t", "mix/g", "-C", "1", "-v", "-W", "10")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// mosquitto_sub says nothing when subscribed: publish until it has one.
	deadline := time.Now().Add(10 * time.Second)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		if r := runGust(t, "", "pub", "-h", host, "-p", port, "-t", "mix/g", "-m", "from gust", "-q", "1"); r.code != 0 {
			t.Fatal(r.stderr)
		}
		select {
		case err := <-done:
			if err != nil || out.String() != "mix/g from gust\n" {
				t.Fatalf("mosquitto_sub: %v, output %q", err, out.String())
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("mosquitto_sub got nothing")
		}
	}
}
