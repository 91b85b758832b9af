package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LocalResults is where runs go under the results directory unless they
// are published (Config.Publish); .gitignore lists it.
const LocalResults = "local"

// write creates the run directory with env.txt, raw.jsonl, summary.md,
// plots and the page of them all (index.html), then regenerates the index (README.md) of the directory it is in,
// unless that is the tracked results directory and the run is not
// published.
func (h *harness) write(records []Record, claims []ClaimRow) (string, error) {
	tracked := filepath.Join(h.root, "results")
	base := h.cfg.ResultsDir
	if base == "" {
		base = filepath.Join(tracked, LocalResults)
		if h.cfg.Publish {
			base = tracked
		}
	}
	label := h.cfg.Label
	if label == "" {
		label = strings.Join(h.cfg.Scenarios, "-")
		switch {
		case h.allDurable():
			label = DurableGroup
		case len(h.cfg.Scenarios) > 3:
			label = map[Size]string{Quick: "quick", Standard: "standard"}[h.cfg.Size]
		}
	}
	name := h.started.UTC().Format("2006-01-02T1504") + "-" + label + "-" + gitCommit(h.root)
	dir := filepath.Join(base, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "env.txt"), []byte(h.envText()), 0o644); err != nil {
		return dir, err
	}
	var raw strings.Builder
	for _, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			return dir, err
		}
		raw.Write(b)
		raw.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "raw.jsonl"), []byte(raw.String()), 0o644); err != nil {
		return dir, err
	}
	groups := groupRecords(records, h.targetNames())
	var plots []string
	if h.cfg.Plots {
		var err error
		if plots, err = writePlots(dir, groups, h.all); err != nil {
			h.logf("plots: %v", err)
		}
	}
	sum := h.summary(groups, plots)
	if len(claims) > 0 {
		sum += "\n" + claimsMarkdown(claims)
		var cj strings.Builder
		for _, c := range claims {
			b, _ := json.Marshal(c)
			cj.Write(b)
			cj.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, "claims.jsonl"), []byte(cj.String()), 0o644); err != nil {
			return dir, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(sum), 0o644); err != nil {
		return dir, err
	}
	if err := RenderHTML(dir); err != nil {
		return dir, err
	}
	if !h.cfg.Publish && sameDir(base, tracked) {
		return dir, nil
	}
	return dir, writeIndex(base)
}

// sameDir reports whether a and b name one directory.
func sameDir(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// allDurable reports whether every scenario of the run is in the durable group.
func (h *harness) allDurable() bool {
	for _, n := range h.cfg.Scenarios {
		if !h.all[n].Durable {
			return false
		}
	}
	return len(h.cfg.Scenarios) > 0
}

func (h *harness) targetNames() []string {
	var out []string
	for _, t := range h.targets {
		out = append(out, t.Name)
	}
	return out
}

// group is every record of one scenario at one QoS, by target.
type group struct {
	Scenario string
	QoS      int
	Targets  []string
	By       map[string][]Record
}

func groupRecords(records []Record, targets []string) []*group {
	var out []*group
	idx := map[string]*group{}
	for _, r := range records {
		key := fmt.Sprintf("%s/%d", r.Scenario, r.QoS)
		g := idx[key]
		if g == nil {
			g = &group{Scenario: r.Scenario, QoS: r.QoS, Targets: targets, By: map[string][]Record{}}
			idx[key] = g
			out = append(out, g)
		}
		g.By[r.Target] = append(g.By[r.Target], r)
	}
	return out
}

// median returns the median of f over the successful records.
func median(rs []Record, f func(Record) float64) (float64, bool) {
	var v []float64
	for _, r := range rs {
		if r.Error == "" && r.Result != nil {
			v = append(v, f(r))
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// medianOpt is median over the records whose f is measured (not nil).
func medianOpt(rs []Record, f func(Record) *float64) (float64, bool) {
	var have []Record
	for _, r := range rs {
		if r.Error == "" && r.Result != nil && f(r) != nil {
			have = append(have, r)
		}
	}
	return median(have, func(r Record) float64 { return *f(r) })
}

// optional formats a measured figure with prec decimals, or "n/a".
func optional(v *float64, prec int) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

// medianCell is the median of an optional figure over rs, or "n/a".
func medianCell(rs []Record, f func(Record) *float64, prec int) string {
	v, ok := medianOpt(rs, f)
	if !ok {
		return "n/a"
	}
	return optional(&v, prec)
}

var (
	mDisk  = func(r Record) *float64 { return r.DiskBytesPerMsg }
	mFsync = func(r Record) *float64 { return r.FsyncsPerSec }
)

func sumOK(rs []Record, f func(Record) int64) int64 {
	var n int64
	for _, r := range rs {
		if r.Error == "" && r.Result != nil {
			n += f(r)
		}
	}
	return n
}

func firstError(rs []Record) string {
	for _, r := range rs {
		if r.Error != "" {
			return r.Error
		}
	}
	return ""
}

// Metric extractors.
var (
	mRate    = func(r Record) float64 { return r.Result.DeliverRate }
	mP50     = func(r Record) float64 { return float64(r.Result.Latency.P50) }
	mP99     = func(r Record) float64 { return float64(r.Result.Latency.P99) }
	mCPU     = func(r Record) float64 { return r.CPUPerMillion }
	mGenCPU  = func(r Record) float64 { return r.Result.GenCPUSecs }
	mRSSPeak = func(r Record) float64 {
		if r.Broker == nil {
			return 0
		}
		return float64(r.Broker.RSSPeak)
	}
)

func (h *harness) summary(groups []*group, plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Gust benchmark: %s\n\n", h.started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "Commit %s, %d repetition(s) per target, targets alternated each repetition; medians shown. "+
		"Machine and flags: [env.txt](env.txt); every run: [raw.jsonl](raw.jsonl).\n\n", gitCommit(h.root), h.cfg.Reps)
	if h.cfg.WebSocket {
		b.WriteString("Transport: every client speaks MQTT over WebSocket (ws://, masked binary frames, no " +
			"permessage-deflate), to Gust's --listen-ws listener and Mosquitto's `protocol websockets` one " +
			"(libwebsockets).\n\n")
	}
	pace := "QoS 0 runs are flat out (publishers paced only by their sockets), so their latency is queueing under " +
		"saturation, not idle latency; QoS 1/2 publishers keep at most 64 messages in flight each"
	if h.cfg.Rate > 0 {
		pace = fmt.Sprintf("every publisher of the message scenarios sends %.0f msg/s", h.cfg.Rate)
	}
	if h.cfg.Generator == GeneratorPaho {
		pace = "the clients are paho.mqtt.golang's, one goroutine per client, and each publisher waits for every publish " +
			"to complete (its PUBACK at QoS 1, its write at QoS 0) before the next, as mqtt-benchmark does: such a generator " +
			"measures its own round trips as much as the broker, so compare the brokers' CPU per message, not only msg/s"
	}
	fmt.Fprintf(&b, "Caveats: the generator and the brokers share this machine's cores, so every figure includes their "+
		"competition for CPU (Gust is given one event loop per core less the one the generator keeps busy: "+
		strings.Join(GustArgs(), " ")+"; Mosquitto is single-threaded; mochi uses every core); %s; a run that lost messages says so in the `lost` column (QoS 0 loss includes what was "+
		"still undelivered when the drain period ended); `accepted msg/s` is what the publishers wrote and the broker "+
		"read (a broker that stops reading slows its publishers down), and `delivered ÷ expected` the share of the deliveries "+
		"those messages owed the subscribers that arrived; `other CPU-s` is the machine's busy CPU time during the run "+
		"that was neither the broker's nor the generator's: other work on the machine competing with the run, plus "+
		"kernel network processing charged to no process (softirq); `stolen CPU-s` is CPU time the hypervisor gave to "+
		"other guests during the run (steal; 0 on bare metal): a run with some was slowed by a neighbour, and its "+
		"latency tail shows it more than its medians.\n\n", pace)
	for _, s := range h.skipped {
		fmt.Fprintf(&b, "- Skipped target %s\n", s)
	}
	durableSaid := false
	for _, g := range groups {
		s := h.all[g.Scenario]
		fmt.Fprintf(&b, "## %s, QoS %d\n\n%s.\n\n", g.Scenario, g.QoS, s.Description)
		if s.Durable && !durableSaid {
			durableSaid = true
			b.WriteString(durableCaveat())
		}
		switch {
		case s.PerConn:
			if h.cfg.NoWarmUp {
				b.WriteString("Without the warm-up (--no-warmup): the RSS baseline is the freshly started broker's, so what a broker touches once is charged to the connections.\n\n")
			}
			connTable(&b, g)
		case s.Load.ExpectRetained > 0:
			retainedTable(&b, g)
		case s.Durable:
			durableTable(&b, g, s, h.ratioRef(g, s))
		default:
			msgTable(&b, g)
			b.WriteString("\n" + floorNote(g))
		}
		for _, p := range plots {
			if strings.HasPrefix(p, fmt.Sprintf("%s-qos%d-", g.Scenario, g.QoS)) || (s.PerConn && strings.HasPrefix(p, g.Scenario+"-")) {
				fmt.Fprintf(&b, "![%s](%s)\n", p, p)
			}
		}
		b.WriteString("\n")
	}
	h.claims(&b, groups)
	return b.String()
}

func msgTable(b *strings.Builder, g *group) {
	ref, hasRef := median(g.By[refTarget(g)], mRate)
	fl := floorOf(g)
	fmt.Fprintf(b, "| target | delivered msg/s | %s ÷ target |", refTarget(g))
	if fl.ok {
		b.WriteString(" msg/s ÷ floor's | CPU per msg ÷ floor's |")
	}
	b.WriteString(" accepted msg/s | delivered ÷ expected | p50 µs | p99 µs | sent | lost | dup | out of order | broker CPU-s per M msgs | broker RSS peak MiB | generator CPU-s | other CPU-s | stolen CPU-s | disk bytes written per msg | fsyncs/s |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	if fl.ok {
		b.WriteString("---:|---:|")
	}
	b.WriteString("\n")
	for _, t := range g.Targets {
		rs := g.By[t]
		if len(rs) == 0 {
			continue // target not run for this scenario (the HTTP baseline)
		}
		rate, ok := median(rs, mRate)
		if !ok {
			fmt.Fprintf(b, "| %s | %s |||||||||||||||||\n", t, errorCell(rs))
			continue
		}
		ratio := "—"
		if hasRef && rate > 0 {
			ratio = fmt.Sprintf("%.2f", ref/rate)
		}
		p50, _ := median(rs, mP50)
		p99, _ := median(rs, mP99)
		cpu, _ := median(rs, mCPU)
		rss, _ := median(rs, mRSSPeak)
		gen, _ := median(rs, mGenCPU)
		other, _ := median(rs, func(r Record) float64 { return r.OtherCPU })
		stolen, _ := median(rs, func(r Record) float64 { return r.StolenCPU })
		accepted, _ := median(rs, func(r Record) float64 { return r.Result.SendRate })
		share := "—"
		if exp := sumOK(rs, func(r Record) int64 { return r.Result.Expected }); exp > 0 {
			share = fmt.Sprintf("%.1f%%", 100*float64(sumOK(rs, func(r Record) int64 { return r.Result.Delivered }))/float64(exp))
		}
		if fl.ok {
			ratio += " | " + fl.cells(rate, cpu)
		}
		fmt.Fprintf(b, "| %s | %.0f | %s | %.0f | %s | %.0f | %.0f | %d | %d | %d | %d | %.2f | %.1f | %.2f | %.2f | %.2f | %s | %s |\n",
			t, rate, ratio, accepted, share, p50, p99,
			sumOK(rs, func(r Record) int64 { return r.Result.Sent }),
			sumOK(rs, func(r Record) int64 { return r.Result.Lost }),
			sumOK(rs, func(r Record) int64 { return r.Result.Duplicated }),
			sumOK(rs, func(r Record) int64 { return r.Result.OutOfOrder }),
			cpu, rss/(1<<20), gen, other, stolen, medianCell(rs, mDisk, 1), medianCell(rs, mFsync, 0))
	}
}

// floorRef is the floor relay's medians in one group.
type floorRef struct {
	ok        bool
	rate, cpu float64
}

// floorOf returns the medians of g's floor target, if it ran.
func floorOf(g *group) floorRef {
	rs := g.By[KindFloor]
	rate, ok := median(rs, mRate)
	if !ok || rate <= 0 {
		return floorRef{}
	}
	cpu, _ := median(rs, mCPU)
	return floorRef{ok: true, rate: rate, cpu: cpu}
}

// cells are a target's msg/s as a share of the floor's and its broker CPU
// per message as a multiple of the floor's.
func (f floorRef) cells(rate, cpu float64) string {
	c := "—"
	if f.cpu > 0 && cpu > 0 {
		c = fmt.Sprintf("%.1fx", cpu/f.cpu)
	}
	return fmt.Sprintf("%.0f%% | %s", 100*rate/f.rate, c)
}

// floorNote says how close Gust came to the floor in g, or "".
func floorNote(g *group) string {
	fl := floorOf(g)
	gust, ok := median(g.By[refTarget(g)], mRate)
	if !fl.ok || !ok || refTarget(g) == KindFloor {
		return ""
	}
	cpu, _ := median(g.By[refTarget(g)], mCPU)
	return fmt.Sprintf("The floor (a relay of frames by topic, no broker work) delivered %.0f msg/s at %.2f CPU-s per million: "+
		"%s reached %.0f%% of its msg/s with %.1fx its CPU per message.\n\n", fl.rate, fl.cpu, refTarget(g), 100*gust/fl.rate, cpu/max(fl.cpu, 1e-9))
}

func connTable(b *strings.Builder, g *group) {
	b.WriteString("| target | connected | failed | connect/s | connect p99 µs | broker RSS peak MiB | RSS per connection at the storm's peak (B) | RSS per idle connection, held " + holdAfter.String() + " (B) | RSS for 1M idle connections (GiB, extrapolated) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range g.Targets {
		rs := g.By[t]
		if len(rs) == 0 {
			continue // target not run for this scenario (the HTTP baseline)
		}
		conn, ok := median(rs, func(r Record) float64 { return float64(r.Result.Connected) })
		if !ok {
			fmt.Fprintf(b, "| %s | %s ||||||||\n", t, errorCell(rs))
			continue
		}
		failed, _ := median(rs, func(r Record) float64 { return float64(r.Result.ConnectFailed) })
		rate, _ := median(rs, func(r Record) float64 { return r.Result.ConnectRate })
		p99, _ := median(rs, func(r Record) float64 { return float64(r.Result.ConnectLat.P99) })
		rss, _ := median(rs, mRSSPeak)
		per, _ := median(rs, func(r Record) float64 { return r.RSSPerConn })
		held, _ := median(rs, func(r Record) float64 { return r.RSSHoldPerConn })
		fmt.Fprintf(b, "| %s | %.0f | %.0f | %.0f | %.0f | %.1f | %.0f | %.0f | %.2f |\n",
			t, conn, failed, rate, p99, rss/(1<<20), per, held, held*1e6/(1<<30))
	}
}

func retainedTable(b *strings.Builder, g *group) {
	b.WriteString("| target | subscribers done | time to all retained p50 ms | p99 ms | delivered | broker CPU-s | broker RSS peak MiB |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range g.Targets {
		rs := g.By[t]
		if len(rs) == 0 {
			continue // target not run for this scenario (the HTTP baseline)
		}
		done, ok := median(rs, func(r Record) float64 { return float64(r.Result.RetainedDone) })
		if !ok {
			fmt.Fprintf(b, "| %s | %s ||||||\n", t, errorCell(rs))
			continue
		}
		p50, _ := median(rs, mP50)
		p99, _ := median(rs, mP99)
		del, _ := median(rs, func(r Record) float64 { return float64(r.Result.Delivered) })
		cpu, _ := median(rs, func(r Record) float64 {
			if r.Broker == nil {
				return 0
			}
			return r.Broker.CPUSecs
		})
		rss, _ := median(rs, mRSSPeak)
		fmt.Fprintf(b, "| %s | %.0f | %.1f | %.1f | %.0f | %.2f | %.1f |\n", t, done, p50/1000, p99/1000, del, cpu, rss/(1<<20))
	}
}

// refTarget is the reference of the ratios: the first target named gust,
// else the first target.
func refTarget(g *group) string {
	for _, t := range g.Targets {
		if t == KindGust {
			return t
		}
	}
	if len(g.Targets) > 0 {
		return g.Targets[0]
	}
	return ""
}

// errorCell says why rs has no figures: the reason a target was not run,
// or the first error.
func errorCell(rs []Record) string {
	e := oneLine(firstError(rs))
	if strings.HasPrefix(e, NotRunPrefix) {
		return e
	}
	return "error: " + e
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
