package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestShort checks the value labels of the bars.
func TestShort(t *testing.T) {
	for v, want := range map[float64]string{0.5: "0.50", 12.34: "12.3", 871: "871", 1634: "1.63k", 31126: "31.1k", 1876487: "1.88M"} {
		if got := short(v); got != want {
			t.Errorf("short(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestReplot draws a committed run's plots again: a throughput spanning
// orders of magnitude gets a log scale, every target its own legend
// entry and its value over its bar.
func TestReplot(t *testing.T) {
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "results", "2026-12-05T1813-fanin-qos0-backpressure-905f8e2-dirty", "raw.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "raw.jsonl"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	names, err := Replot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "fanin-qos0-throughput.svg,fanin-qos0-latency.svg" {
		t.Fatalf("plots %v", names)
	}
	svg, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"log scale", "gust2-nobp", "mosquitto", "1.88M", "31.1k"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("throughput plot lacks %q", want)
		}
	}
}
