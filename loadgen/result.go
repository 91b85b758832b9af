package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// receivers counts, for a topic, how many subscribers (a shared group
// counting once) should get each message published to it.
type receivers struct {
	exact map[string]int64
	wild  map[string]int64
}

func newReceivers(cfg *Config) *receivers {
	rc := &receivers{exact: map[string]int64{}, wild: map[string]int64{}}
	groups := map[string]bool{}
	for i := cfg.SlowSubscribers; i < cfg.Subscribers; i++ {
		group, filter := sharedGroup(expand(cfg.SubTopic, i, 0))
		if group != "" {
			key := group + "\x00" + filter
			if groups[key] {
				continue
			}
			groups[key] = true
		}
		if strings.ContainsAny(filter, "+#") {
			rc.wild[filter]++
		} else {
			rc.exact[filter]++
		}
	}
	return rc
}

func (rc *receivers) count(topic string) int64 {
	n := rc.exact[topic]
	for f, k := range rc.wild {
		if MatchTopic(f, topic) {
			n += k
		}
	}
	return n
}

// result folds the loops' stats into a Result. Called after the loops
// returned, so it may read their state without locks.
func (r *runner) result(ph phaseTimes, start time.Time) *Result {
	cfg := r.cfg
	res := &Result{
		Type: "result", Mode: cfg.Mode, Addr: cfg.Addr,
		Publishers: cfg.Publishers, Subscribers: cfg.Subscribers, Conns: cfg.Conns,
		QoS: int(cfg.QoS), PayloadSize: cfg.PayloadSize,
		Expected: -1, Lost: -1,
	}
	lat, conn := newHist(), newHist()
	var lastDelivery, lastAck int64
	var gaps uint64
	for _, l := range r.loops {
		s := l.st
		res.Connected += s.connected.Load()
		res.ConnectFailed += s.connFailed.Load()
		res.Sent += s.sent.Load()
		res.Acked += s.acked.Load()
		res.Delivered += s.delivered.Load()
		res.Duplicated += s.duplicated.Load()
		res.OutOfOrder += s.outOfOrder.Load()
		res.Errors += s.errors.Load()
		res.Foreign += s.foreign.Load()
		res.BytesOut += s.bytesOut.Load()
		res.BytesIn += s.bytesIn.Load()
		res.Segments += s.segments.Load()
		res.RetainedDone += s.retainedDone.Load()
		lastDelivery = max(lastDelivery, s.lastDelivery.Load())
		lastAck = max(lastAck, s.lastAck.Load())
		res.Away += s.away.Load()
		res.Back += s.back.Load()
		res.Resumed += s.resumed.Load()
		lat.Merge(s.latency)
		lat.Merge(s.interval) // not yet folded in by the reporter
		conn.Merge(s.connect)
		for _, c := range l.conns {
			for _, w := range c.wins {
				gaps += w.gaps()
			}
		}
	}
	switch cfg.Mode {
	case ModePubSub:
		res.Expected = r.expected.Load()
		res.Lost = max(0, res.Expected-(res.Delivered-res.Duplicated))
	case ModeSub:
		res.Lost = int64(gaps)
	case ModeConn:
		res.Lost = 0
	}
	var ready int64
	for _, l := range r.loops {
		ready += l.st.ready.Load()
	}
	res.NotReady = max(0, int64(r.clients)-ready-res.ConnectFailed)
	res.Failures = r.fails.String()
	res.Latency = percentiles(lat)
	res.ConnectLat = percentiles(conn)
	res.ConnectSecs = ph.ready.Sub(start).Seconds()
	if res.ConnectSecs > 0 {
		res.ConnectRate = float64(res.Connected) / res.ConnectSecs
	}
	res.PublishSecs = ph.pubEnd.Sub(ph.pubStart).Seconds()
	if res.PublishSecs > 0 {
		res.SendRate = float64(res.Sent) / res.PublishSecs
	}
	if lastDelivery > 0 {
		from := ph.pubStart
		if cfg.ExpectRetained > 0 {
			from = start // retained messages arrive while subscribing
		}
		res.DeliverSecs = time.Unix(0, lastDelivery).Sub(from).Seconds()
		if res.DeliverSecs > 0 {
			res.DeliverRate = float64(res.Delivered-res.Duplicated) / res.DeliverSecs
		}
	}
	if lastAck > 0 {
		res.AckSecs = time.Unix(0, lastAck).Sub(ph.pubStart).Seconds()
		if res.AckSecs > 0 {
			res.AckRate = float64(res.Acked) / res.AckSecs
		}
	}
	if !ph.back.IsZero() && lastDelivery > ph.back.UnixNano() {
		res.DrainSecs = time.Unix(0, lastDelivery).Sub(ph.back).Seconds()
		if res.DrainSecs > 0 {
			res.DrainRate = float64(res.Delivered-res.Duplicated-r.uniqAtBack) / res.DrainSecs
		}
	}
	res.Elapsed = ph.end.Sub(start).Seconds()
	return res
}

func writeJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	_, _ = w.Write(append(b, '\n'))
}

// cpuSeconds is this process's user+system CPU time so far.
func cpuSeconds() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// raiseFileLimit raises the open-file soft limit up to the hard limit when
// need exceeds it. It returns the resulting limit, a note when it changed,
// and ErrFileLimit when even the hard limit is too low.
func raiseFileLimit(need int) (limit uint64, note string, err error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, "", err
	}
	old := uint64(rl.Cur)
	if old >= uint64(need) {
		return old, "", nil
	}
	cur := fileLimitCap(uint64(rl.Max))
	setRlim(&rl.Cur, cur)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return old, "", fmt.Errorf("%w: need %d, soft limit %d and raising it failed: %v", ErrFileLimit, need, old, err)
	}
	if cur < uint64(need) {
		return cur, "", fmt.Errorf("%w: need %d open files but the hard limit is %d; raise it (ulimit -Hn, limits.conf) or use fewer connections",
			ErrFileLimit, need, cur)
	}
	return cur, fmt.Sprintf("raised open-file limit from %d to %d", old, cur), nil
}

// setRlim stores v in an rlimit field, whose type is uint64 on Linux and
// macOS and int64 on FreeBSD.
func setRlim[T int64 | uint64](f *T, v uint64) { *f = T(v) }

// reporter prints a progress line and a JSON progress object each second.
type reporter struct {
	r    *runner
	t0   time.Time
	last Progress
}

func newReporter(r *runner, start time.Time) *reporter { return &reporter{r: r, t0: start} }

// start launches the reporter goroutine and returns the function that
// stops it and waits for it.
func (rp *reporter) start() (stop func()) {
	cfg := rp.r.cfg
	if cfg.Progress == nil && cfg.JSON == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				rp.tick()
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (rp *reporter) tick() {
	r := rp.r
	p := Progress{Type: "progress", Elapsed: time.Since(rp.t0).Seconds()}
	h := newHist()
	for _, l := range r.loops {
		s := l.st
		p.Connected += s.connected.Load()
		p.Ready += s.ready.Load()
		p.Sent += s.sent.Load()
		p.Delivered += s.delivered.Load()
		p.Errors += s.errors.Load() + s.connFailed.Load()
		s.mu.Lock()
		h.Merge(s.interval)
		s.latency.Merge(s.interval)
		s.interval.Reset()
		s.mu.Unlock()
	}
	dt := p.Elapsed - rp.last.Elapsed
	if dt > 0 {
		p.SendRate = float64(p.Sent-rp.last.Sent) / dt
		p.DeliverRate = float64(p.Delivered-rp.last.Delivered) / dt
	}
	p.P99 = h.ValueAtQuantile(99)
	rp.last = p
	if w := r.cfg.Progress; w != nil {
		fmt.Fprintf(w, "%6.1fs conn %d sent %d (%.0f/s) delivered %d (%.0f/s) p99 %s errors %d\n",
			p.Elapsed, p.Connected, p.Sent, p.SendRate, p.Delivered, p.DeliverRate,
			time.Duration(p.P99)*time.Microsecond, p.Errors)
	}
	if r.cfg.JSON != nil {
		writeJSON(r.cfg.JSON, p)
	}
}
