package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// claims checks the project's performance targets against the medians of
// this run and writes one line per check, saying by how much each missed.
func (h *harness) claims(b *strings.Builder, groups []*group) {
	var lines []string
	check := func(ok bool, format string, args ...any) {
		mark := "MET"
		if !ok {
			mark = "MISSED"
		}
		lines = append(lines, fmt.Sprintf("- %s: %s", mark, fmt.Sprintf(format, args...)))
	}
	note := func(format string, args ...any) {
		lines = append(lines, "- NOTE: "+fmt.Sprintf(format, args...))
	}
	for _, g := range groups {
		if s := h.all[g.Scenario]; s.Durable {
			h.durableClaims(check, note, g, s)
			continue
		}
		gust := g.By[KindGust]
		if gust == nil {
			continue
		}
		for _, peer := range []string{KindMosquitto, KindMochi} {
			rs := g.By[peer]
			if rs == nil {
				continue
			}
			switch {
			case g.Scenario == "conn" && peer == KindMosquitto:
				// The target is the RSS per idle connection, read the same
				// way for both after holdAfter; the storm's peak is noted
				// (and checked instead when a hold reading is missing).
				gk, ok1 := median(gust, func(r Record) float64 { return r.RSSPerConn })
				pk, ok2 := median(rs, func(r Record) float64 { return r.RSSPerConn })
				gp, ok3 := median(gust, func(r Record) float64 { return r.RSSHoldPerConn })
				pp, ok4 := median(rs, func(r Record) float64 { return r.RSSHoldPerConn })
				switch {
				case ok3 && ok4 && gp > 0 && pp > 0:
					check(gp <= idleConnTarget && gp <= 0.75*pp, "conn: Gust RSS per idle connection %.0f B vs Mosquitto %.0f B (%.2fx), held %v (target: at most %d B and at least 25%% under)",
						gp, pp, gp/pp, holdAfter, idleConnTarget)
					if ok1 && ok2 {
						note("conn: RSS per connection at the storm's peak: Gust %.0f B, Mosquitto %.0f B", gk, pk)
					}
				case ok1 && ok2:
					check(gk <= pk, "conn: Gust RSS per connection at the storm's peak %.0f B vs Mosquitto %.0f B (target: no higher)", gk, pk)
				}
			case isCore(g.Scenario) && g.QoS <= 1:
				h.coreClaims(check, g, peer, gust, rs)
			}
		}
		if isCore(g.Scenario) && g.QoS == 0 {
			lost := sumOK(gust, func(r Record) int64 { return r.Result.Lost })
			sent := sumOK(gust, func(r Record) int64 { return r.Result.Expected })
			if lost > 0 && sent > 0 {
				note("%s QoS 0: Gust did not deliver %d of %d expected deliveries (%.1f%%) over all repetitions: "+
					"QoS 0 messages dropped for a subscriber that could not keep up, or still queued when the drain ended",
					g.Scenario, lost, sent, 100*float64(lost)/float64(sent))
			}
		}
		if g.Scenario == "conn" {
			want := float64(h.all["conn"].Load.Conns)
			got, ok := median(gust, func(r Record) float64 { return float64(r.Result.Connected) })
			if ok {
				check(got >= want, "conn: Gust held %.0f of %.0f connections", got, want)
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("## Targets\n\nChecked on this run's medians against the project's targets. A p99 is compared on the " +
		"repetitions during which the hypervisor stole under 1% of the machine's CPU when both targets have some and some " +
		"were not (the line says so), since a neighbour's stall, not the broker, then decides the tail.\n\n")
	b.WriteString(strings.Join(lines, "\n"))
	b.WriteString("\n")
}

// idleConnTarget is the most RSS per idle connection the conn claim
// accepts from Gust, in bytes (and it must be 25% under Mosquitto's).
const idleConnTarget = 512

func isCore(s string) bool {
	switch s {
	case "fanin", "fanout", "p2p", "fanin-steady", "fanout-steady", "p2p-steady", "fanout-wide-steady":
		return true
	}
	return false
}

func (h *harness) coreClaims(check func(bool, string, ...any), g *group, peer string, gust, rs []Record) {
	gr, ok1 := median(gust, mRate)
	pr, ok2 := median(rs, mRate)
	if !ok1 || !ok2 || pr == 0 {
		return
	}
	if strings.HasSuffix(g.Scenario, "-steady") {
		// Fixed offered load: only latency (and loss) can differ.
		gs, ps, tag := calmPair(gust, rs)
		gp, _ := median(gs, mP99)
		pp, _ := median(ps, mP99)
		check(gp < pp, "%s QoS %d: Gust p99 %.0f µs vs %s %.0f µs at the same fixed rate%s (target: lower)", g.Scenario, g.QoS, gp, peer, pp, tag)
		return
	}
	check(gr >= 2*pr, "%s QoS %d: Gust %.0f msg/s = %.2fx %s (%.0f msg/s; target 2x)", g.Scenario, g.QoS, gr, gr/pr, peer, pr)
	if peer == KindMosquitto && g.QoS > 0 {
		lost := sumOK(gust, func(r Record) int64 { return r.Result.Lost })
		check(lost == 0, "%s QoS %d: Gust lost %d QoS %d messages over all repetitions (target: none)", g.Scenario, g.QoS, lost, g.QoS)
	}
	gs, ps, tag := calmPair(gust, rs)
	gp, _ := median(gs, mP99)
	pp, _ := median(ps, mP99)
	check(gp < pp, "%s QoS %d: Gust p99 %.0f µs vs %s %.0f µs%s (target: lower)", g.Scenario, g.QoS, gp, peer, pp, tag)
	if peer == KindMosquitto {
		gc, _ := median(gust, mCPU)
		pc, _ := median(rs, mCPU)
		if pc > 0 {
			check(gc <= pc/2, "%s QoS %d: Gust %.2f CPU-s per M msgs = %.2fx Mosquitto's %.2f (target: at most 0.5x)",
				g.Scenario, g.QoS, gc, gc/pc, pc)
		}
	}
}

// calmShare is the largest share of the machine's CPU capacity during a
// run that the hypervisor may have stolen for the run to count as calm.
const calmShare = 0.01

// calm returns the records of rs during which the hypervisor stole at
// most calmShare of the machine's CPU capacity.
func calm(rs []Record) []Record {
	var out []Record
	for _, r := range rs {
		if r.Result != nil && r.StolenCPU <= calmShare*r.Result.Elapsed*float64(runtime.NumCPU()) {
			out = append(out, r)
		}
	}
	return out
}

// calmPair chooses the repetitions a latency target is checked on. A
// neighbour on the hypervisor stalls whatever run is on the machine for
// milliseconds at a time, which decides a p99 (the steal column shows
// it), so when both targets have calm repetitions and some were not, the
// check uses the calm ones, the same rule for every target, and says so;
// when one target has none, it uses all and says that too.
func calmPair(gust, peer []Record) (g, p []Record, tag string) {
	cg, cp := calm(gust), calm(peer)
	switch {
	case len(cg) == len(gust) && len(cp) == len(peer):
		return gust, peer, ""
	case len(cg) > 0 && len(cp) > 0:
		return cg, cp, fmt.Sprintf(", on the repetitions with under %.0f%% of the CPU stolen by the hypervisor (Gust %d of %d, peer %d of %d)",
			100*calmShare, len(cg), len(gust), len(cp), len(peer))
	}
	return gust, peer, fmt.Sprintf(", CPU stolen by the hypervisor in every repetition of one of them (Gust %d of %d calm, peer %d of %d): within noise",
		len(cg), len(gust), len(cp), len(peer))
}

// writeIndex regenerates base/README.md: every run directory, newest
// first, and the newest run's summary.
func writeIndex(base string) error {
	entries, err := os.ReadDir(base)
	if err != nil {
		return err
	}
	var runs []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(base, e.Name(), "summary.md")); err == nil {
				runs = append(runs, e.Name())
			}
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(runs)))
	var b strings.Builder
	b.WriteString("# Benchmark results\n\nGenerated by `gust bench` (the harness in `bench/`); do not edit by hand. " +
		"Each directory is `<date>-<scenarios>-<commit>` with `env.txt`, `raw.jsonl`, `summary.md`, plots and `index.html` (the page of them all).\n\n## Runs\n\n")
	for _, r := range runs {
		fmt.Fprintf(&b, "- [%s](%s/summary.md)", r, r)
		if _, err := os.Stat(filepath.Join(base, r, HTMLPage)); err == nil {
			fmt.Fprintf(&b, " ([page](%s/%s): tables and plots together)", r, HTMLPage)
		}
		b.WriteByte('\n')
	}
	if len(runs) > 0 {
		latest, err := os.ReadFile(filepath.Join(base, runs[0], "summary.md"))
		if err != nil {
			return err
		}
		body := strings.ReplaceAll(string(latest), "](", "]("+runs[0]+"/")
		body = strings.Replace(body, "# Gust benchmark:", "## Latest comparison:", 1)
		body = strings.ReplaceAll(body, "\n## ", "\n### ")
		body = strings.Replace(body, "### Latest comparison:", "## Latest comparison:", 1)
		b.WriteString("\n" + body)
	}
	return os.WriteFile(filepath.Join(base, "README.md"), []byte(b.String()), 0o644)
}
