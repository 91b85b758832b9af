package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
)

// idleRSSConns is how many idle connections TestServeIdleConnRSS holds.
const idleRSSConns = 10000

// idleRSSHold is how long the idle connections are held before VmRSS is
// read: past the broker's idle trim (trim_idle, 5 s by default), as the
// bench harness's conn scenario reads it.
const idleRSSHold = 8 * time.Second

// TestServeIdleConnRSS measures the resident memory per idle connection of
// `gust serve` directly: VmRSS of the process, after a warm-up of 1,000
// connections opened and closed, before and while 10,000 idle MQTT 3.1.1
// connections are held, divided by the connections; Mosquitto, when
// installed, is measured the same way. With the io_uring backend
// (GUST_IO=io_uring) the target is at most 512 B and at least 25% under
// Mosquitto; with epoll (gnet, whose connection alone is about 280 B) no
// more than Mosquitto.
func TestServeIdleConnRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("holds 10,000 connections for about 20 s")
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < idleRSSConns+200 {
		t.Skipf("descriptor limit %d below %d", lim.Cur, idleRSSConns+200)
	}
	backend := os.Getenv("GUST_IO")
	if backend == "" {
		backend = "epoll"
	}
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	gust := exec.Command(gustBinary(t), "serve", "--listen", addr, "--store", "memory", "--log-level", "warn",
		"--loops", "1", "--io", backend)
	gustPer := idleRSSPerConn(t, gust, addr)
	t.Logf("gust (%s): %.0f B per idle connection", backend, gustPer)
	mosqPer := 0.0
	if _, err := os.Stat(mosquittoBin); err == nil {
		port := freePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		conf := filepath.Join(t.TempDir(), "mosquitto.conf")
		body := "listener " + strconv.Itoa(port) + " 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_connections -1\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		mosqPer = idleRSSPerConn(t, exec.Command(mosquittoBin, "-c", conf), addr)
		t.Logf("mosquitto: %.0f B per idle connection", mosqPer)
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("mosquitto missing at %s", mosquittoBin)
	}
	switch {
	case backend == "io_uring" && gustPer > 512:
		t.Fatalf("gust (io_uring) holds %.0f B per idle connection, target at most 512 B", gustPer)
	case backend == "io_uring" && mosqPer > 0 && gustPer > 0.75*mosqPer:
		t.Fatalf("gust (io_uring) holds %.0f B per idle connection, Mosquitto %.0f B: target at least 25%% under", gustPer, mosqPer)
	case mosqPer > 0 && gustPer > mosqPer:
		t.Fatalf("gust (%s) holds %.0f B per idle connection, more than Mosquitto's %.0f B", backend, gustPer, mosqPer)
	}
}

// idleRSSPerConn starts cmd (a broker listening on addr), warms it up,
// and returns (VmRSS holding idleRSSConns idle connections - VmRSS
// before) / idleRSSConns. The broker is stopped before it returns.
func idleRSSPerConn(t *testing.T, cmd *exec.Cmd, addr string) float64 {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitFor(t, "broker listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	warm := openIdle(t, addr, 1000, "warm")
	for _, c := range warm {
		_ = c.Close()
	}
	time.Sleep(time.Second)
	before := vmRSS(t, cmd.Process.Pid)
	conns := openIdle(t, addr, idleRSSConns, "idle")
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	time.Sleep(idleRSSHold)
	after := vmRSS(t, cmd.Process.Pid)
	return float64(after-before) / idleRSSConns
}

// openIdle opens n MQTT 3.1.1 connections to addr (64 at a time, a storm as fast as a client makes one), each
// CONNECTed with a distinct client id and a 10-minute keep alive, and
// returns them once every CONNACK has been read.
func openIdle(t *testing.T, addr string, n int, prefix string) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 64 {
				c, err := dialIdle(addr, fmt.Sprintf("%s-%06d", prefix, i))
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
		t.Fatal(err)
	}
	return conns
}

func dialIdle(addr, id string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	pkt := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
		CleanStart: true, KeepAlive: 600, ClientID: []byte(id)})
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var ack [4]byte
	_, err = c.Write(pkt)
	if err == nil {
		_, err = io.ReadFull(c, ack[:])
	}
	if err == nil && (ack[0] != 0x20 || ack[3] != 0) {
		err = fmt.Errorf("CONNACK % x", ack)
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// vmRSS returns the VmRSS of pid in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal(errors.New("no VmRSS in /proc status"))
	return 0
}
