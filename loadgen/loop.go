package loadgen

import (
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// interest is the readiness a connection waits for. A close by the peer
// is reported whatever the interest (see poller.event's hangup).
type interest uint8

const (
	wantRead interest = 1 << iota
	wantWrite
)

const (
	readBufSize = 64 << 10
	// outHighWater stops a publisher from encoding more while this many
	// bytes wait for the socket (the broker is not reading fast enough).
	outHighWater = 512 << 10
	// flatBurst is how many messages a flat-out publisher encodes per turn.
	flatBurst = 64
	// flatSendBuf is the socket send buffer of flat-out QoS 0 publishers.
	flatSendBuf = 64 << 10
	maxEvents   = 512
)

// loop is one event loop: a poller (epoll or kqueue) and the connections
// it owns. Every method is loop-only (called on the loop's goroutine).
type loop struct {
	r     *runner
	id    int
	p     poller
	sa    unix.Sockaddr // the broker's address (a per-loop copy)
	conns []*conn       // all clients of this loop; the poller reports the index
	pubs  []*conn
	rbuf  []byte
	plain []byte // decrypted bytes of one TLS record (tls.go)
	// wsPlain and wsScratch are WebSocket clients' scratch: the payload
	// of one read, the bytes of one frame being masked.
	wsPlain, wsScratch []byte
	dirty              []*conn
	st                 *loopStats
	acc                accum        // counts of this turn, published to st once per turn
	turns              atomic.Int64 // completed turns; lets the runner wait for counts to settle

	// awaySeen and backSeen record that this loop has acted on the
	// runner's away and back flags (Offline).
	awaySeen, backSeen bool

	nextConn   int // index in conns of the next client to connect
	connecting int // clients between socket() and ready
	connStart  time.Time
	connRate   float64 // connections per second for this loop
	lastPing   time.Time
	now        time.Time
	nowNanos   int64
}

func newLoop(r *runner, id int) (*loop, error) {
	p, err := newPoller(maxEvents)
	if err != nil {
		return nil, err
	}
	return &loop{
		r: r, id: id, p: p,
		rbuf:  make([]byte, readBufSize),
		plain: make([]byte, 16<<10),
		st:    newLoopStats(),
	}, nil
}

// run drives the loop until the runner says quit, then disconnects every
// client and closes the poller.
func (l *loop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l.connStart = time.Now()
	l.lastPing = l.connStart
	for !l.r.quit.Load() {
		n, err := l.p.wait(l.timeoutMs())
		if err != nil && err != unix.EINTR {
			l.st.errors.Add(1)
			break
		}
		l.now = time.Now()
		l.nowNanos = l.now.UnixNano()
		l.st.mu.Lock()
		for i := 0; i < n; i++ {
			slot, readable, writable, hangup := l.p.event(i)
			l.handleEvent(l.conns[slot], readable, writable, hangup)
		}
		l.tick()
		l.flushDirty()
		l.publishCounts()
		l.st.mu.Unlock()
		l.turns.Add(1)
	}
	l.shutdown()
}

// timeoutMs is the poller wait: short while connections are being paced or
// publishers need the clock, long otherwise (the loop still polls the
// runner's flags at that interval).
func (l *loop) timeoutMs() int {
	if l.nextConn < len(l.conns) {
		return 1
	}
	if l.r.publishing.Load() && !l.r.stopPub.Load() && len(l.pubs) > 0 {
		return 1
	}
	return 20
}

// tick starts due connections, pumps publishers and sends keep alives.
func (l *loop) tick() {
	// Re-read the clock: handling this turn's events took time, and the
	// publish stamps taken below should be close to the actual write.
	l.now = time.Now()
	l.nowNanos = l.now.UnixNano()
	l.startConnections()
	l.offline()
	if l.r.publishing.Load() && !l.r.stopPub.Load() {
		for _, c := range l.pubs {
			c.pump()
		}
	}
	if ka := l.r.cfg.KeepAlive; ka > 0 && l.now.Sub(l.lastPing) >= time.Second {
		l.lastPing = l.now
		half := time.Duration(ka) * time.Second / 2
		for _, c := range l.conns {
			if c.state >= stateConnack && c.state <= stateReady && l.now.Sub(c.lastOut) >= half {
				c.sendPing()
			}
		}
	}
}

// offline sends this loop's ready subscribers away once the runner sets
// its away flag, and brings them back once it sets back (Offline).
func (l *loop) offline() {
	r := l.r
	if !l.awaySeen && r.away.Load() {
		l.awaySeen = true
		for _, c := range l.conns {
			if c.role == roleSub && c.state == stateReady {
				c.leave()
			}
		}
		r.awayLoops.Add(1)
	}
	if !l.backSeen && r.back.Load() {
		l.backSeen = true
		for _, c := range l.conns {
			if c.role == roleSub && (c.state == stateLeaving || c.state == stateAway) {
				c.rejoin()
			}
		}
	}
}

// startConnections opens sockets for clients whose turn has come under
// the connect rate, keeping at most ConnectBurst in progress.
func (l *loop) startConnections() {
	cfg := l.r.cfg
	for l.nextConn < len(l.conns) && l.connecting < cfg.ConnectBurst {
		if l.connRate > 0 {
			due := int(l.now.Sub(l.connStart).Seconds()*l.connRate) + 1
			if l.nextConn >= due {
				return
			}
		}
		c := l.conns[l.nextConn]
		l.nextConn++
		l.connecting++
		if err := c.dial(); err != nil {
			c.note("connect: " + err.Error())
			c.fail()
		}
	}
}

// handleEvent processes one poller event of c.
func (l *loop) handleEvent(c *conn, readable, writable, hangup bool) {
	if c.gone() {
		return
	}
	if c.state == stateDialing {
		if writable || hangup {
			c.connected()
		}
		return
	}
	if readable || hangup {
		if !c.readAll() {
			return
		}
	}
	if writable {
		c.pump()
		c.flush()
	}
}

// markDirty queues c for a flush at the end of this batch.
func (l *loop) markDirty(c *conn) {
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

func (l *loop) flushDirty() {
	for i, c := range l.dirty {
		c.dirty = false
		if !c.gone() {
			c.flush()
		}
		l.dirty[i] = nil
	}
	l.dirty = l.dirty[:0]
}

// shutdown sends DISCONNECT on every open connection and closes it.
func (l *loop) shutdown() {
	l.st.mu.Lock()
	defer l.st.mu.Unlock()
	for _, c := range l.conns {
		if c.state >= stateConnack && c.state <= stateReady {
			c.sendDisconnect()
			c.flush()
		}
		if !c.gone() && c.fd >= 0 {
			c.closeFD()
		}
	}
	l.publishCounts()
	_ = l.p.close()
}

// accum holds one loop turn's counts; hot paths increment these plain
// fields and publishCounts adds them to the atomics once per turn.
type accum struct {
	sent, acked, delivered, duplicated, outOfOrder int64
	bytesIn, bytesOut, expected, lastDelivery      int64
	lastAck                                        int64
}

// publishCounts adds the turn's counts to the shared atomics and clears them.
func (l *loop) publishCounts() {
	a, st := &l.acc, l.st
	if a.sent != 0 {
		st.sent.Add(a.sent)
	}
	if a.expected != 0 {
		l.r.expected.Add(a.expected)
	}
	if a.acked != 0 {
		st.acked.Add(a.acked)
		st.lastAck.Store(a.lastAck)
	}
	if a.delivered != 0 {
		st.delivered.Add(a.delivered)
		st.lastDelivery.Store(a.lastDelivery)
	}
	if a.duplicated != 0 {
		st.duplicated.Add(a.duplicated)
	}
	if a.outOfOrder != 0 {
		st.outOfOrder.Add(a.outOfOrder)
	}
	if a.bytesIn != 0 {
		st.bytesIn.Add(a.bytesIn)
	}
	if a.bytesOut != 0 {
		st.bytesOut.Add(a.bytesOut)
	}
	*a = accum{}
}

// setEvents changes the interest of c.
func (l *loop) setEvents(c *conn, in interest) {
	if c.events == in {
		return
	}
	c.events = in
	_ = l.p.modify(c.fd, c.slot, in)
}
