package bench

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gust-mqtt/gust/loadgen"
)

// durableCaveat says how to read the durable tables.
func durableCaveat() string {
	return "How to read the durable tables: `disk bytes written per msg` is the growth of the broker's " +
		"`write_bytes` in /proc/PID/io over the run (what it sent to storage, counted a page at a time when it dirties " +
		"the page cache) divided by the messages delivered, or by the publishes acknowledged when nothing is delivered; " +
		"`fsyncs/s` is read from a durable Gust's `$SYS/broker/store/syncs` counter, published every " +
		sysProbeInterval.String() + ", between the first and last publications inside the run (n/a: not published by the broker, or a run " +
		"shorter than two publications). Mosquitto with persistence saves its database every autosave_interval (1800 s " +
		"by default) and at shutdown, so a run writes nothing to disk and what it acknowledged would be lost in a crash, " +
		"while a durable Gust with --fsync always syncs what it stores before acknowledging it. Ratios are to the durable Gust.\n\n"
}

// rateMetric is one rate a durable scenario is judged on.
type rateMetric struct {
	name string
	f    func(Record) float64
}

// durableMetrics returns the rates of a durable scenario: the publish
// rate while the subscribers are away and the drain rate (offline), the
// acknowledged publish rate (publishers only: retained churn), or the
// delivered rate.
func durableMetrics(s Scenario) []rateMetric {
	switch {
	case s.Load.Offline:
		return []rateMetric{
			{name: "publish msg/s while offline", f: func(r Record) float64 { return r.Result.AckRate }},
			{name: "drain msg/s", f: func(r Record) float64 { return r.Result.DrainRate }},
		}
	case s.Load.Mode == loadgen.ModePub:
		return []rateMetric{{name: "acknowledged publishes/s", f: func(r Record) float64 { return r.Result.AckRate }}}
	}
	return []rateMetric{{name: "delivered msg/s", f: mRate}}
}

// durableGust is the name of the first Gust target on its disk store, or "".
func (h *harness) durableGust() string {
	for i := range h.targets {
		if h.targets[i].Durable() {
			return h.targets[i].Name
		}
	}
	return ""
}

// memoryGust is the name of the first Gust target in memory, or "".
func (h *harness) memoryGust() string {
	for i := range h.targets {
		if t := &h.targets[i]; t.Kind == KindGust && !t.Durable() {
			return t.Name
		}
	}
	return ""
}

// mosquittoPersist is the name of the first Mosquitto with persistence, or "".
func (h *harness) mosquittoPersist() string {
	for _, t := range h.targets {
		if t.Kind == KindMosquitto && t.Persist {
			return t.Name
		}
	}
	return ""
}

// ratioRef is the reference target of a group's ratios: for a durable
// scenario the durable Gust when there is one, else refTarget.
func (h *harness) ratioRef(g *group, s Scenario) string {
	if dg := h.durableGust(); s.Durable && dg != "" && len(g.By[dg]) > 0 {
		return dg
	}
	return refTarget(g)
}

// durableTable renders a durable scenario: its rates with the reference
// target's ratio to each, loss, and what the broker wrote to disk.
func durableTable(b *strings.Builder, g *group, s Scenario, ref string) {
	ms := durableMetrics(s)
	b.WriteString("| target |")
	for _, m := range ms {
		fmt.Fprintf(b, " %s | %s ÷ target |", m.name, ref)
	}
	b.WriteString(" sent | acked | lost | dup |")
	if s.Load.Offline {
		b.WriteString(" sessions resumed |")
	} else {
		b.WriteString(" p50 µs | p99 µs |")
	}
	b.WriteString(" broker CPU-s per M msgs | broker RSS peak MiB | disk bytes written per msg | fsyncs/s | stolen CPU-s |\n|---|")
	cols := 2*len(ms) + 4 + 5
	if s.Load.Offline {
		cols++
	} else {
		cols += 2
	}
	b.WriteString(strings.Repeat("---:|", cols) + "\n")
	for _, t := range g.Targets {
		rs := g.By[t]
		if len(rs) == 0 {
			continue
		}
		if _, ok := median(rs, mRate); !ok {
			fmt.Fprintf(b, "| %s | %s |%s\n", t, errorCell(rs), strings.Repeat("|", cols-1))
			continue
		}
		fmt.Fprintf(b, "| %s |", t)
		for _, m := range ms {
			v, _ := median(rs, m.f)
			rv, ok := median(g.By[ref], m.f)
			ratio := "—"
			if ok && v > 0 {
				ratio = fmt.Sprintf("%.2f", rv/v)
			}
			fmt.Fprintf(b, " %.0f | %s |", v, ratio)
		}
		lost, dup := "n/a", "n/a" // publishers only: nothing is delivered
		if s.Load.Mode == loadgen.ModePubSub {
			lost = strconv.FormatInt(sumOK(rs, func(r Record) int64 { return r.Result.Lost }), 10)
			dup = strconv.FormatInt(sumOK(rs, func(r Record) int64 { return r.Result.Duplicated }), 10)
		}
		fmt.Fprintf(b, " %d | %d | %s | %s |",
			sumOK(rs, func(r Record) int64 { return r.Result.Sent }),
			sumOK(rs, func(r Record) int64 { return r.Result.Acked }), lost, dup)
		switch {
		case s.Load.Offline:
			fmt.Fprintf(b, " %d of %d |", sumOK(rs, func(r Record) int64 { return r.Result.Resumed }),
				sumOK(rs, func(r Record) int64 { return r.Result.Away }))
		case s.Load.Mode != loadgen.ModePubSub:
			b.WriteString(" n/a | n/a |") // nothing delivered, no latency
		default:
			p50, _ := median(rs, mP50)
			p99, _ := median(rs, mP99)
			fmt.Fprintf(b, " %.0f | %.0f |", p50, p99)
		}
		cpu, _ := median(rs, mCPU)
		rss, _ := median(rs, mRSSPeak)
		stolen, _ := median(rs, func(r Record) float64 { return r.StolenCPU })
		fmt.Fprintf(b, " %.2f | %.1f | %s | %s | %.2f |\n", cpu, rss/(1<<20), medianCell(rs, mDisk, 1), medianCell(rs, mFsync, 0), stolen)
	}
}

// durableClaims checks a durable scenario's targets: durable Gust at
// least twice Mosquitto with persistence and at least half of Gust in
// memory on every rate of the scenario, and no QoS 1 message lost.
func (h *harness) durableClaims(check func(bool, string, ...any), note func(string, ...any), g *group, s Scenario) {
	dg := h.durableGust()
	gust := g.By[dg]
	if dg == "" || len(gust) == 0 {
		return
	}
	type peer struct {
		name, label string
		factor      float64
	}
	var peers []peer
	if mp := h.mosquittoPersist(); mp != "" && len(g.By[mp]) > 0 {
		peers = append(peers, peer{name: mp, label: "Mosquitto with persistence (" + mp + ")", factor: 2})
	}
	if mem := h.memoryGust(); mem != "" && len(g.By[mem]) > 0 {
		peers = append(peers, peer{name: mem, label: "Gust in memory (" + mem + ")", factor: 0.5})
	}
	for _, m := range durableMetrics(s) {
		gr, ok := median(gust, m.f)
		if !ok {
			continue
		}
		for _, p := range peers {
			pr, ok := median(g.By[p.name], m.f)
			if !ok || pr <= 0 {
				continue
			}
			check(gr >= p.factor*pr, "%s QoS %d, %s: durable Gust (%s) %.0f = %.2fx %s %.0f (target: at least %gx)",
				g.Scenario, g.QoS, m.name, dg, gr, gr/pr, p.label, pr, p.factor)
		}
	}
	if s.Load.Mode == loadgen.ModePubSub {
		lost := sumOK(gust, func(r Record) int64 { return r.Result.Lost })
		check(lost == 0, "%s QoS %d: durable Gust (%s) lost %d messages over all repetitions (target: none)", g.Scenario, g.QoS, dg, lost)
	}
	if f, ok := medianOpt(gust, mFsync); ok {
		d, _ := medianOpt(gust, mDisk)
		note("%s QoS %d: durable Gust (%s) made %.0f fsyncs/s and wrote %.1f disk bytes per message", g.Scenario, g.QoS, dg, f, d)
	}
}
