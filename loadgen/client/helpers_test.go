package client

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/engine"
)

const mosquittoBin = "/usr/sbin/mosquitto"

// broker is a broker under test: its name and address.
type broker struct {
	name string
	addr string
}

// brokers starts Gust in-process and Mosquitto (skipped when missing,
// unless CI=true) and returns both.
func brokers(t *testing.T) []broker {
	t.Helper()
	bs := []broker{{name: "gust", addr: startGust(t)}}
	if addr := startMosquitto(t); addr != "" {
		bs = append(bs, broker{name: "mosquitto", addr: addr})
	}
	return bs
}

// gustConfig is the in-process broker's configuration.
type gustConfig = engine.Config

// startGust runs the Gust broker in-process on a free loopback port.
func startGust(t *testing.T) string {
	t.Helper()
	return startGustWith(t, nil)
}

// startGustWith is startGust with settings changed by edit.
func startGustWith(t *testing.T, edit func(*gustConfig)) string {
	t.Helper()
	cfg := engine.DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	cfg.Listen, cfg.LogLevel, cfg.SysInterval = "127.0.0.1:0", "error", 0
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

// startMosquitto runs Debian's mosquitto on a free loopback port and
// returns its address; "" when it is missing (a failure when CI=true).
func startMosquitto(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(mosquittoBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto missing at %s", mosquittoBin)
		}
		t.Log("mosquitto not installed: Gust only")
		return ""
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
	for range 250 {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("mosquitto did not listen on %s", addr)
	return ""
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

// dial connects with opts, failing the test on error, and closes at cleanup.
func dial(t *testing.T, opts Options) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", opts.Addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

// next waits up to 5 s for a message on c.
func next(t *testing.T, c *Client) *Message {
	t.Helper()
	select {
	case m, ok := <-c.Messages():
		if !ok {
			t.Fatalf("connection ended: %v", c.Err())
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5 s")
	}
	return nil
}
