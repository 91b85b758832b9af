package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/loadgen"
)

// durableHarness is a harness with the four targets of the durable
// comparison, for the report and claims code.
func durableHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{all: Scenarios(Quick)}
	for _, n := range []string{KindGust, NameGustDisk, KindMosquitto, NameMosquittoPersist} {
		tg, err := ParseTarget(n)
		if err != nil {
			t.Fatal(err)
		}
		h.targets = append(h.targets, tg)
	}
	return h
}

// durableRecord is a record of a durable run with the given rates.
func durableRecord(scenario, target string, deliver, ack, drain float64, lost int64) Record {
	disk, fsyncs := 120.0, 900.0
	r := Record{Scenario: scenario, QoS: 1, Target: target, DiskBytesPerMsg: &disk, Result: &loadgen.Result{
		DeliverRate: deliver, AckRate: ack, DrainRate: drain, Lost: lost, Sent: 100, Acked: 100, Away: 2, Resumed: 2}}
	if target == NameGustDisk {
		r.FsyncsPerSec = &fsyncs
	}
	return r
}

// TestDurableClaims checks that the durable targets are computed from the
// records: durable Gust against 2x Mosquitto with persistence and 0.5x
// Gust in memory on every rate of the scenario, and its loss.
func TestDurableClaims(t *testing.T) {
	h := durableHarness(t)
	records := []Record{
		durableRecord("durable-p2p", KindGust, 1000, 0, 0, 0),
		durableRecord("durable-p2p", NameGustDisk, 600, 0, 0, 0),
		durableRecord("durable-p2p", NameMosquittoPersist, 200, 0, 0, 0),
		durableRecord("durable-offline", KindGust, 0, 1000, 2000, 0),
		durableRecord("durable-offline", NameGustDisk, 0, 400, 1500, 3),
		durableRecord("durable-offline", NameMosquittoPersist, 0, 100, 1000, 0),
	}
	var b strings.Builder
	h.claims(&b, groupRecords(records, h.targetNames()))
	out := b.String()
	for _, want := range []string{
		"- MET: durable-p2p QoS 1, delivered msg/s: durable Gust (gust-disk) 600 = 3.00x Mosquitto with persistence (mosquitto-persist) 200 (target: at least 2x)",
		"- MET: durable-p2p QoS 1, delivered msg/s: durable Gust (gust-disk) 600 = 0.60x Gust in memory (gust) 1000 (target: at least 0.5x)",
		"- MET: durable-p2p QoS 1: durable Gust (gust-disk) lost 0 messages",
		"- MET: durable-offline QoS 1, publish msg/s while offline: durable Gust (gust-disk) 400 = 4.00x Mosquitto",
		"- MISSED: durable-offline QoS 1, publish msg/s while offline: durable Gust (gust-disk) 400 = 0.40x Gust in memory",
		"- MISSED: durable-offline QoS 1, drain msg/s: durable Gust (gust-disk) 1500 = 1.50x Mosquitto",
		"- MET: durable-offline QoS 1, drain msg/s: durable Gust (gust-disk) 1500 = 0.75x Gust in memory",
		"- MISSED: durable-offline QoS 1: durable Gust (gust-disk) lost 3 messages",
		"- NOTE: durable-p2p QoS 1: durable Gust (gust-disk) made 900 fsyncs/s and wrote 120.0 disk bytes per message",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("claims lack %q:\n%s", want, out)
		}
	}
}

// TestDurableTable checks every row of each durable table has the header's
// columns, ratios are to the durable Gust, and unmeasured figures say n/a.
func TestDurableTable(t *testing.T) {
	h := durableHarness(t)
	for _, name := range DurableSet() {
		records := []Record{
			durableRecord(name, KindGust, 1000, 1000, 1000, 0),
			durableRecord(name, NameGustDisk, 500, 500, 500, 0),
			durableRecord(name, KindMosquitto, 250, 250, 250, 0),
			{Scenario: name, QoS: 1, Target: NameMosquittoPersist, Error: "did not start"},
		}
		g := groupRecords(records, h.targetNames())[0]
		s := h.all[name]
		var b strings.Builder
		durableTable(&b, g, s, h.ratioRef(g, s))
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		if len(lines) != 6 {
			t.Fatalf("%s: %d lines:\n%s", name, len(lines), b.String())
		}
		cols := strings.Count(lines[0], "|")
		for _, l := range lines[1:] {
			if strings.Count(l, "|") != cols {
				t.Errorf("%s: row %q has %d separators, header %d", name, l, strings.Count(l, "|"), cols)
			}
		}
		if !strings.Contains(lines[0], "gust-disk ÷ target") {
			t.Errorf("%s: ratios not to the durable Gust: %s", name, lines[0])
		}
		if !strings.HasPrefix(lines[4], "| mosquitto | 250 | 2.00 |") || !strings.Contains(lines[4], "| 120.0 | n/a |") {
			t.Errorf("%s: mosquitto row %q", name, lines[4])
		}
	}
}

// TestHarnessDurableTiny runs the durable group, shrunk, against a built
// Gust on its disk store and Mosquitto with persistence: every scenario
// runs on both, the durable Gust's fsyncs and both brokers' disk writes
// are measured, the summary has the durable tables and claims, and no
// data directory is left behind.
func TestHarnessDurableTiny(t *testing.T) {
	needMosquitto(t)
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "gust")
	if out, err := goBuild(context.Background(), root, bin, "./cmd/gust"); err != nil {
		t.Fatalf("build gust: %v: %s", err, out)
	}
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "gust-bench-mosquitto-*"))
	disk, _ := ParseTarget(NameGustDisk)
	disk.Bin = bin
	persist, _ := ParseTarget(NameMosquittoPersist)
	out := t.TempDir()
	dir, records, err := Run(context.Background(), Config{
		Scenarios: []string{DurableGroup}, Size: Quick, Targets: []Target{disk, persist},
		Reps: 1, ResultsDir: out, Plots: true,
		Tune: func(c *loadgen.Config) {
			c.Publishers = 2
			c.Subscribers = min(c.Subscribers, 2)
			c.Duration, c.Drain = 1500*time.Millisecond, 5*time.Second
			if c.Offline {
				c.Count = 300
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 2*len(DurableSet()) {
		t.Fatalf("%d records, want %d", len(records), 2*len(DurableSet()))
	}
	for _, r := range records {
		if r.Error != "" || r.Result == nil || r.DiskBytesPerMsg == nil {
			t.Fatalf("%s on %s: error %q, disk figure %v", r.Scenario, r.Target, r.Error, r.DiskBytesPerMsg)
		}
		if r.Scenario != "durable-retained" && r.Result.Lost != 0 {
			t.Errorf("%s on %s lost %d", r.Scenario, r.Target, r.Result.Lost)
		}
		if r.Target == NameMosquittoPersist && r.FsyncsPerSec != nil {
			t.Errorf("%s: fsyncs reported for Mosquitto", r.Scenario)
		}
		if r.Target == NameGustDisk && r.Scenario == "durable-retained" {
			if r.FsyncsPerSec == nil || *r.FsyncsPerSec <= 0 || *r.DiskBytesPerMsg <= 0 {
				t.Errorf("durable-retained on Gust's disk store: fsyncs/s %v, disk bytes/msg %v", r.FsyncsPerSec, *r.DiskBytesPerMsg)
			}
		}
	}
	if !strings.HasSuffix(filepath.Base(dir), "-"+gitCommit(root)) || !strings.Contains(filepath.Base(dir), "-durable-") {
		t.Errorf("run directory %s not labelled durable", dir)
	}
	sum, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	for _, want := range []string{"## durable-offline, QoS 1", "drain msg/s", "durable Gust (gust-disk)", "Mosquitto with persistence (mosquitto-persist)", "fsyncs/s"} {
		if !strings.Contains(string(sum), want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	for _, plot := range []string{"durable-offline-qos1-rate2.svg", "durable-p2p-qos1-latency.svg", "durable-retained-qos1-rate1.svg"} {
		if !strings.Contains(string(sum), "]("+plot+")") {
			t.Errorf("summary.md does not show %s", plot)
		}
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "gust-bench-mosquitto-*"))
	if len(after) > len(before) {
		t.Errorf("Mosquitto data directories left behind: %q (before: %q)", after, before)
	}
}
