package engine

import "sync"

// clusterInbox is a loop's queue of batches from other nodes. The
// receiver hands batches to a loop in their NATS order, and one
// publisher's records always go to the same loop; network.Loop Execute
// does not keep the order of its tasks under load (gnet moves tasks to a
// second queue past a threshold), so the batches go through this FIFO and
// one Execute at a time drains it. mu is a leaf lock.
type clusterInbox struct {
	mu        sync.Mutex
	jobs      []func()
	scheduled bool // a drain is queued with Execute and has not taken jobs yet
}

// runCluster runs fn on l after every batch handed to l before it. An
// error means the loop has stopped and fn will not run. Any goroutine.
func (l *loop) runCluster(fn func()) error {
	in := &l.clusterIn
	in.mu.Lock()
	in.jobs = append(in.jobs, fn)
	if in.scheduled {
		in.mu.Unlock()
		return nil
	}
	in.scheduled = true
	in.mu.Unlock()
	if err := l.nl.Execute(l.drainCluster); err != nil {
		in.mu.Lock()
		clear(in.jobs) // fn only: a drain took the others
		in.jobs = in.jobs[:0]
		in.scheduled = false
		in.mu.Unlock()
		return err
	}
	return nil
}

// drainCluster runs the batches queued so far, in order. Loop-only.
func (l *loop) drainCluster() {
	in := &l.clusterIn
	in.mu.Lock()
	jobs := in.jobs
	in.jobs = nil
	in.scheduled = false
	in.mu.Unlock()
	for _, fn := range jobs {
		fn()
	}
}
