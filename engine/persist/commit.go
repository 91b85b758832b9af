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
// waiting; one goroutine takes every batch queued so far, writes them as
// one group (write), and calls their done functions in order. While a
// group is being written and synced the next one gathers, so the number
// of syncs follows the disk's speed, not the number of commits.
type committer struct {
	// write makes the group durable per sync (or, for an interval, writes
	// it to the log); its error fails every commit of the group.
	write func(group []pending, sync bool) error
	// syncLog syncs what write wrote without sync (interval mode).
	syncLog func() error
	every   time.Duration // Sync.Every

	mu     sync.Mutex
	cond   sync.Cond
	queue  []pending
	closed bool

	stop     chan struct{}
	finished chan struct{}
	unsynced atomic.Bool // interval mode: written since the last sync

	commits, groups, syncs, bytes, failures atomic.Uint64
}

func (c *committer) start(every time.Duration, write func([]pending, bool) error, syncLog func() error) {
	c.every, c.write, c.syncLog = every, write, syncLog
	c.cond.L = &c.mu
	c.stop = make(chan struct{})
	c.finished = make(chan struct{})
	go c.run()
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

func (c *committer) run() {
	defer close(c.finished)
	var group []pending
	for {
		c.mu.Lock()
		for len(c.queue) == 0 && !c.closed {
			c.cond.Wait()
		}
		if len(c.queue) == 0 {
			c.mu.Unlock()
			return
		}
		group, c.queue = c.queue, group[:0]
		c.mu.Unlock()

		sync := c.every == 0
		var err error
		if toWrite(group) {
			err = c.write(group, sync)
			c.groups.Add(1)
			if err == nil && sync {
				c.syncs.Add(1)
			} else if err == nil && c.every > 0 {
				c.unsynced.Store(true)
			}
		}
		for i := range group {
			p := &group[i]
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
		DiskBytes:    -1,
	}
}

// toWrite reports whether group holds a batch to write.
func toWrite(group []pending) bool {
	for i := range group {
		if group[i].refused == nil {
			return true
		}
	}
	return false
}
