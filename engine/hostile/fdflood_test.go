package hostile

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// The descriptor flood: far more TCP connections than the broker has
// descriptors for, opened as fast as possible and held. The broker must
// stay up, keep serving the clients it has (the probe's round trips go on
// throughout), refuse the excess (counted in $SYS, with a log line saying
// why) and serve a new client within a second once the flood leaves.
//
// By default the broker runs under a 1,000-descriptor limit and the flood
// is 1,500 connections. GUST_HOSTILE_FULL=1 runs it at the scale of the
// machine's own limit (RLIMIT_NOFILE of the test, 20,000 on the reference
// VM), which takes longer: the flood opens as many connections as the test
// process can (its limit less 100), so that it exceeds the broker's the
// broker is given 400 descriptors fewer.

// floodSize returns the broker's descriptor limit and the number of flood
// connections.
func floodSize(t *testing.T) (nofile uint64, conns int) {
	if os.Getenv("GUST_HOSTILE_FULL") == "" {
		return 1000, 1500
	}
	n := openFileLimit(t)
	return n - 400, int(n) - 100
}

// openFileLimit is this process's soft RLIMIT_NOFILE.
func openFileLimit(t *testing.T) uint64 {
	out, err := exec.Command("prlimit", "--pid", strconv.Itoa(os.Getpid()), "--nofile", "--noheadings", "--output=SOFT").Output()
	if err != nil {
		t.Skip("prlimit:", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Skip("prlimit output:", string(out))
	}
	return n
}

func TestFDFlood(t *testing.T) {
	nofile, conns := floodSize(t)
	cases := []struct {
		name  string
		flags []string
		why   string // in the log line that explains the refusals
	}{
		{name: "derived-max-connections", why: "max_connections reached"},
		{name: "max-connections-500", flags: []string{"--max-connections", "500"}, why: "max_connections reached"},
		{name: "no-cap", flags: []string{"--max-connections", "-1"}, why: "too many open files"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flags := append([]string{"--sys-interval", "500ms"}, tc.flags...)
			b := startBroker(t, brokerOpts{Flags: flags, NoFile: nofile})
			if tc.flags == nil && !b.WaitLog("max_connections derived from the descriptor limit", 5*time.Second) {
				t.Fatal("no start-up line for the derived max_connections")
			}
			res := flood(t, b, conns)
			t.Logf("gust %s: %v", tc.name, res)
			switch {
			case !res.alive:
				t.Fatalf("broker died:\n%s", tail(b.Log(), 4000))
			case res.refused <= 0:
				t.Fatalf("$SYS refused counter did not grow: %d", res.refused)
			case !strings.Contains(b.Log(), tc.why):
				t.Fatalf("no log line saying %q", tc.why)
			case res.probeDuring == 0 || res.probeGap >= 2*time.Second:
				t.Fatalf("probe starved during the flood: %d round trips, longest gap %v", res.probeDuring, res.probeGap)
			case res.probe.Errors > 0:
				t.Fatalf("probe errors: %v", res.probe)
			case res.reconnect == 0 || res.reconnect > time.Second:
				t.Fatalf("no new client served within 1 s of the flood's end (%v)", res.reconnect)
			}
		})
	}
	if peerWanted() {
		t.Run("mosquitto", func(t *testing.T) {
			m := startMosquittoNoFile(t, nofile)
			t.Logf("mosquitto: %v", flood(t, m, conns))
		})
	}
}

// startMosquittoNoFile is startMosquitto under a descriptor limit, which
// has to be set before it starts: it drops its privileges, after which
// prlimit may not change it.
func startMosquittoNoFile(t *testing.T, nofile uint64) *broker {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/mosquitto"); err != nil {
			t.Skip("mosquitto not installed")
		}
	}
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	lines := "listener " + strconv.Itoa(port) + " 127.0.0.1\nallow_anonymous true\npersistence false\n" +
		"log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
	if err := os.WriteFile(conf, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	m := launch(t, "mosquitto", []string{bin, "-c", conf}, nofile)
	m.Addr = "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", m.Addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return m
		}
		if !m.Alive() || time.Now().After(deadline) {
			t.Fatalf("mosquitto did not start:\n%s", m.Log())
		}
	}
}

// floodResult is what one flood did to a broker.
type floodResult struct {
	opened      int           // flood connections the kernel completed
	servedOpen  int           // of those, still open after the hold
	refused     int64         // $SYS/broker/connections/refused at the end (-1: none seen)
	alive       bool          // the process survived
	probeDuring int           // probe round trips completed during the flood
	probeGap    time.Duration // longest time without a round trip during the flood
	reconnect   time.Duration // time from the flood's end to a served CONNECT (0: none within 5 s)
	fdsPeak     int
	rssStart    int64
	rssPeak     int64
	cpu         time.Duration // broker CPU during the flood
	probe       probeStats
}

func (r floodResult) String() string {
	return fmt.Sprintf("flood opened %d (open after hold %d), refused %d, alive %v, probe %d round trips during (longest gap %v), "+
		"reconnect after %v, fds peak %d, rss %s -> %s, cpu %v; probe %v",
		r.opened, r.servedOpen, r.refused, r.alive, r.probeDuring, r.probeGap, r.reconnect, r.fdsPeak,
		mib(r.rssStart), mib(r.rssPeak), r.cpu, r.probe)
}

// flood opens n connections to b as fast as 64 dialers can, holds them for
// two seconds while a probe keeps its round trips, closes them and times
// the first CONNECT served afterwards.
func flood(t *testing.T, b *broker, n int) floodResult {
	var res floodResult
	p := startProbe(t, b.Addr)
	sys := fdWatchRefused(t, b.Addr)
	for deadline := time.Now().Add(5 * time.Second); p.Received() < 5 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	rss := sampleRSS(b)
	cpu0 := b.CPU()
	before := p.Received()

	// The probe's longest gap between round trips while the flood lasts.
	var gap atomic.Int64
	stopGap := make(chan struct{})
	gapDone := make(chan struct{})
	go func() {
		defer close(gapDone)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopGap:
				return
			case <-tk.C:
			}
			if g := int64(p.SinceLast()); g > gap.Load() {
				gap.Store(g)
			}
		}
	}()

	var (
		mu     sync.Mutex
		opened []net.Conn
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				c, err := net.DialTimeout("tcp", b.Addr, 5*time.Second)
				if err != nil {
					continue
				}
				mu.Lock()
				opened = append(opened, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.opened = len(opened)
	hold := time.Now().Add(2 * time.Second)
	for time.Now().Before(hold) {
		if fds := b.FDs(); fds > res.fdsPeak {
			res.fdsPeak = fds
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range opened { // the ones the broker closed read EOF at once
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); fdTimedOut(err) {
			res.servedOpen++
		}
	}
	res.alive = b.Alive()
	close(stopGap)
	<-gapDone
	res.probeDuring = p.Received() - before
	res.probeGap = time.Duration(gap.Load())
	res.cpu = b.CPU() - cpu0

	for _, c := range opened {
		_ = c.Close()
	}
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		if fdConnectWithin(b.Addr, "after-flood", 500*time.Millisecond) {
			res.reconnect = time.Since(start)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.rssStart, res.rssPeak = rss.Stop()
	time.Sleep(700 * time.Millisecond) // one more $SYS publication
	res.refused = sys.Load()
	res.probe = p.Stop()
	return res
}

// fdConnectWithin dials addr, sends CONNECT and reports whether a successful
// CONNACK came back within timeout.
func fdConnectWithin(addr, id string, timeout time.Duration) bool {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := c.Write(connectPacket(id, false)); err != nil {
		return false
	}
	pkt, err := readPacketErr(c, timeout)
	if err != nil {
		return false
	}
	var ack codec.Connack
	_, err = codec.DecodeConnack(pkt, codec.V311, &ack)
	return err == nil && ack.ReasonCode == 0
}

func fdTimedOut(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// fdWatchRefused subscribes to $SYS/broker/connections/refused and returns
// the latest value seen (-1 until one is).
func fdWatchRefused(t *testing.T, addr string) *atomic.Int64 {
	var v atomic.Int64
	v.Store(-1)
	c := rawConnect(t, addr, fmt.Sprintf("sys-%d", os.Getpid()), false)
	sub := codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte("$SYS/broker/connections/refused")}}})
	if _, err := c.Write(sub); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	go func() {
		for {
			pkt, err := readPacketErr(c, time.Hour)
			if err != nil {
				return
			}
			if codec.Type(pkt[0]>>4) != codec.TypePublish {
				continue
			}
			var p codec.Publish
			if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil {
				continue
			}
			if n, err := strconv.ParseInt(string(p.Payload), 10, 64); err == nil {
				v.Store(n)
			}
		}
	}()
	return &v
}
