package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"

	"github.com/gust-mqtt/gust/loadgen"
)

// writePlots draws, for each message scenario and QoS, the delivered
// throughput per target and the latency percentiles per target (for a
// durable scenario, each of its rates, and latency only where messages
// are delivered while publishing), as SVG. It returns the file names
// written.
func writePlots(dir string, groups []*group, all map[string]Scenario) ([]string, error) {
	var names []string
	for _, g := range groups {
		if s := all[g.Scenario]; s.Durable {
			n, err := durablePlots(dir, g, s)
			names = append(names, n...)
			if err != nil {
				return names, err
			}
			continue
		}
		if g.Scenario == "conn" {
			if n, err := barPlot(dir, "conn-rss-per-conn.svg", g, "conn: broker RSS per idle connection (median)", "bytes",
				func(r Record) float64 { return r.RSSPerConn }); err != nil {
				return names, err
			} else if n != "" {
				names = append(names, n)
			}
			if n, err := barPlot(dir, "conn-connect-rate.svg", g, "conn: connections per second during the storm (median)", "connections/s",
				func(r Record) float64 { return r.Result.ConnectRate }); err != nil {
				return names, err
			} else if n != "" {
				names = append(names, n)
			}
			continue
		}
		prefix := fmt.Sprintf("%s-qos%d-", g.Scenario, g.QoS)
		if n, err := throughputPlot(dir, prefix+"throughput.svg", g); err != nil {
			return names, err
		} else if n != "" {
			names = append(names, n)
		}
		if n, err := latencyPlot(dir, prefix+"latency.svg", g); err != nil {
			return names, err
		} else if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

// durablePlots draws a durable scenario's rates and, when its
// subscribers are online while publishing, its latency.
func durablePlots(dir string, g *group, s Scenario) ([]string, error) {
	var names []string
	prefix := fmt.Sprintf("%s-qos%d-", g.Scenario, g.QoS)
	for i, m := range durableMetrics(s) {
		n, err := barPlot(dir, fmt.Sprintf("%srate%d.svg", prefix, i+1), g, fmt.Sprintf("%s QoS %d: %s (median)", g.Scenario, g.QoS, m.name), "messages/s", m.f)
		if err != nil {
			return names, err
		}
		if n != "" {
			names = append(names, n)
		}
	}
	if s.Load.Offline || s.Load.Mode != loadgen.ModePubSub {
		return names, nil
	}
	n, err := latencyPlot(dir, prefix+"latency.svg", g)
	if n != "" {
		names = append(names, n)
	}
	return names, err
}

func throughputPlot(dir, name string, g *group) (string, error) {
	return barPlot(dir, name, g, fmt.Sprintf("%s QoS %d: delivered messages/s (median)", g.Scenario, g.QoS), "messages/s", mRate)
}

// barPlot draws one bar per target, in the target's colour with its
// value above it: the median of f over its runs, on a log scale when the
// values span more than a factor of 20.
func barPlot(dir, name string, g *group, title, unit string, f func(Record) float64) (string, error) {
	var vals []float64
	var labels []string
	for _, t := range g.Targets {
		v, ok := median(g.By[t], f)
		if !ok {
			continue
		}
		vals = append(vals, v)
		labels = append(labels, t)
	}
	if len(vals) == 0 {
		return "", nil
	}
	b := &bars{vals: make([][]float64, len(vals)), series: len(vals)}
	for i, v := range vals {
		b.vals[i] = make([]float64, len(vals))
		b.vals[i][i] = v
	}
	b.only = true
	return name, b.save(dir, name, title, unit, labels, labels, max(1.1*vg.Inch*vg.Length(len(vals))+2.5*vg.Inch, 5.5*vg.Inch))
}

func latencyPlot(dir, name string, g *group) (string, error) {
	pcts := []struct {
		label string
		f     func(Record) float64
	}{
		{"p50", mP50},
		{"p90", func(r Record) float64 { return float64(r.Result.Latency.P90) }},
		{"p99", mP99},
		{"p99.9", func(r Record) float64 { return float64(r.Result.Latency.P999) }},
	}
	var targets []string
	for _, t := range g.Targets {
		if _, ok := median(g.By[t], mRate); ok {
			targets = append(targets, t)
		}
	}
	if len(targets) == 0 {
		return "", nil
	}
	b := &bars{series: len(targets)}
	var groups []string
	for _, pc := range pcts {
		row := make([]float64, len(targets))
		for j, t := range targets {
			v, _ := median(g.By[t], pc.f)
			row[j] = v / 1000
		}
		b.vals = append(b.vals, row)
		groups = append(groups, pc.label)
	}
	title := fmt.Sprintf("%s QoS %d: latency percentiles (median of runs)", g.Scenario, g.QoS)
	return name, b.save(dir, name, title, "milliseconds", groups, targets, 0.55*vg.Inch*vg.Length(len(targets)*len(pcts))+2.5*vg.Inch)
}

// Replot draws the plots of the run in dir again from its raw.jsonl, with
// the plotting of this build, and renders its page (index.html) again
// when it has a summary.md.
func Replot(dir string) ([]string, error) {
	names, err := replot(dir)
	if err != nil {
		return names, err
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.md")); err == nil {
		return names, RenderHTML(dir)
	}
	return names, nil
}

func replot(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "raw.jsonl"))
	if err != nil {
		return nil, err
	}
	var recs []Record
	var targets []string
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("bench: %s: %w", filepath.Join(dir, "raw.jsonl"), err)
		}
		recs = append(recs, r)
		if !seen[r.Target] {
			seen[r.Target] = true
			targets = append(targets, r.Target)
		}
	}
	return writePlots(dir, groupRecords(recs, targets), Scenarios(Standard))
}
