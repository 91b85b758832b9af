package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// servedGust is a `gust serve` process with its HTTP listener.
type servedGust struct {
	mqtt, http string // host:port, base URL
	cmd        *exec.Cmd
	stderr     *syncBuf
}

// syncBuf is a bytes.Buffer safe for a process's writes and the test's
// reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveGust runs the built binary's serve on free loopback ports with
// --http-listen and args, waits for /readyz, and stops it with SIGTERM at
// the end of the test.
func serveGust(t *testing.T, args ...string) *servedGust {
	t.Helper()
	g := &servedGust{mqtt: fmt.Sprintf("127.0.0.1:%d", freePort(t)), stderr: new(syncBuf)}
	hp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	g.http = "http://" + hp
	all := append([]string{"serve", "--listen", g.mqtt, "--http-listen", hp, "--store", "memory", "--loops", "2",
		"--sys-interval", "0"}, args...)
	g.cmd = exec.Command(gustBinary(t), all...)
	g.cmd.Stderr = g.stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = g.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("gust serve stderr:\n%s", g.stderr.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _, err := httpGet(g.http + "/readyz"); err == nil && code == http.StatusOK {
			return g
		}
		select {
		case <-exited:
			t.Fatalf("gust serve exited: %s", g.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gust serve not ready: %s", g.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 20 * time.Second}

func httpGet(u string) (int, string, error) {
	resp, err := httpClient.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// promScrape fetches /metrics and parses it with the Prometheus text
// parser.
func promScrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body, err := httpGet(base + "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("/metrics: %d %v", code, err)
	}
	var p expfmt.TextParser
	mf, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return mf
}

// promValue is the value of name with label (a name, value pair or
// nothing); -1 when absent.
func promValue(mf map[string]*dto.MetricFamily, name string, label ...string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
	for _, m := range f.Metric {
		if len(label) == 2 {
			ok := false
			for _, lp := range m.Label {
				ok = ok || lp.GetName() == label[0] && lp.GetValue() == label[1]
			}
			if !ok {
				continue
			}
		}
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	return -1
}

// loadResult is the part of `gust load -json`'s result the tests read.
type loadResult struct {
	Type      string `json:"type"`
	Sent      int    `json:"sent"`
	Acked     int    `json:"acked"`
	Delivered int    `json:"delivered"`
	Connected int    `json:"connected"`
	Lost      int    `json:"lost"`
}

// TestServeMetricsUnderLoad scrapes a real `gust serve` while `gust load`
// publishes: /healthz answers, the counters only grow and pass through
// values between start and end, and at the end they equal what the load
// generator sent and received.
func TestServeMetricsUnderLoad(t *testing.T) {
	g := serveGust(t)
	const pubs, subs, count = 4, 2, 4000
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	load := exec.CommandContext(ctx, gustBinary(t), "load", "-addr", g.mqtt, "-pubs", strconv.Itoa(pubs), "-subs", strconv.Itoa(subs),
		"-qos", "1", "-count", strconv.Itoa(count), "-rate", "4000", "-json", "-quiet")
	var out bytes.Buffer
	load.Stdout = &out
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	loadDone := make(chan error, 1)
	go func() { loadDone <- load.Wait() }()

	var last float64
	between, scrapes := false, 0
	for running := true; running; {
		select {
		case err := <-loadDone:
			if err != nil {
				t.Fatalf("gust load: %v\n%s", err, out.String())
			}
			running = false
		case <-time.After(50 * time.Millisecond):
		}
		if code, _, err := httpGet(g.http + "/healthz"); err != nil || code != http.StatusOK {
			t.Fatalf("/healthz during load: %d %v", code, err)
		}
		mf := promScrape(t, g.http)
		scrapes++
		v := promValue(mf, "gust_publish_received_total", "qos", "1")
		if v < last {
			t.Fatalf("publish_received_total went back from %v to %v", last, v)
		}
		last = v
		between = between || (v > 0 && v < pubs*count)
	}
	var res loadResult
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || res.Type != "result" {
		t.Fatalf("load result: %v %s", err, lines[len(lines)-1])
	}
	if res.Sent != pubs*count || res.Delivered != pubs*count*subs || res.Lost != 0 {
		t.Fatalf("load: %+v", res)
	}
	if !between {
		t.Errorf("no scrape of %d saw the counter between 0 and %d", scrapes, pubs*count)
	}
	mf := promScrape(t, g.http)
	want := []struct {
		name, lk, lv string
		v            float64
	}{
		{name: "gust_publish_received_total", lk: "qos", lv: "1", v: float64(res.Sent)},
		{name: "gust_publish_sent_total", lk: "qos", lv: "1", v: float64(res.Delivered)},
		{name: "gust_packets_received_total", lk: "type", lv: "puback", v: float64(res.Delivered)},
		{name: "gust_packets_received_total", lk: "type", lv: "connect", v: pubs + subs},
		{name: "gust_publish_dropped_total", lk: "reason", lv: "other", v: 0},
		{name: "gust_connections_total", v: pubs + subs},
		{name: "gust_connections_maximum", v: pubs + subs},
	}
	for _, w := range want {
		var got float64
		if w.lk != "" {
			got = promValue(mf, w.name, w.lk, w.lv)
		} else {
			got = promValue(mf, w.name)
		}
		if got != w.v {
			t.Errorf("%s{%s=%q} = %v, want %v", w.name, w.lk, w.lv, got, w.v)
		}
	}
	t.Logf("%d scrapes during the load", scrapes)
}

// TestServeClientsPaging pages through 20,000 connected clients of a real
// `gust serve` with the admin API: every client once, in id order, while
// /healthz keeps answering. Each of the two processes needs a descriptor
// per client: the test raises its limit, which they inherit; where the
// hard limit cannot be raised (no CAP_SYS_RESOURCE) it pages over as many
// as fit under it, at least 15,000 (TestClientsPaging20k in engine covers
// 20,000 without sockets).
func TestServeClientsPaging(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const want, spare, least = 20000, 1500, 15000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	old := lim
	lim.Cur, lim.Max = max(lim.Max, want+spare), max(lim.Max, want+spare)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		lim.Cur, lim.Max = old.Max, old.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	n := min(want, int(lim.Cur)-spare)
	n -= n % 1000
	if n < least {
		if os.Getenv("CI") == "true" {
			t.Fatalf("descriptor limit %d: fewer than %d clients fit", lim.Cur, least)
		}
		t.Skipf("descriptor limit %d: fewer than %d clients fit", lim.Cur, least)
	}
	if n < want {
		t.Logf("descriptor limit %d: paging over %d clients", lim.Cur, n)
	}
	g := serveGust(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	load := exec.CommandContext(ctx, gustBinary(t), "load", "-addr", g.mqtt, "-mode", "conn", "-conns", strconv.Itoa(n),
		"-connect-rate", "10000", "-duration", "60s", "-client-prefix", "page", "-quiet")
	var loadErr bytes.Buffer
	load.Stderr = &loadErr
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = load.Process.Signal(syscall.SIGTERM); _ = load.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for promValue(promScrape(t, g.http), "gust_connections") < float64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%v connected after 60 s; load: %s", promValue(promScrape(t, g.http), "gust_connections"), loadErr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	stop := make(chan struct{})
	var healthMax time.Duration
	var healthFail error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			if code, _, err := httpGet(g.http + "/healthz"); err != nil || code != http.StatusOK {
				healthFail = fmt.Errorf("/healthz: %d %v", code, err)
				return
			}
			healthMax = max(healthMax, time.Since(start))
		}
	}()
	seen := make(map[string]bool, n)
	prev, after := "", ""
	pages := 0
	var slowest time.Duration
	for {
		start := time.Now()
		code, body, err := httpGet(g.http + "/api/v1/clients?limit=1000&prefix=page&after=" + url.QueryEscape(after))
		slowest = max(slowest, time.Since(start))
		if err != nil || code != http.StatusOK {
			t.Fatalf("page %d: %d %v %s", pages, code, err, body)
		}
		var p struct {
			Clients []struct{ ID string } `json:"clients"`
			Next    string                `json:"next"`
			Matched int                   `json:"matched"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		if p.Matched != n {
			t.Fatalf("page %d: matched %d, want %d", pages, p.Matched, n)
		}
		for _, c := range p.Clients {
			if seen[c.ID] || c.ID <= prev {
				t.Fatalf("page %d: %q repeated or out of order after %q", pages, c.ID, prev)
			}
			seen[c.ID], prev = true, c.ID
		}
		pages++
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	close(stop)
	wg.Wait()
	if healthFail != nil {
		t.Fatal(healthFail)
	}
	if len(seen) != n || pages != n/1000 {
		t.Fatalf("%d clients in %d pages, want %d in %d", len(seen), pages, n, n/1000)
	}
	t.Logf("%d pages of 1000 over %d clients: slowest page %v, slowest /healthz meanwhile %v", pages, n, slowest, healthMax)
}
