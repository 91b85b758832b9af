package loadgen

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
)

// scratch holds one loop's reusable decode targets.
type scratch struct {
	pub     codec.Publish
	ack     codec.Ack
	connack codec.Connack
	suback  codec.Suback

	disconnect codec.Disconnect
}

// runner is the state shared by the loops of one run.
type runner struct {
	cfg    *Config
	family int
	sa     unix.Sockaddr
	// roleSA are the resolved SubAddrs, PubAddrs and ConnAddrs, in that
	// order (empty: the role connects to sa).
	roleSA  [3][]unix.Sockaddr
	loops   []*loop
	scratch []scratch
	clients int
	// startNanos is the run's start; older stamps are foreign.
	startNanos int64

	publishing atomic.Bool // publish phase started
	stopPub    atomic.Bool // publish phase over
	quit       atomic.Bool // loops must disconnect and return
	pubsDone   atomic.Int64
	expected   atomic.Int64

	// Offline: away tells the loops to send their subscribers away, back
	// to bring them back; awayLoops counts loops that acted on away.
	away, back atomic.Bool
	awayLoops  atomic.Int64
	// uniqAtBack is the unique deliveries counted when back was set.
	uniqAtBack int64
	fails      failures // why clients failed or were lost
}

// Run executes one bounded load run described by cfg and returns its
// result. It returns early with an error only when the run cannot start
// (bad config, unresolvable address, file limit); failures during the run
// are counted in the Result. Cancelling ctx ends the run early.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	r := &runner{cfg: &cfg}
	if err := r.resolve(); err != nil {
		return nil, err
	}
	r.clients = cfg.Publishers + cfg.Subscribers + cfg.Conns
	limit, note, err := raiseFileLimit(r.clients + 64)
	if err != nil {
		return nil, err
	}
	if err := r.build(); err != nil {
		return nil, err
	}
	rusage0 := cpuSeconds()
	start := time.Now()
	r.startNanos = start.UnixNano()
	var wg sync.WaitGroup
	for _, l := range r.loops {
		wg.Add(1)
		go func() { defer wg.Done(); l.run() }()
	}
	rep := newReporter(r, start)
	stopRep := rep.start()
	ph := r.phases(ctx, start)
	stopRep()
	r.quit.Store(true)
	wg.Wait()
	res := r.result(ph, start)
	res.GenCPUSecs = cpuSeconds() - rusage0
	res.FileLimit = limit
	res.addNote(note)
	res.addNote(segmentsNote)
	if res.Elapsed > 0 && res.GenCPUSecs/res.Elapsed > 0.9*float64(len(r.loops)) {
		res.addNote(fmt.Sprintf("the generator used %.2f CPUs with %d loops: it may be the bottleneck",
			res.GenCPUSecs/res.Elapsed, len(r.loops)))
	}
	if cfg.JSON != nil {
		writeJSON(cfg.JSON, res)
	}
	return res, nil
}

// resolve turns cfg.Addr, and the role addresses, into socket addresses.
func (r *runner) resolve() error {
	var err error
	if r.sa, err = resolveAddr(r.cfg.Addr); err != nil {
		return err
	}
	r.family = familyOf(r.sa)
	for role, list := range [][]string{r.cfg.SubAddrs, r.cfg.PubAddrs, r.cfg.ConnAddrs} {
		for _, a := range list {
			sa, err := resolveAddr(a)
			if err != nil {
				return err
			}
			if familyOf(sa) != r.family {
				return fmt.Errorf("%w: %s is not of the family of %s", ErrRoleAddr, a, r.cfg.Addr)
			}
			r.roleSA[role] = append(r.roleSA[role], sa)
		}
	}
	return nil
}

// resolveAddr turns a host:port into a socket address.
func resolveAddr(addr string) (unix.Sockaddr, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: resolve %s: %w", addr, err)
	}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	}
	sa := &unix.SockaddrInet6{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To16())
	return sa, nil
}

func familyOf(sa unix.Sockaddr) int {
	if _, ok := sa.(*unix.SockaddrInet4); ok {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// localAddrs returns the source addresses to spread clients over: the
// configured list or, for a loopback broker and more than a few thousand
// clients, 127.0.0.1..127.0.0.k with about 4000 clients per address. Each
// source address has its own port space, so this is needed past ~64k
// connections; it also keeps the kernel's ephemeral port search short:
// with one source address, every connect searches a port range that is
// nearly full once tens of thousands of connections are open.
func (r *runner) localAddrs() []unix.Sockaddr {
	list := r.cfg.LocalAddrs
	if len(list) == 0 && r.clients > 2000 && r.family == unix.AF_INET {
		if sa := r.sa.(*unix.SockaddrInet4); sa.Addr[0] == 127 {
			for i := 0; i*4000 < r.clients && i < 250; i++ {
				list = append(list, "127.0.0."+strconv.Itoa(i+1))
			}
		}
	}
	var out []unix.Sockaddr
	for _, a := range list {
		ip := net.ParseIP(a)
		if ip4 := ip.To4(); ip4 != nil && r.family == unix.AF_INET {
			sa := &unix.SockaddrInet4{}
			copy(sa.Addr[:], ip4)
			out = append(out, sa)
		} else if ip4 == nil && r.family == unix.AF_INET6 {
			sa := &unix.SockaddrInet6{}
			copy(sa.Addr[:], ip.To16())
			out = append(out, sa)
		}
	}
	return out
}

// build creates the loops and distributes the clients round-robin:
// subscribers first (so they are subscribed before publishers start),
// then publishers, then idle connections.
func (r *runner) build() error {
	cfg := r.cfg
	n := cfg.Loops
	if n > r.clients {
		n = r.clients
	}
	for i := 0; i < n; i++ {
		l, err := newLoop(r, i)
		if err != nil {
			for _, l := range r.loops {
				_ = l.p.close()
			}
			return err
		}
		l.connRate = cfg.ConnectRate / float64(n)
		l.sa = cloneSockaddr(r.sa)
		r.loops = append(r.loops, l)
	}
	r.scratch = make([]scratch, n)
	locals := r.localAddrs()
	// unix.Sockaddr values carry a scratch buffer written by each syscall,
	// so every loop needs its own copies.
	perLoop := make([][]unix.Sockaddr, n)
	for i := range perLoop {
		for _, sa := range locals {
			perLoop[i] = append(perLoop[i], cloneSockaddr(sa))
		}
	}
	var remotes [3][][]unix.Sockaddr // [role][loop][i], per-loop copies as locals
	for role, list := range r.roleSA {
		remotes[role] = make([][]unix.Sockaddr, n)
		for i := range remotes[role] {
			for _, sa := range list {
				remotes[role][i] = append(remotes[role][i], cloneSockaddr(sa))
			}
		}
	}
	recv := newReceivers(cfg)
	k := 0
	add := func(c *conn) {
		l := r.loops[k%n]
		c.l, c.slot, c.fd = l, len(l.conns), -1
		if len(locals) > 0 {
			c.local = perLoop[k%n][k%len(locals)]
		}
		if list := remotes[roleIndex(c.role)][k%n]; len(list) > 0 {
			c.remote = list[c.idx%len(list)]
		}
		l.conns = append(l.conns, c)
		if c.role == rolePub {
			l.pubs = append(l.pubs, c)
		}
		k++
	}
	for i := 0; i < cfg.Subscribers; i++ {
		add(&conn{role: roleSub, idx: i, slow: i < cfg.SlowSubscribers,
			filter: expand(cfg.SubTopic, i, 0), wins: map[uint32]*seqWindow{}})
	}
	for i := 0; i < cfg.Publishers; i++ {
		add(newPublisher(cfg, i, recv))
	}
	for i := 0; i < cfg.Conns; i++ {
		add(&conn{role: roleIdle, idx: i})
	}
	return nil
}

// roleIndex is the index of a role's addresses in runner.roleSA.
func roleIndex(r role) int {
	switch r {
	case roleSub:
		return 0
	case rolePub:
		return 1
	}
	return 2
}

// newPublisher prepares publisher i: topic, payload, packet ids.
func newPublisher(cfg *Config, i int, recv *receivers) *conn {
	c := &conn{role: rolePub, idx: i, payload: make([]byte, cfg.PayloadSize), window: cfg.Inflight}
	topic := expand(cfg.PubTopic, i, 0)
	if containsN(cfg.PubTopic) {
		c.topicTmpl = cfg.PubTopic
	}
	c.pub = codec.Publish{QoS: cfg.QoS, Retain: cfg.Retain, Topic: []byte(topic), Payload: c.payload}
	if cfg.QoS > 0 {
		c.inUse = make([]bool, cfg.Inflight+1)
		for id := cfg.Inflight; id >= 1; id-- {
			c.free = append(c.free, uint16(id))
		}
	}
	if cfg.Mode == ModePubSub {
		c.recv = recv.count(topic)
	}
	return c
}

func cloneSockaddr(sa unix.Sockaddr) unix.Sockaddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &unix.SockaddrInet4{Port: a.Port, Addr: a.Addr}
	case *unix.SockaddrInet6:
		return &unix.SockaddrInet6{Port: a.Port, ZoneId: a.ZoneId, Addr: a.Addr}
	}
	return sa
}

func containsN(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' && s[i+1] == 'n' {
			return true
		}
	}
	return false
}

// phaseTimes records when each phase of a run ended.
type phaseTimes struct {
	ready, pubStart, pubEnd, end time.Time
	back                         time.Time // Offline: when the subscribers were called back
}

// phases drives connect, publish and drain, and returns their times.
func (r *runner) phases(ctx context.Context, start time.Time) phaseTimes {
	cfg := r.cfg
	var ph phaseTimes
	deadline := start.Add(cfg.ConnectTimeout)
	wait(ctx, deadline, func() bool {
		return r.sum(func(s *loopStats) int64 { return s.ready.Load() + s.connFailed.Load() }) >= int64(r.clients)
	})
	ph.ready = time.Now()
	if cfg.Offline {
		r.sendAway(ctx, ph.ready.Add(cfg.ConnectTimeout))
	}
	if cfg.Settle > 0 {
		wait(ctx, time.Now().Add(cfg.Settle), func() bool { return false })
	}
	ph.pubStart = time.Now()
	r.publishing.Store(true)
	switch {
	case cfg.Mode == ModeConn:
		wait(ctx, ph.pubStart.Add(cfg.Duration), func() bool { return false })
	case cfg.ExpectRetained > 0:
		wait(ctx, ph.pubStart.Add(cfg.Duration+cfg.Drain), func() bool {
			return r.sum(func(s *loopStats) int64 { return s.retainedDone.Load() }) >= int64(cfg.Subscribers-cfg.SlowSubscribers)
		})
	default:
		end := ph.pubStart.Add(cfg.Duration)
		if cfg.Duration <= 0 {
			end = ph.pubStart.Add(24 * time.Hour)
		}
		wait(ctx, end, func() bool { return cfg.Publishers > 0 && r.pubsDone.Load() >= int64(cfg.Publishers) })
	}
	r.stopPub.Store(true)
	ph.pubEnd = time.Now()
	r.settle(ctx)
	switch {
	case cfg.Offline:
		wait(ctx, ph.pubEnd.Add(cfg.Drain), r.acknowledged)
		r.uniqAtBack = r.uniq()
		ph.back = time.Now()
		r.back.Store(true)
		wait(ctx, ph.back.Add(cfg.Drain), r.drained)
	case cfg.Mode == ModePubSub || (cfg.Mode == ModePub && cfg.QoS > 0):
		wait(ctx, ph.pubEnd.Add(cfg.Drain), r.drained)
	}
	ph.end = time.Now()
	return ph
}

// settle waits until every loop has finished the turn it was in when the
// publish phase ended, so the messages that turn sent are in the counters
// before drained compares them.
func (r *runner) settle(ctx context.Context) {
	seen := make([]int64, len(r.loops))
	for i, l := range r.loops {
		seen[i] = l.turns.Load()
	}
	wait(ctx, time.Now().Add(time.Second), func() bool {
		for i, l := range r.loops {
			if l.turns.Load() <= seen[i] {
				return false
			}
		}
		return true
	})
}

// sendAway tells the loops to disconnect their subscribers and waits,
// until deadline at most, for the broker to have closed every connection
// the subscribers left, so no message is published while a session is
// still online (Offline).
func (r *runner) sendAway(ctx context.Context, deadline time.Time) {
	r.away.Store(true)
	wait(ctx, deadline, func() bool {
		return r.awayLoops.Load() == int64(len(r.loops)) &&
			r.sum(func(s *loopStats) int64 { return s.away.Load() }) >= r.sum(func(s *loopStats) int64 { return s.leaving.Load() })
	})
}

// acknowledged reports whether every QoS 1/2 publish was acknowledged.
func (r *runner) acknowledged() bool {
	return r.cfg.QoS == 0 || r.sum(func(s *loopStats) int64 { return s.acked.Load() }) >= r.sum(func(s *loopStats) int64 { return s.sent.Load() })
}

// uniq is the deliveries so far, duplicates left out.
func (r *runner) uniq() int64 {
	return r.sum(func(s *loopStats) int64 { return s.delivered.Load() - s.duplicated.Load() })
}

// drained reports whether every expected delivery arrived and every
// QoS 1/2 publish was acknowledged.
func (r *runner) drained() bool {
	if !r.acknowledged() {
		return false
	}
	if r.cfg.Mode != ModePubSub {
		return true
	}
	return r.uniq() >= r.expected.Load()
}

// wait polls done every 5 ms until it is true, the deadline passes or ctx ends.
func wait(ctx context.Context, deadline time.Time, done func() bool) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !done() && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sum adds f over the loops' stats.
func (r *runner) sum(f func(*loopStats) int64) int64 {
	var n int64
	for _, l := range r.loops {
		n += f(l.st)
	}
	return n
}
