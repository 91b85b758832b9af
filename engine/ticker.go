package engine

import (
	"context"
	"sync"
	"time"
)

// The ticker goroutine and the periodic work it schedules on the loops.

// ticker advances the coarse clock and runs the periodic work of every loop
// on that loop: keep alive, connect timeouts, slow consumers, queue pumping,
// and $SYS publication.
func (b *Broker) ticker() {
	defer close(b.tickDone)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var lastHouse, lastSys, lastSweep time.Time
	var storeLog storeRates
	for {
		select {
		case <-b.stopTick:
			return
		case now := <-t.C:
			b.clock.Store(now.UnixNano())
			b.publishDueWills()
			b.resumeThrottledLoops() // throttle.go
			if now.Sub(lastHouse) >= 500*time.Millisecond {
				lastHouse = now
				for _, l := range b.loopSnapshot() {
					l.run("housekeeping", l.housekeeping)
				}
				b.expireSessions()
				b.trimIdle(now)
				b.trimSpike(now)
				for _, ln := range b.lns {
					ln.acc.Load().logs.flush()
				}
				b.tlsLogs.flush()
			}
			if b.store != nil && now.Sub(storeLog.at) >= storeLogEvery {
				storeLog.log(b, now)
			}
			if now.Sub(lastSweep) >= retainedSweepEvery {
				lastSweep = now
				b.sweepRetained()
			}
			if b.cfg.SysInterval > 0 && now.Sub(lastSys) >= b.cfg.SysInterval {
				// The first publication waits for a loop to exist, so the
				// retained $SYS topics are there soon after start-up (as
				// with Mosquitto), not one whole interval later.
				if ls := b.loopSnapshot(); len(ls) > 0 {
					lastSys = now
					l := ls[0]
					l.run("$SYS publication", l.publishSys)
				}
			}
		}
	}
}

// A connection that has read nothing for idlePending has its empty write
// buffer dropped by housekeeping if it is a small one (at most
// idlePendingCap: the CONNACK's, a PINGRESP's), so idle connections hold
// none; one that only receives small messages regrows it at most once per
// housekeeping period, and a bigger buffer stays (flush bounds those).
const (
	idlePending    = 2 * time.Second
	idlePendingCap = 64
)

// housekeeping enforces keep alive [MQTT-3.1.2-24], connect timeouts and
// the slow-consumer deadline, moves queued messages and drops the write
// buffer of idle connections. Loop-only.
func (l *loop) housekeeping() {
	b := l.b
	now := b.now()
	for i := len(l.clients) - 1; i >= 0; i-- { // backwards: see removeClient
		if i >= len(l.clients) {
			continue // a close removed more than one client
		}
		c := l.clients[i]
		switch c.state {
		case stateNew, stateAuthCheck:
			if now-c.lastRead > int64(b.cfg.ConnectTimeout) { // lastRead: when opened
				c.closeNow(closeConnectTimeout)
			}
		case stateAuth:
			if now-c.auth().opened > int64(b.cfg.ConnectTimeout) {
				c.closeNow(closeConnectTimeout)
			}
		case stateConnected:
			if ka := c.keepAlive(); ka > 0 && now-c.lastRead > ka+ka/2 {
				c.closeNow(closeKeepAlive)
				continue
			}
			// The clock also starts here: on io_uring the kernel refuses
			// bytes when a SEND completes, after the write that queued
			// them, and a connection dropping everything gets no write.
			if c.slowSince() != 0 || c.nc.OutboundBuffered() >= b.cfg.MaxOutboundBytes/4*3 {
				c.checkSlow()
			}
			// A congestion none of whose messages reached the window (they
			// expired, or were too large) ends here: pump clears it.
			if s := c.sess; s != nil && (s.queued() > 0 || s.congestedSince() != 0) && c.state == stateConnected {
				l.pump(s, c)
			}
			if n := cap(c.pending); n > 0 && n <= idlePendingCap && len(c.pending) == 0 && now-c.lastRead > int64(idlePending) {
				c.pending = nil // an idle connection keeps no write buffer
			}
		}
	}
	l.lingerExpire(now)
	l.thr.tick()
	l.finish()
}

// onEachLoop runs fn on every loop and waits for all of them (or ctx).
func (b *Broker) onEachLoop(ctx context.Context, fn func(*loop)) {
	var wg sync.WaitGroup
	for _, l := range b.loopSnapshot() {
		wg.Add(1)
		err := l.nl.Execute(func() {
			defer wg.Done()
			fn(l)
		})
		if err != nil {
			wg.Done()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
