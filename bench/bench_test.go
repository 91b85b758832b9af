package bench

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/loadgen"
)

// TestMain lets the test binary play the HTTP baseline and the floor
// processes the harness starts as `<exe> --serve-http ADDR` and
// `<exe> --serve-floor ADDR`.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "--serve-http" {
		if err := ServeHTTPBaseline(context.Background(), os.Args[2]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if len(os.Args) == 3 && os.Args[1] == "--serve-floor" {
		ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM)
		defer stop()
		if err := ServeFloor(ctx, os.Args[2]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func needMosquitto(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(MosquittoPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mosquitto missing at %s", MosquittoPath)
		}
		t.Skip("mosquitto not installed")
	}
}

// TestHarnessTiny runs a tiny fanin against Mosquitto and the HTTP
// baseline and checks the results directory and its formats.
func TestHarnessTiny(t *testing.T) {
	needMosquitto(t)
	out := t.TempDir()
	cfg := Config{
		Scenarios:  []string{"fanin"},
		Size:       Quick,
		QoS:        []byte{0, 1},
		Targets:    []Target{{Name: KindMosquitto, Kind: KindMosquitto}, {Name: KindHTTP, Kind: KindHTTP}},
		Reps:       2,
		ResultsDir: out,
		Label:      "tiny",
		Plots:      true,
		Tune: func(c *loadgen.Config) {
			c.Publishers, c.Count, c.Duration, c.Drain = 2, 300, 5*time.Second, 3*time.Second
		},
	}
	dir, records, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// mosquitto: 2 QoS x 2 reps; http: QoS 0 only x 2 reps.
	if len(records) != 6 {
		t.Fatalf("%d records, want 6", len(records))
	}
	for _, r := range records {
		if r.Error != "" || r.Result == nil || r.Broker == nil {
			t.Fatalf("record %+v failed", r)
		}
		if r.Result.Sent != 600 || r.Result.Delivered != 600 || r.Result.Lost != 0 {
			t.Fatalf("%s qos%d: sent %d delivered %d lost %d, want 600/600/0",
				r.Target, r.QoS, r.Result.Sent, r.Result.Delivered, r.Result.Lost)
		}
	}
	for _, f := range []string{"env.txt", "raw.jsonl", "summary.md", "fanin-qos0-throughput.svg", "fanin-qos1-latency.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("missing %s: %v", f, err)
		}
	}
	checkRaw(t, filepath.Join(dir, "raw.jsonl"), 6)
	sum, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	for _, want := range []string{"## fanin, QoS 0", "## fanin, QoS 1", "| mosquitto |", "| http |", "delivered msg/s", "stolen CPU-s"} {
		if !strings.Contains(string(sum), want) {
			t.Fatalf("summary.md lacks %q:\n%s", want, sum)
		}
	}
	idx, _ := os.ReadFile(filepath.Join(out, "README.md"))
	if !strings.Contains(string(idx), filepath.Base(dir)+"/summary.md") {
		t.Fatalf("README.md does not index %s:\n%s", filepath.Base(dir), idx)
	}
	env, _ := os.ReadFile(filepath.Join(dir, "env.txt"))
	for _, want := range []string{"kernel:", "go:", "gomaxprocs:", "commit:", "target mosquitto:"} {
		if !strings.Contains(string(env), want) {
			t.Fatalf("env.txt lacks %q:\n%s", want, env)
		}
	}
}

// checkRaw checks raw.jsonl holds n JSON records that round-trip.
func checkRaw(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != n {
		t.Fatalf("raw.jsonl has %d lines, want %d", len(lines), n)
	}
	for _, l := range lines {
		var r Record
		if err := json.Unmarshal([]byte(l), &r); err != nil || r.Scenario != "fanin" || r.Result == nil || r.Result.Type != "result" {
			t.Fatalf("bad raw line %q: %v", l, err)
		}
	}
}

// TestHTTPBaselineCounts drives the in-process HTTP baseline and checks
// every publish reaches every subscriber.
func TestHTTPBaselineCounts(t *testing.T) {
	srv := httptest.NewServer(NewHTTPBroker())
	t.Cleanup(srv.Close)
	cfg := loadgen.DefaultConfig()
	cfg.Addr = strings.TrimPrefix(srv.URL, "http://")
	cfg.Publishers, cfg.Subscribers, cfg.Count = 2, 2, 100
	cfg.Duration, cfg.Drain = 5*time.Second, 2*time.Second
	for _, keep := range []bool{true, false} {
		res, err := loadgen.RunHTTP(context.Background(), cfg, keep)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 200 || res.Expected != 400 || res.Delivered != 400 || res.Lost != 0 || res.BytesOut == 0 {
			t.Fatalf("keepalive=%v: sent %d expected %d delivered %d lost %d bytes %d",
				keep, res.Sent, res.Expected, res.Delivered, res.Lost, res.BytesOut)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	p, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.RSSBytes <= 0 {
		t.Fatalf("RSS %d, want > 0", p.RSSBytes)
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in      string
		kind    string
		wantErr bool
	}{
		{in: "gust", kind: KindGust},
		{in: "mosquitto", kind: KindMosquitto},
		{in: "emqx=127.0.0.1:1883", kind: KindAddr},
		{in: "emqx=nohost", wantErr: true},
		{in: "gust1=gust:--loops 1", kind: KindGust},
		{in: NameGustDisk, kind: KindGust},
		{in: NameMosquittoPersist, kind: KindMosquitto},
		{in: "nats", kind: KindNATS},
		{in: "floor", kind: KindFloor},
		{in: "rabbit", wantErr: true},
		{in: "old=gust-bin:/tmp/gust-old --loops 1", kind: KindGust},
		{in: "old=gust-bin:", wantErr: true},
	} {
		got, err := ParseTarget(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && got.Kind != tc.kind) {
			t.Errorf("ParseTarget(%q) = %+v, %v", tc.in, got, err)
		}
	}
	if g, _ := ParseTarget("gust1=gust:--loops 1"); g.Name != "gust1" || len(g.Args) != 2 || g.Args[1] != "1" {
		t.Errorf("gust with flags: %+v", g)
	}
	if g, _ := ParseTarget("old=gust-bin:/tmp/gust-old --loops 1"); g.Name != "old" || g.Bin != "/tmp/gust-old" || len(g.Args) != 2 || g.Args[0] != "--loops" {
		t.Errorf("prebuilt gust: %+v", g)
	}
}

func TestMedian(t *testing.T) {
	rs := []Record{
		{Result: &loadgen.Result{DeliverRate: 3}},
		{Result: &loadgen.Result{DeliverRate: 1}},
		{Error: "x"},
		{Result: &loadgen.Result{DeliverRate: 2}},
	}
	if m, ok := median(rs, mRate); !ok || m != 2 {
		t.Fatalf("median %v %v, want 2", m, ok)
	}
	if _, ok := median([]Record{{Error: "x"}}, mRate); ok {
		t.Fatal("median of failed runs reported ok")
	}
}

func TestScenariosComplete(t *testing.T) {
	for _, size := range []Size{Quick, Standard} {
		all := Scenarios(size)
		for _, n := range append(DefaultSet(), DurableSet()...) {
			s, ok := all[n]
			if !ok || len(s.QoS) == 0 || s.Description == "" {
				t.Fatalf("scenario %q missing or incomplete", n)
			}
			cfg := s.Load
			cfg.Addr, cfg.QoS = "127.0.0.1:1", s.QoS[0]
			if err := cfg.Normalize(); err != nil {
				t.Fatalf("scenario %q: %v", n, err)
			}
		}
	}
}

// TestHarnessAddrTarget runs a tiny p2p against a broker given by address
// (how a user compares with EMQX): no process to sample, results still
// complete.
func TestHarnessAddrTarget(t *testing.T) {
	needMosquitto(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "m.conf")
	if err := os.WriteFile(conf, []byte(MosquittoConfig(port)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(MosquittoPath, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := waitListening(context.Background(), addr, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	tg, err := ParseTarget("ext=" + addr)
	if err != nil {
		t.Fatal(err)
	}
	_, records, err := Run(context.Background(), Config{
		Scenarios: []string{"p2p"}, Size: Quick, QoS: []byte{1}, Targets: []Target{tg},
		ResultsDir: filepath.Join(dir, "results"),
		Tune: func(c *loadgen.Config) {
			c.Publishers, c.Subscribers, c.Count, c.Duration = 3, 3, 200, 5*time.Second
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 || records[0].Error != "" || records[0].Broker != nil || records[0].Result.Delivered != 600 {
		t.Fatalf("records %+v", records)
	}
}

// TestHarnessConn runs a small conn scenario against Mosquitto: the
// warm-up connections come and go before the RSS baseline, every measured
// connection is held, and the per-connection RSS figures and their table
// are written.
func TestHarnessConn(t *testing.T) {
	needMosquitto(t)
	out := t.TempDir()
	cfg := Config{
		Scenarios:  []string{"conn"},
		Size:       Quick,
		Targets:    []Target{{Name: KindMosquitto, Kind: KindMosquitto}},
		Reps:       1,
		ResultsDir: out,
		Label:      "tinyconn",
		Tune:       func(c *loadgen.Config) { c.Conns = 2000 },
	}
	dir, records, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 1 || records[0].Error != "" || records[0].Result == nil {
		t.Fatalf("records %+v", records)
	}
	r := records[0]
	if r.Result.Connected != 2000 || r.Result.ConnectFailed != 0 {
		t.Fatalf("connected %d failed %d, want 2000/0", r.Result.Connected, r.Result.ConnectFailed)
	}
	// Mosquitto holds a few hundred bytes per idle connection: a figure
	// outside 50 B-50 kB means the baseline or the hold read is wrong.
	for name, v := range map[string]float64{"peak": r.RSSPerConn, "held": r.RSSHoldPerConn} {
		if v < 50 || v > 50_000 {
			t.Fatalf("RSS per connection %s: %.0f B", name, v)
		}
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if !strings.Contains(string(sum), "## conn") || !strings.Contains(string(sum), "RSS per idle connection") {
		t.Fatalf("summary.md lacks the conn table:\n%s", sum)
	}
}

// TestCalmPair checks the rule the p99 targets use: repetitions with more
// than 1% of the machine's CPU stolen are left out, for both targets alike,
// only when both keep at least one; otherwise all count and the line says
// the comparison is within noise.
func TestCalmPair(t *testing.T) {
	rec := func(p99 int64, stolen float64) Record {
		r := Record{Result: &loadgen.Result{Elapsed: 10}, StolenCPU: stolen}
		r.Result.Latency.P99 = p99
		return r
	}
	limit := calmShare * 10 * float64(runtime.NumCPU())
	gust := []Record{rec(1000, 0), rec(30000, 4*limit), rec(1200, limit/2)}
	peer := []Record{rec(1500, 0), rec(1400, 0), rec(1600, 0)}
	g, p, tag := calmPair(gust, peer)
	if len(g) != 2 || len(p) != 3 || !strings.Contains(tag, "Gust 2 of 3") {
		t.Fatalf("calm pair: %d, %d, %q", len(g), len(p), tag)
	}
	if m, _ := median(g, mP99); m != 1100 {
		t.Fatalf("calm Gust p99 median %v, want 1100", m)
	}
	g, p, _ = calmPair(gust[:2], peer)
	if len(g) != 1 || len(p) != 3 {
		t.Fatalf("calm pair of one: %d, %d", len(g), len(p))
	}
	g, p, tag = calmPair(gust[1:2], peer)
	if len(g) != 1 || len(p) != 3 || !strings.Contains(tag, "within noise") {
		t.Fatalf("no calm Gust run: %d, %d, %q", len(g), len(p), tag)
	}
	if _, _, tag = calmPair(peer, peer); tag != "" {
		t.Fatalf("all calm: tag %q", tag)
	}
}
