package engine

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mosquittoTool returns the path of a mosquitto client program, skipping
// the test when it is missing (failing when CI=true).
func mosquittoTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (apt-get install mosquitto-clients)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// hostPort splits the broker address for -h/-p.
func hostPort(t *testing.T, b *Broker) (string, string) {
	h, p, err := net.SplitHostPort(b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// mosqSub starts mosquitto_sub collecting n messages (-C) and returns a
// function that waits for its output lines.
func mosqSub(t *testing.T, b *Broker, args ...string) func() []string {
	t.Helper()
	tool := mosquittoTool(t, "mosquitto_sub")
	h, p := hostPort(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, tool, append([]string{"-h", h, "-p", p, "-V", "mqttv311"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() []string {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 27 {
			err = nil // -W timeout expired: the expected end of a "nothing arrives" check
		}
		if err != nil {
			t.Fatal(err, "mosquitto_sub:", errb.String())
		}
		s := strings.TrimRight(out.String(), "\n")
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}
}

// mosqPub runs mosquitto_pub to completion.
func mosqPub(t *testing.T, b *Broker, args ...string) {
	t.Helper()
	tool := mosquittoTool(t, "mosquitto_pub")
	h, p := hostPort(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, append([]string{"-h", h, "-p", p, "-V", "mqttv311"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatal(err, "mosquitto_pub:", string(out))
	}
}

// waitSubscribed waits until the broker holds n subscriptions.
func waitSubscribed(t *testing.T, b *Broker, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.subCount.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions: %d, want %d", b.subCount.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestInteropMosquittoQoS sends QoS 0/1/2 from mosquitto_pub to
// mosquitto_sub [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.3-1].
func TestInteropMosquittoQoS(t *testing.T) {
	b := startBroker(t, nil)
	for q := 0; q <= 2; q++ {
		t.Run("qos="+strconv.Itoa(q), func(t *testing.T) {
			topic := fmt.Sprintf("mq/%d", q)
			for b.subCount.Load() != 0 { // the previous mosquitto_sub is gone
				time.Sleep(5 * time.Millisecond)
			}
			before := int64(0)
			wait := mosqSub(t, b, "-t", topic, "-q", strconv.Itoa(q), "-C", "3", "-v")
			waitSubscribed(t, b, before+1)
			for i := 0; i < 3; i++ {
				mosqPub(t, b, "-t", topic, "-q", strconv.Itoa(q), "-m", fmt.Sprint("m", i))
			}
			lines := wait()
			if len(lines) != 3 {
				t.Fatalf("got %v, want %v", len(lines), 3)
			}
			for i, l := range lines {
				if want := fmt.Sprintf("%s m%d", topic, i); l != want {
					t.Fatalf("got %v, want %v", l, want)
				}
			}
		})
	}
}

// TestInteropMosquittoRetained sets and clears a retained message with
// mosquitto_pub -r and reads it with mosquitto_sub --retained-only
// [MQTT-3.3.1-5] [MQTT-3.3.1-10].
func TestInteropMosquittoRetained(t *testing.T) {
	b := startBroker(t, nil)
	mosqPub(t, b, "-t", "mr/a", "-r", "-q", "1", "-m", "kept")
	lines := mosqSub(t, b, "-t", "mr/#", "-C", "1", "-v", "--retained-only")()
	if len(lines) != 1 {
		t.Fatalf("got %v, want %v", len(lines), 1)
	}
	if lines[0] != "mr/a kept" {
		t.Fatalf("got %v, want %v", lines[0], "mr/a kept")
	}
	mosqPub(t, b, "-t", "mr/a", "-r", "-n", "-q", "1")
	lines = mosqSub(t, b, "-t", "mr/#", "-v", "--retained-only", "-W", "1")()
	if len(lines) != 0 {
		t.Fatalf("cleared: got %v, want %v", len(lines), 0)
	}
}

// TestInteropMosquittoWill checks a mosquitto_sub killed abruptly has its
// will published [MQTT-3.1.2-8].
func TestInteropMosquittoWill(t *testing.T) {
	b := startBroker(t, nil)
	tool := mosquittoTool(t, "mosquitto_sub")
	wait := mosqSub(t, b, "-t", "mw/will", "-C", "1", "-v")
	waitSubscribed(t, b, 1)
	h, p := hostPort(t, b)
	victim := exec.Command(tool, "-h", h, "-p", p, "-t", "mw/x", "--will-topic", "mw/will",
		"--will-payload", "bye", "-i", "victim")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, b, 2)
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	lines := wait()
	if len(lines) != 1 {
		t.Fatalf("got %v, want %v", len(lines), 1)
	}
	if lines[0] != "mw/will bye" {
		t.Fatalf("got %v, want %v", lines[0], "mw/will bye")
	}
}

// TestInteropMosquittoPersistent resumes a clean-session-0 mosquitto_sub
// (-c) and gets the QoS 1 messages queued while it was away
// [MQTT-3.1.2-5].
func TestInteropMosquittoPersistent(t *testing.T) {
	b := startBroker(t, nil)
	mosqSub(t, b, "-t", "mp/#", "-q", "1", "-c", "-i", "mpers", "-W", "1")() // subscribe, then leave
	for i := 0; i < 3; i++ {
		mosqPub(t, b, "-t", "mp/q", "-q", "1", "-m", fmt.Sprint(i))
	}
	lines := mosqSub(t, b, "-t", "mp/#", "-q", "1", "-c", "-i", "mpers", "-C", "3")()
	if got := strings.Join(lines, ","); got != "0,1,2" {
		t.Fatalf("got %v, want %v", got, "0,1,2")
	}
}

// TestInteropMosquittoSysAndWildcards checks $SYS is reachable by name and
// not through '#' [MQTT-4.7.2-1]. The interval is an hour: the first (retained)
// publication must still come right after start-up, as with Mosquitto.
func TestInteropMosquittoSysAndWildcards(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.SysInterval = time.Hour })
	lines := mosqSub(t, b, "-t", "$SYS/broker/version", "-C", "1", "-W", "5")()
	if len(lines) == 0 {
		t.Fatal("no $SYS/broker/version within 5 s of start-up")
	}
	if lines[0] != ("gust " + Version) {
		t.Fatalf("got %v, want %v", lines[0], "gust "+Version)
	}
	lines = mosqSub(t, b, "-t", "#", "-W", "1")()
	if len(lines) != 0 {
		t.Fatalf("got %v, want %v", len(lines), 0)
	}
}

// TestInteropMosquittoPasswordFile: mosquitto_pub logs in with a user name
// and password checked against the password file, and is refused with a
// wrong one.
func TestInteropMosquittoPasswordFile(t *testing.T) {
	tool := mosquittoTool(t, "mosquitto_pub")
	b := startAuthBroker(t, func(c *Config) { c.AllowAnonymous = false })
	mosqPub(t, b, "-u", "alice", "-P", "s3cret", "-t", "pw/m", "-m", "x", "-q", "1")
	h, p := hostPort(t, b)
	for _, args := range [][]string{
		{"-u", "alice", "-P", "wrong"},
		{}, // anonymous
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		out, err := exec.CommandContext(ctx, tool, append([]string{"-h", h, "-p", p, "-V", "mqttv311",
			"-t", "pw/m", "-m", "x"}, args...)...).CombinedOutput()
		cancel()
		if err == nil {
			t.Fatal("mosquitto_pub", args, "accepted:", string(out))
		}
	}
}
