package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/loadgen/client"
)

// binDir holds the gust binary the tests build once (see gustBinary).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gust-cmd-test")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// gustBinary builds this command once per test run and returns its path.
func gustBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "gust")
	buildOnce.Do(func() {
		buildOut, buildErr = exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build: %v\n%s", buildErr, buildOut)
	}
	return bin
}

// result is the outcome of one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// runGust runs the built binary with args (and stdin, if not empty),
// bounded by 30 s.
func runGust(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gustBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != "" {
		cmd.Stdin = bytes.NewBufferString(stdin)
	}
	err := cmd.Run()
	return result{code: exitCode(err), stdout: out.String(), stderr: errOut.String()}
}

// startBroker runs Gust in-process on a free loopback port with cfg's
// settings (Listen is overridden) and returns its host:port.
func startBroker(t *testing.T, edit func(*engine.Config)) string {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.LogLevel, cfg.SysInterval = "error", 0
	if edit != nil {
		edit(&cfg)
	}
	cfg.Listen = "127.0.0.1:0"
	b, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	return b.Addr().String()
}

const mosquittoBin = "/usr/sbin/mosquitto"

// startMosquitto runs Debian's mosquitto on a free loopback port with a
// temporary configuration and returns its host:port; it skips when
// mosquitto is missing, unless CI=true.
func startMosquitto(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(mosquittoBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto missing at %s", mosquittoBin)
		}
		t.Skip("mosquitto not installed")
	}
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	body := "listener " + strconv.Itoa(port) + " 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mosquittoBin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	waitFor(t, "mosquitto listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return addr
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// cliBroker is a broker the client commands are tested against.
type cliBroker struct {
	name, addr string
}

// cliBrokers returns Gust (in-process) and, when installed, Mosquitto (a
// failure when missing and CI=true).
func cliBrokers(t *testing.T) []cliBroker {
	t.Helper()
	bs := []cliBroker{{name: "gust", addr: startBroker(t, nil)}}
	if _, err := os.Stat(mosquittoBin); err != nil && os.Getenv("CI") != "true" {
		t.Log("mosquitto not installed: Gust only")
		return bs
	}
	return append(bs, cliBroker{name: "mosquitto", addr: startMosquitto(t)})
}

// hostPort splits addr for -h and -p.
func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// subscriber connects a library client to addr subscribed to filter at
// QoS 2, closed at cleanup.
func subscriber(t *testing.T, addr string, v codec.Version, filter string) *client.Client {
	t.Helper()
	o := client.DefaultOptions(addr)
	o.Version, o.ClientID = v, "test-sub-"+strconv.Itoa(freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.Subscribe(ctx, []codec.Subscription{{Filter: []byte(filter), QoS: 2}}, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// publish sends one message from a library client.
func publish(t *testing.T, addr string, v codec.Version, m *client.Message) {
	t.Helper()
	o := client.DefaultOptions(addr)
	o.Version = v
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
}

// receive waits up to 5 s for the next message of c.
func receive(t *testing.T, c *client.Client) *client.Message {
	t.Helper()
	select {
	case m, ok := <-c.Messages():
		if !ok {
			t.Fatalf("subscriber connection ended: %v", c.Err())
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
	}
	return nil
}
