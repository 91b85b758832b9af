package bench

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
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

// barPlot draws one bar per target: the median of f over its runs.
func barPlot(dir, name string, g *group, title, unit string, f func(Record) float64) (string, error) {
	var vals plotter.Values
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
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	bars, err := plotter.NewBarChart(vals, vg.Points(30))
	if err != nil {
		return "", err
	}
	bars.Color = plotutil.Color(0)
	p.Add(bars)
	p.NominalX(labels...)
	return name, p.Save(5*vg.Inch, 3.5*vg.Inch, filepath.Join(dir, name))
}

func latencyPlot(dir, name string, g *group) (string, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s QoS %d: latency percentiles (median of runs)", g.Scenario, g.QoS)
	p.Y.Label.Text = "milliseconds"
	pcts := []struct {
		label string
		f     func(Record) float64
	}{
		{"p50", mP50},
		{"p90", func(r Record) float64 { return float64(r.Result.Latency.P90) }},
		{"p99", mP99},
		{"p99.9", func(r Record) float64 { return float64(r.Result.Latency.P999) }},
	}
	w := vg.Points(12)
	var labels []string
	for _, t := range g.Targets {
		if _, ok := median(g.By[t], mRate); ok {
			labels = append(labels, t)
		}
	}
	if len(labels) == 0 {
		return "", nil
	}
	for i, pc := range pcts {
		var vals plotter.Values
		for _, t := range labels {
			v, _ := median(g.By[t], pc.f)
			vals = append(vals, v/1000)
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return "", err
		}
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(i-len(pcts)/2)
		p.Add(bars)
		p.Legend.Add(pc.label, bars)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(labels...)
	return name, p.Save(6*vg.Inch, 3.5*vg.Inch, filepath.Join(dir, name))
}
