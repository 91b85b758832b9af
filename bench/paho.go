package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/loadgen"
)

// Generators: who plays the clients of a message scenario.
const (
	// GeneratorGust is loadgen: many raw-socket clients per event loop,
	// publishers keeping a window of messages in flight.
	GeneratorGust = "gust"
	// GeneratorPaho is runPaho: clients of github.com/eclipse/paho.mqtt.golang,
	// one goroutine per client, each publisher waiting for every publish to
	// complete before the next, as most Go MQTT tools are written
	// (krylovsk/mqtt-benchmark among them).
	GeneratorPaho = "paho"
	// GeneratorMQTTBenchmark names krylovsk/mqtt-benchmark, which the Go
	// module proxy does not serve (403): ParseGenerator says so.
	GeneratorMQTTBenchmark = "mqtt-benchmark"
)

// ParseGenerator checks a --generator value.
func ParseGenerator(s string) (string, error) {
	switch s {
	case "", GeneratorGust:
		return GeneratorGust, nil
	case GeneratorPaho:
		return GeneratorPaho, nil
	case GeneratorMQTTBenchmark:
		return "", errors.New("bench: github.com/krylovsk/mqtt-benchmark is not served by the Go module proxy; " +
			"--generator paho drives the scenarios the way it does (paho.mqtt.golang, one goroutine per client, each publish waited for)")
	}
	return "", fmt.Errorf("bench: generator %q: want %s or %s", s, GeneratorGust, GeneratorPaho)
}

// pahoExpressible reports why the paho generator cannot run s, nil if it
// can: it publishes and subscribes with clean 3.1.1 sessions, flat out or
// at a rate.
func pahoExpressible(s Scenario) error {
	l := s.Load
	switch {
	case s.PerConn || l.Mode == loadgen.ModeConn:
		return errors.New("paho generator: connection scenarios are loadgen's")
	case l.ExpectRetained > 0 || l.Offline || l.PersistentSubs || s.Durable:
		return errors.New("paho generator: retained, offline and persistent-session scenarios are loadgen's")
	case l.SlowSubscribers > 0:
		return errors.New("paho generator: slow subscribers are loadgen's")
	}
	return nil
}

// pahoRun is one run of the paho generator.
type pahoRun struct {
	cfg       loadgen.Config
	sent      []atomic.Int64 // per publisher
	errs      atomic.Int64
	delivered atomic.Int64
	foreign   atomic.Int64
	firstPub  atomic.Int64 // unix nanos
	lastRecv  atomic.Int64 // unix nanos
	mu        sync.Mutex
	hist      *hdrhistogram.Histogram // delivery latency, µs
}

// runPaho runs cfg's publishers and subscribers as paho clients and
// reports what loadgen would: sent, expected, delivered, lost, rates,
// latency (stamped in the payload) and the generator's CPU.
func runPaho(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	if cfg.PayloadSize < 16 {
		cfg.PayloadSize = 16 // the stamp: run id and send time
	}
	r := &pahoRun{cfg: cfg, sent: make([]atomic.Int64, cfg.Publishers), hist: hdrhistogram.New(1, 60_000_000, 3)}
	cpu0 := processCPU()
	start := time.Now()
	res := &loadgen.Result{Type: "result", Addr: cfg.Addr, Publishers: cfg.Publishers, Subscribers: cfg.Subscribers,
		QoS: int(cfg.QoS), PayloadSize: cfg.PayloadSize}
	var clients []mqtt.Client
	defer func() {
		for _, c := range clients {
			c.Disconnect(0)
		}
	}()
	runID := uint64(start.UnixNano())
	filters := make([]string, cfg.Subscribers)
	for i := range filters {
		filters[i] = expandTopic(cfg.SubTopic, i)
		c, err := r.connect(fmt.Sprintf("%ss%d", cfg.ClientPrefix, i))
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		if err := wait(c.Subscribe(filters[i], cfg.QoS, r.onMessage(runID))); err != nil {
			return nil, fmt.Errorf("paho subscribe: %w", err)
		}
	}
	pubs := make([]mqtt.Client, cfg.Publishers)
	for i := range pubs {
		c, err := r.connect(fmt.Sprintf("%sp%d", cfg.ClientPrefix, i))
		if err != nil {
			return nil, err
		}
		clients = append(clients, c)
		pubs[i] = c
	}
	res.Connected = int64(len(clients))
	res.ConnectSecs = time.Since(start).Seconds()

	pubStart := time.Now()
	r.firstPub.Store(pubStart.UnixNano())
	pctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	var wg sync.WaitGroup
	for i, c := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.publish(pctx, i, c, runID)
		}()
	}
	wg.Wait()
	cancel()
	pubSecs := time.Since(pubStart).Seconds()

	var sent, expected int64
	for i := range pubs {
		n := r.sent[i].Load()
		sent += n
		expected += n * int64(matching(expandTopic(cfg.PubTopic, i), filters))
	}
	drainEnd := time.Now().Add(cfg.Drain)
	for r.delivered.Load() < expected && time.Now().Before(drainEnd) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	delivered := r.delivered.Load()
	res.Sent, res.Expected, res.Delivered, res.Errors = sent, expected, delivered, r.errs.Load()
	if cfg.QoS > 0 {
		res.Acked = sent // a publisher counts a message once its token completed
	}
	res.Lost = max(0, expected-delivered)
	res.Duplicated = max(0, delivered-expected)
	res.Foreign = r.foreign.Load()
	res.PublishSecs = pubSecs
	if pubSecs > 0 {
		res.SendRate = float64(sent) / pubSecs
		if cfg.QoS > 0 {
			res.AckSecs, res.AckRate = pubSecs, float64(sent)/pubSecs
		}
	}
	if last := r.lastRecv.Load(); last > 0 {
		res.DeliverSecs = float64(last-pubStart.UnixNano()) / 1e9
		if res.DeliverSecs > 0 {
			res.DeliverRate = float64(delivered) / res.DeliverSecs
		}
	}
	r.mu.Lock()
	h := r.hist
	r.mu.Unlock()
	if h.TotalCount() > 0 {
		res.Latency = loadgen.Percentiles{Count: h.TotalCount(), P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90),
			P99: h.ValueAtQuantile(99), P999: h.ValueAtQuantile(99.9), Max: h.Max(), Mean: h.Mean()}
	}
	res.GenCPUSecs = processCPU() - cpu0
	res.Elapsed = time.Since(start).Seconds()
	return res, nil
}

// connect opens one paho client with a clean session.
func (r *pahoRun) connect(id string) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker("tcp://" + r.cfg.Addr).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetOrderMatters(false).
		SetKeepAlive(60 * time.Second).SetConnectTimeout(10 * time.Second).SetWriteTimeout(10 * time.Second)
	c := mqtt.NewClient(o)
	if err := wait(c.Connect()); err != nil {
		return nil, fmt.Errorf("paho connect %s: %w", id, err)
	}
	return c, nil
}

// publish sends on c until ctx ends (or Count messages), one at a time,
// each waited for; at Rate messages a second when it is set.
func (r *pahoRun) publish(ctx context.Context, i int, c mqtt.Client, runID uint64) {
	topic := expandTopic(r.cfg.PubTopic, i)
	payload := make([]byte, r.cfg.PayloadSize)
	binary.LittleEndian.PutUint64(payload, runID)
	var tick *time.Ticker
	if r.cfg.Rate > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / r.cfg.Rate))
		defer tick.Stop()
	}
	for n := 0; r.cfg.Count == 0 || n < r.cfg.Count; n++ {
		if tick != nil {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		binary.LittleEndian.PutUint64(payload[8:], uint64(time.Now().UnixNano()))
		if err := wait(c.Publish(topic, r.cfg.QoS, false, payload)); err != nil {
			r.errs.Add(1)
			continue
		}
		r.sent[i].Add(1)
	}
}

// onMessage counts a delivery stamped by this run and records its latency.
func (r *pahoRun) onMessage(runID uint64) mqtt.MessageHandler {
	return func(_ mqtt.Client, m mqtt.Message) {
		p := m.Payload()
		if len(p) < 16 || binary.LittleEndian.Uint64(p) != runID {
			r.foreign.Add(1)
			return
		}
		now := time.Now().UnixNano()
		lat := (now - int64(binary.LittleEndian.Uint64(p[8:]))) / 1e3
		r.delivered.Add(1)
		r.lastRecv.Store(now)
		r.mu.Lock()
		_ = r.hist.RecordValue(max(1, lat))
		r.mu.Unlock()
	}
}

// wait waits for t and returns its error.
func wait(t mqtt.Token) error {
	t.Wait()
	return t.Error()
}

// expandTopic replaces %i in pattern with idx, as loadgen does.
func expandTopic(pattern string, idx int) string {
	return strings.ReplaceAll(pattern, "%i", strconv.Itoa(idx))
}

// matching counts the deliveries a message on topic owes the subscribers
// of filters: one per matching plain filter, one per shared group.
func matching(topic string, filters []string) int {
	n := 0
	groups := map[string]bool{}
	for _, f := range filters {
		group := ""
		if rest, ok := strings.CutPrefix(f, "$share/"); ok {
			g, plain, found := strings.Cut(rest, "/")
			if !found {
				continue
			}
			group, f = g, plain
		}
		if !filterMatches(f, topic) {
			continue
		}
		if group == "" {
			n++
		} else if !groups[group] {
			groups[group] = true
			n++
		}
	}
	return n
}

// filterMatches reports whether the MQTT filter f (+ and # wildcards)
// matches topic.
func filterMatches(f, topic string) bool {
	fl, tl := strings.Split(f, "/"), strings.Split(topic, "/")
	for i, l := range fl {
		if l == "#" {
			return true
		}
		if i >= len(tl) || (l != "+" && l != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

// processCPU is this process's user and system CPU time in seconds.
func processCPU() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
