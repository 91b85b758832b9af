package engine

import (
	"fmt"
	"runtime"
	"time"

	"github.com/gust-mqtt/gust/engine/network"
)

// The broker's side of the network seam (engine/network): it starts the
// poller's event loops, gives each its broker loop, and takes their
// callbacks. The acceptors (listener.go) accept; each socket they admit is
// adopted by a loop, round robin (listeners.go).

// startLoops starts the poller's event loops and returns the broker's
// loops, one per event loop, in the poller's order.
func (b *Broker) startLoops() ([]*loop, error) {
	n := b.cfg.Loops
	if n == 0 {
		n = runtime.NumCPU()
	}
	nls, err := b.startPoller(n)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	loops := make([]*loop, len(nls))
	for i, nl := range nls {
		loops[i] = newLoop(b, i, nl)
	}
	b.loops = loops
	return loops, nil
}

// startPoller starts n event loops on the backend Config.IO names.
func (b *Broker) startPoller(n int) ([]network.Loop, error) {
	if b.cfg.IO == IOUring || b.cfg.IO == IOAuto {
		b.poller = network.NewUring(b.log)
		nls, err := b.poller.Start(handler{b}, n)
		if err == nil || b.cfg.IO == IOUring {
			if err == nil {
				b.log.Info("network backend", "io", IOUring, "loops", n)
			}
			return nls, err
		}
		b.log.Warn("io_uring unavailable: using epoll", "err", err)
	}
	b.poller = network.NewGnet(b.log)
	nls, err := b.poller.Start(handler{b}, n)
	if err == nil && b.cfg.IO != IOEpoll {
		b.log.Info("network backend", "io", IOEpoll, "loops", n)
	}
	return nls, err
}

// watchLoops reports through Done event loops that stopped while the
// broker was not shutting down: every client is gone, the broker cannot
// serve.
func (b *Broker) watchLoops() {
	<-b.poller.Done()
	if b.closing.Load() {
		return
	}
	err := b.poller.Err()
	if err == nil {
		err = ErrStopped
	}
	b.log.Error("event loops stopped on their own", "err", err)
	b.report(fmt.Errorf("engine: event loops stopped: %w", err))
}

// run runs fn on l's goroutine, logging (as what) when it cannot: the
// event loops have stopped, which is expected only once the broker is
// closing. Safe from any goroutine.
func (l *loop) run(what string, fn func()) {
	if err := l.nl.Execute(fn); err != nil && !l.b.closing.Load() {
		l.b.log.Error("event loop task not run", "task", what, "loop", l.idx, "err", err)
	}
}

// handler is the broker as the network's Handler.
type handler struct{ b *Broker }

// OnOpen creates the client of a new connection on its loop.
func (h handler) OnOpen(idx int, nc network.Conn) network.Action {
	b := h.b
	if b.closing.Load() {
		b.connClosed(b.listenerOf(nc)) // counted by the acceptor, never a client
		return network.Close
	}
	l := b.loops[idx]
	b.churn.Add(1)
	now := b.refreshClock()
	if o, ok := nc.(network.Opened); ok {
		// A handshake done before adoption counts against ConnectTimeout.
		now = min(now, o.AcceptedAt().UnixNano())
	}
	c := &client{nc: nc, l: l, lastRead: now}
	nc.SetContext(c)
	l.addClient(c)
	return network.None
}

// OnTraffic decodes a client's packets, then finishes the round
// (hand-overs, flushes).
func (h handler) OnTraffic(nc network.Conn) network.Action {
	c, ok := nc.Context().(*client)
	if !ok {
		return network.Close
	}
	start := time.Now()
	act := c.onTraffic()
	if act == network.Close && c.shouldLinger() {
		c.linger() // the reason code reaches a client still sending (linger.go)
		act = network.None
	}
	c.l.finish()
	c.l.tot.busy += int64(time.Since(start))
	return act
}

// OnClose releases a closed client.
func (h handler) OnClose(nc network.Conn, _ error) {
	if c, ok := nc.Context().(*client); ok {
		if c.state != stateClosed || c.lingering() {
			h.b.connClosed(h.b.listenerOf(nc))
			h.b.churn.Add(1)
		}
		if c.lingering() {
			c.endLinger()
		}
		c.onClose()
		c.l.finish()
	}
}

// OnWake drains the loop's inbox.
func (h handler) OnWake(idx int) {
	l := h.b.loops[idx]
	start := time.Now()
	l.drain()
	l.tot.busy += int64(time.Since(start))
}
