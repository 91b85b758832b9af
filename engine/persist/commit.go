package persist

import (
	"sync"
	"sync/atomic"
	"time"
)

// pending is one Commit waiting for its group. A commit refused up front
// (refused) is not written but still completes in its turn, so that done
// functions always run in commit order.
type pending struct {
	b       *Batch
	done    func(error)
	refused error
}

// committer runs a store's group commit: Commit queues a batch without
// waiting; one goroutine (run) takes every batch queued so far and writes
// them as one group, and another (complete) waits for each group's sync
// and calls its done functions, in order. A group is written while the
// one before it is being synced, and the next one gathers meanwhile, so
// the number of syncs follows the disk's speed, not the number of
// commits.
type committer struct {
	// write applies the group and starts making it durable per sync (or,
	// for an interval, writes it to the log); wait, if not nil, returns
	// once it is durable. An error fails every commit of the group.
	write func(group []pending, sync bool) (wait func() error, err error)
	// syncLog syncs what write wrote without sync (interval mode).
	syncLog func() error
	every   time.Duration // Sync.Every

	mu     sync.Mutex
	cond   sync.Cond
	queue  []pending
	closed bool

	written  chan written   // run -> complete, in order
	spare    chan []pending // group slices back from complete
	stop     chan struct{}
	finished chan struct{}
	unsynced atomic.Bool // interval mode: written since the last sync

	commits, groups, syncs, bytes, failures, elided atomic.Uint64

	el elider // run's
}

// written is one group handed from run to complete.
type written struct {
	group []pending
	wait  func() error
	err   error
	wrote bool // false: nothing to write (refused, or cancelled out)
}

// pipelineDepth bounds the groups written and not yet completed.
const pipelineDepth = 4

func (c *committer) start(every time.Duration, write func([]pending, bool) (func() error, error), syncLog func() error) {
	c.every, c.write, c.syncLog = every, write, syncLog
	c.cond.L = &c.mu
	c.stop = make(chan struct{})
	c.finished = make(chan struct{})
	c.written = make(chan written, pipelineDepth)
	c.spare = make(chan []pending, pipelineDepth+1)
	go c.run()
	go c.complete()
	if every > 0 {
		go c.syncEvery()
	}
}

// commit queues b; refused, if not nil, fails it without writing it, in
// its turn. Any goroutine.
func (c *committer) commit(b *Batch, done func(error), refused error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.failures.Add(1)
		done(ErrClosed)
		return
	}
	c.queue = append(c.queue, pending{b, done, refused})
	c.mu.Unlock()
	c.cond.Signal()
}

// run writes the queued batches group by group.
func (c *committer) run() {
	defer close(c.written)
	for {
		var next []pending
		select {
		case next = <-c.spare:
		default:
		}
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		group := c.queue
		c.queue = next
		c.mu.Unlock()

		w := written{group: group}
		c.elided.Add(uint64(c.el.elide(group)))
		if toWrite(group) {
			w.wrote = true
			w.wait, w.err = c.write(group, c.every == 0)
			if w.err == nil && c.every > 0 {
				c.unsynced.Store(true)
			}
		}
		c.written <- w
	}
}

// complete waits for each written group to be durable and calls its done
// functions in order.
func (c *committer) complete() {
	defer close(c.finished)
	for w := range c.written {
		err := w.err
		if w.wrote {
			if err == nil && w.wait != nil {
				err = w.wait()
			}
			c.groups.Add(1)
			if err == nil && c.every == 0 {
				c.syncs.Add(1)
			}
		}
		for i := range w.group {
			p := &w.group[i]
			e := err
			if p.refused != nil {
				e = p.refused
			} else {
				c.bytes.Add(uint64(p.b.Size()))
			}
			if e != nil {
				c.failures.Add(1)
			} else {
				c.commits.Add(1)
			}
			p.done(e)
			*p = pending{}
		}
		select {
		case c.spare <- w.group[:0]:
		default:
		}
	}
}

// syncEvery syncs the log every c.every while there is something to sync.
func (c *committer) syncEvery() {
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if c.unsynced.Swap(false) {
				if c.syncLog() == nil {
					c.syncs.Add(1)
				} else {
					c.unsynced.Store(true)
				}
			}
		}
	}
}

// close fails nothing queued: it lets the goroutine write every queued
// batch, then stops it (and the interval syncer, after a last sync).
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.cond.Broadcast()
	<-c.finished
	close(c.stop)
	if c.every > 0 && c.unsynced.Swap(false) && c.syncLog() == nil {
		c.syncs.Add(1)
	}
}

func (c *committer) stats() Stats {
	return Stats{
		Commits:      c.commits.Load(),
		Groups:       c.groups.Load(),
		Syncs:        c.syncs.Load(),
		BytesWritten: c.bytes.Load(),
		Failures:     c.failures.Load(),
		Elided:       c.elided.Load(),
		DiskBytes:    -1,
	}
}

// toWrite reports whether group holds an operation to write. One whose
// operations all cancelled out needs no write: what came before it is
// already as durable as the mode makes it.
func toWrite(group []pending) bool {
	for i := range group {
		if group[i].refused != nil {
			continue
		}
		for _, o := range group[i].b.ops {
			if !o.skip {
				return true
			}
		}
	}
	return false
}
