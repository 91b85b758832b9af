package loadgen

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const mosquittoBin = "/usr/sbin/mosquitto"

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

// startMosquitto runs Debian's mosquitto on a free loopback port with
// unbounded queues and returns its address. It skips when mosquitto is
// missing, unless CI=true.
func startMosquitto(t *testing.T) string {
	t.Helper()
	return startMosquittoListener(t, "")
}

// startMosquittoListener is startMosquitto with extra lines in the
// listener's block (such as "protocol websockets").
func startMosquittoListener(t *testing.T, extra string) string {
	t.Helper()
	if _, err := os.Stat(mosquittoBin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto missing at %s", mosquittoBin)
		}
		t.Skip("mosquitto not installed")
	}
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	body := "listener " + strconv.Itoa(port) + " 127.0.0.1\n" + extra + "allow_anonymous true\n" +
		"max_queued_messages 0\nmax_inflight_messages 0\npersistence false\nlog_dest none\n"
	if extra != "" {
		// Mosquitto 2.0.11 exits when its only listener is a websockets
		// one ("Unable to start any listening sockets"): add a plain one.
		body = "listener " + strconv.Itoa(freePort(t)) + " 127.0.0.1\n" + body
	}
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mosquittoBin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("mosquitto did not listen on %s", addr)
	return ""
}
