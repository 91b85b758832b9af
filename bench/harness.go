package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gust-mqtt/gust/loadgen"
)

// Config is one harness invocation; `gust bench` only binds flags to it.
type Config struct {
	// Scenarios are the scenario names to run, in order.
	Scenarios []string
	// Size scales the scenarios (Quick or Standard).
	Size Size
	// QoS, when non-empty, replaces each scenario's QoS list (levels a
	// scenario does not list are skipped).
	QoS []byte
	// Targets are the brokers to compare; the first gust target is the
	// reference of the ratios.
	Targets []Target
	// Reps is the number of repetitions; targets alternate within each.
	Reps int
	// Duration, when non-zero, replaces each scenario's measured duration.
	Duration time.Duration
	// Rate, when non-zero, sets every publisher of the message scenarios
	// to this many messages per second (latency at a fixed offered load
	// instead of flat out).
	Rate float64
	// Tune, when non-nil, adjusts each measured load (tests shrink them).
	Tune func(*loadgen.Config)
	// Root is the Gust module root (for building gust and the peers);
	// empty means search upwards from the working directory.
	Root string
	// ResultsDir is where the run directory is created ("" = Root/results
	// with Publish, else Root/results/local, which git ignores).
	ResultsDir string
	// Generator plays the clients of the message scenarios: GeneratorGust
	// ("" too) or GeneratorPaho (ParseGenerator).
	Generator string
	// Publish writes the run into Root/results and regenerates
	// results/README.md, the repository's headline. Without it a run never
	// touches a tracked file.
	Publish bool
	// Label names the run directory: <date>-<Label>-<commit>.
	Label string
	// PinBroker is a taskset CPU list for broker processes ("" = no pinning).
	PinBroker string
	// PinGenerator is a CPU list for this process ("" = no pinning).
	PinGenerator string
	// Log receives progress lines (nil = silent).
	Log io.Writer
	// Plots turns SVG plot generation on.
	Plots bool
	// Args are the command-line flags, recorded in env.txt.
	Args []string
	// Claims adds the MQTT-vs-HTTP claims table (claims.md).
	Claims bool
	// Conns, when non-zero, replaces the conn scenario's connection count.
	Conns int
	// NoWarmUp skips the conn scenario's warm-up, so its RSS baseline is
	// the freshly started broker's.
	NoWarmUp bool
	// WebSocket runs every client over WebSocket: Gust gets a ws listener
	// (--listen-ws), Mosquitto a websockets one, and the generator speaks
	// WebSocket to it (loadgen.Config.WebSocket). Only gust and mosquitto
	// targets have one.
	WebSocket bool
}

// Record is one measured run of one scenario at one QoS on one target.
type Record struct {
	Scenario string          `json:"scenario"`
	QoS      int             `json:"qos"`
	Target   string          `json:"target"`
	Rep      int             `json:"rep"`
	Result   *loadgen.Result `json:"result,omitempty"`
	Broker   *ProcUsage      `json:"broker,omitempty"`
	// CPUPerMillion is broker CPU-seconds per million delivered messages.
	CPUPerMillion float64 `json:"broker_cpu_secs_per_million,omitempty"`
	// RSSPerConn is (peak RSS - RSS before connecting) / connections.
	RSSPerConn float64 `json:"broker_rss_per_conn_bytes,omitempty"`
	// RSSHoldPerConn is (RSS once the idle connections have been held for
	// holdAfter - RSS before connecting) / connections: the RSS per idle
	// connection.
	RSSHoldPerConn float64 `json:"broker_rss_hold_per_conn_bytes,omitempty"`
	// OtherCPU is the machine's busy CPU time during the measured run
	// minus the broker's and the generator's: other work that competed
	// with this run (0 on a quiet machine).
	OtherCPU float64 `json:"other_cpu_secs"`
	// StolenCPU is the CPU time the hypervisor gave to other guests during
	// the measured run (steal in /proc/stat; 0 on bare metal): a run that
	// shows some was slowed by a neighbour, whatever the target.
	StolenCPU float64 `json:"stolen_cpu_secs"`
	// DiskBytesPerMsg is the growth of the broker's write_bytes (see
	// ReadWriteBytes) over the run divided by the messages delivered, or
	// by the publishes acknowledged when nothing is delivered (retained
	// churn); nil when unmeasured (an external broker).
	DiskBytesPerMsg *float64 `json:"disk_bytes_written_per_msg,omitempty"`
	// FsyncsPerSec is the rate of a durable Gust's store fsyncs over the
	// run, read from its $SYS/broker/store/syncs counter (syncprobe.go);
	// nil when unmeasured: other brokers, which publish no such counter,
	// and Gust in memory.
	FsyncsPerSec *float64 `json:"fsyncs_per_sec,omitempty"`
	Error        string   `json:"error,omitempty"`
}

// Run executes the configured comparison and writes the results
// directory; it returns the directory and the records.
func Run(ctx context.Context, cfg Config) (string, []Record, error) {
	h, err := newHarness(cfg)
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(h.tmp)
	records := h.runAll(ctx)
	var claims []ClaimRow
	if cfg.Claims {
		claims = h.runClaims(ctx)
	}
	dir, err := h.write(records, claims)
	return dir, records, err
}

// harness holds the state of one Run.
type harness struct {
	cfg     Config
	root    string
	tmp     string
	targets []Target
	skipped []string // "name: reason" for targets that could not run
	all     map[string]Scenario
	started time.Time
	// loadStart is /proc/loadavg when the run began: other work on the
	// machine skews every figure, so env.txt records it.
	loadStart string
	// busyStart and stealStart are MachineCPUSecs when the run began.
	busyStart, stealStart float64
}

func newHarness(cfg Config) (*harness, error) {
	if cfg.Reps <= 0 {
		cfg.Reps = 1
	}
	if len(cfg.Scenarios) == 0 {
		cfg.Scenarios = DefaultSet()
	}
	cfg.Scenarios = expandGroups(cfg.Scenarios)
	all := Scenarios(cfg.Size)
	for _, n := range cfg.Scenarios {
		if _, ok := all[n]; !ok {
			return nil, fmt.Errorf("%w: %q (have %s, and the groups %s, %s)", ErrUnknownScenario, n, strings.Join(Names(), ", "), DurableGroup, ClusterGroup)
		}
	}
	root := cfg.Root
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return nil, err
		}
	}
	tmp, err := os.MkdirTemp("", "gust-bench-")
	if err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, root: root, tmp: tmp, all: all, started: time.Now(), loadStart: readTrim("/proc/loadavg")}
	h.busyStart, h.stealStart = MachineCPUSecs()
	if cfg.PinGenerator != "" {
		if err := pinSelf(cfg.PinGenerator); err != nil {
			h.logf("cannot pin the generator to %s: %v", cfg.PinGenerator, err)
		}
	}
	for _, t := range cfg.Targets {
		if err := t.prepare(context.Background(), root, tmp); err != nil {
			h.skipped = append(h.skipped, t.Name+": "+err.Error())
			h.logf("skipping target %s: %v", t.Name, err)
			continue
		}
		h.targets = append(h.targets, t)
	}
	if len(h.targets) == 0 {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("%w: %s", ErrNoTargets, strings.Join(h.skipped, "; "))
	}
	return h, nil
}

func (h *harness) logf(format string, args ...any) {
	if h.cfg.Log != nil {
		fmt.Fprintf(h.cfg.Log, "bench: "+format+"\n", args...)
	}
}

// qosLevels returns the QoS levels to run for s.
func (h *harness) qosLevels(s Scenario) []byte {
	if len(h.cfg.QoS) == 0 {
		return s.QoS
	}
	var out []byte
	for _, q := range h.cfg.QoS {
		for _, sq := range s.QoS {
			if q == sq {
				out = append(out, q)
			}
		}
	}
	return out
}

// runAll runs every scenario and QoS, repetition by repetition, rotating
// the target order each repetition so no target always runs first.
func (h *harness) runAll(ctx context.Context) []Record {
	var out []Record
	for _, name := range h.cfg.Scenarios {
		s := h.all[name]
		for _, q := range h.qosLevels(s) {
			for rep := 0; rep < h.cfg.Reps; rep++ {
				for i := range h.targets {
					if ctx.Err() != nil {
						return out
					}
					t := &h.targets[(i+rep)%len(h.targets)]
					if t.Kind == KindHTTP && (q != 0 || !isCore(s.Name)) {
						continue // the HTTP baseline only does fanin, fanout, p2p without QoS
					}
					if why := notRun(t, s, q); why != "" {
						if rep == 0 {
							rec := Record{Scenario: s.Name, QoS: int(q), Target: t.Name, Rep: rep, Error: NotRunPrefix + why}
							h.logRecord(rec)
							out = append(out, rec)
						}
						continue
					}
					rec := h.runOne(ctx, s, q, t, rep)
					h.logRecord(rec)
					out = append(out, rec)
				}
			}
		}
	}
	return out
}

// NotRunPrefix starts the error of a record the harness did not run
// because the target cannot express the scenario; the reason follows.
const NotRunPrefix = "not run: "

// notRun returns why t cannot run s at qos, or "".
func notRun(t *Target, s Scenario, qos byte) string {
	if t.Kind == KindFloor && (!isCore(s.Name) || qos > 1) {
		return "the floor relays fanin, fanout, p2p at QoS 0 and 1 only"
	}
	if t.Kind == KindNATS && s.Load.SubTopic != "" && strings.HasPrefix(s.Load.SubTopic, "$share/") {
		return "nats-server's MQTT has no shared subscriptions ($share/ is a plain filter there)"
	}
	return ""
}

// runOne starts a fresh broker, runs the setup and the measured load
// while sampling the broker process, and stops the broker.
func (h *harness) runOne(ctx context.Context, s Scenario, qos byte, t *Target, rep int) Record {
	rec := Record{Scenario: s.Name, QoS: int(qos), Target: t.Name, Rep: rep}
	r, err := t.start(ctx, h.tmp, h.cfg.PinBroker, h.cfg.WebSocket)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	defer r.stop()
	prefix := fmt.Sprintf("b%d%s%d", rep, t.Name, time.Now().UnixNano()%1e6)
	if s.Setup != nil && !(s.PerConn && h.cfg.NoWarmUp) {
		setup := *s.Setup
		setup.Addr, setup.ClientPrefix, setup.TLS = r.addr, prefix+"s", r.tls
		if h.cfg.WebSocket {
			setup.Addr, setup.WebSocket = r.wsAddr, true
		}
		if _, err := loadgen.Run(ctx, setup); err != nil {
			rec.Error = "setup: " + err.Error()
			return rec
		}
	}
	load := s.Load
	load.Addr, load.ClientPrefix, load.TLS = r.addr, prefix, r.tls
	place(&load, s.Place, r.nodes)
	if h.cfg.WebSocket {
		load.Addr, load.WebSocket = r.wsAddr, true
	}
	if !s.PerConn {
		load.QoS = qos
	}
	if s.PerConn && h.cfg.Conns > 0 {
		load.Conns = h.cfg.Conns
	}
	if h.cfg.Duration > 0 && !s.PerConn && load.ExpectRetained == 0 && !load.Offline {
		load.Duration = h.cfg.Duration
	}
	if h.cfg.Rate > 0 && !s.PerConn && load.ExpectRetained == 0 && !load.Offline {
		load.Rate = h.cfg.Rate
	}
	if h.cfg.Tune != nil {
		h.cfg.Tune(&load)
	}
	var sampler multiSampler
	var hold *holdProbe
	if r.pid > 0 {
		sampler = startSamplers(r.pids(), 100*time.Millisecond)
		if s.PerConn && load.JSON == nil {
			hold = &holdProbe{pid: r.pid, want: int64(load.Conns)}
			load.JSON = hold
		}
	}
	var probe *syncProbe
	if t.Durable() && r.pid > 0 {
		if probe, err = startSyncProbe(r.addr); err != nil {
			h.logf("%s: cannot read the store's fsync counter: %v", t.Name, err)
		}
	}
	busy0, steal0 := MachineCPUSecs()
	t0 := time.Now()
	var res *loadgen.Result
	switch {
	case t.Kind == KindHTTP:
		res, err = loadgen.RunHTTP(ctx, load, true)
	case h.cfg.Generator == GeneratorPaho:
		if err = pahoExpressible(s); err == nil {
			res, err = runPaho(ctx, load)
		}
	default:
		res, err = loadgen.Run(ctx, load)
	}
	t1 := time.Now()
	busy, steal := MachineCPUSecs()
	busy, steal = busy-busy0, steal-steal0
	if probe != nil {
		if rate, ok := fsyncRate(probe.stop(), t0, t1); ok {
			rec.FsyncsPerSec = &rate
		}
	}
	if sampler != nil {
		u := sampler.Stop()
		rec.Broker = &u
	}
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	rec.Result = res
	rec.StolenCPU = steal
	rec.OtherCPU = busy - steal - res.GenCPUSecs
	if rec.Broker != nil {
		rec.OtherCPU -= rec.Broker.CPUSecs
	}
	rec.OtherCPU = max(0, rec.OtherCPU)
	h.derive(&rec, s)
	if hold != nil && rec.RSSPerConn > 0 {
		if rss := hold.holdRSS(); rss > 0 {
			rec.RSSHoldPerConn = float64(rss-rec.Broker.RSSStart) / float64(rec.Result.Connected)
		}
	}
	return rec
}

// derive computes the per-message and per-connection broker figures.
func (h *harness) derive(rec *Record, s Scenario) {
	if rec.Broker == nil || rec.Result == nil {
		return
	}
	d := rec.Result.Delivered
	if d == 0 {
		d = rec.Result.Acked // publishers only (retained churn)
	}
	if d > 0 && !s.PerConn {
		rec.CPUPerMillion = rec.Broker.CPUSecs / float64(d) * 1e6
	}
	if s.PerConn && rec.Result.Connected > 0 {
		rec.RSSPerConn = float64(rec.Broker.RSSPeak-rec.Broker.RSSStart) / float64(rec.Result.Connected)
	}
	if w := rec.Broker.DiskWriteBytes; w >= 0 && !s.PerConn {
		if n := messages(rec.Result); n > 0 {
			per := float64(w) / float64(n)
			rec.DiskBytesPerMsg = &per
		}
	}
}

// messages is what the per-message disk figure divides by: the messages
// delivered (duplicates left out) or, when the run delivers none, the
// publishes acknowledged.
func messages(res *loadgen.Result) int64 {
	if d := res.Delivered - res.Duplicated; d > 0 {
		return d
	}
	return res.Acked
}

func (h *harness) logRecord(r Record) {
	if r.Error != "" {
		h.logf("%s qos%d %s rep %d: error: %s", r.Scenario, r.QoS, r.Target, r.Rep, r.Error)
		return
	}
	res := r.Result
	if r.RSSPerConn > 0 || res.Conns > 0 {
		h.logf("%s %s rep %d: %d connected (%d failed) at %.0f conn/s, RSS/conn %.0f B at peak, %.0f B held idle",
			r.Scenario, r.Target, r.Rep, res.Connected, res.ConnectFailed, res.ConnectRate, r.RSSPerConn, r.RSSHoldPerConn)
		return
	}
	drain := ""
	if res.Back > 0 {
		drain = fmt.Sprintf(", %d of %d sessions resumed, drained at %.0f msg/s", res.Resumed, res.Away, res.DrainRate)
	}
	h.logf("%s qos%d %s rep %d: %.0f msg/s delivered, %.0f acked/s%s, p50 %dus p99 %dus, lost %d, broker CPU %.2fs/M, disk %s B/msg, %s fsyncs/s",
		r.Scenario, r.QoS, r.Target, r.Rep, res.DeliverRate, res.AckRate, drain, res.Latency.P50, res.Latency.P99, res.Lost, r.CPUPerMillion,
		optional(r.DiskBytesPerMsg, 0), optional(r.FsyncsPerSec, 0))
}

// findRoot walks up from the working directory to the Gust module root.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/gust-mqtt/gust\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrRepoRoot
		}
		dir = parent
	}
}
