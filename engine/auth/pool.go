package auth

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool runs full credential checks (Authenticator.Authenticate: PBKDF2 for
// Users) on a fixed number of worker goroutines fed by a bounded queue, so
// that however many wrong passwords arrive, at most that many checks run at
// once, at most that many more wait, and no event loop ever runs one. A
// check that finds the queue full is refused at once (Submit false) rather
// than queued. Safe from any goroutine.
type Pool struct {
	a     Authenticator
	queue chan *Check
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// NewPool starts workers goroutines (at least 1) running the checks of a,
// with room for queue checks (at least 0) waiting for a worker. Close
// stops them.
func NewPool(a Authenticator, workers, queue int) *Pool {
	p := &Pool{a: a, queue: make(chan *Check, max(queue, 0)), quit: make(chan struct{})}
	for range max(workers, 1) {
		p.wg.Go(p.work)
	}
	return p
}

// work runs checks until Close.
func (p *Pool) work() {
	for {
		select {
		case <-p.quit:
			return
		case ck := <-p.queue:
			select {
			case <-p.quit:
				return // select picks at random: Close drops what waits
			default:
			}
			if ck.cancelled.Load() {
				continue // its client left while it waited: no check, no answer
			}
			ck.err = p.a.Authenticate(&ck.info)
			ck.forget()
			ck.done(ck)
			runtime.Gosched()
		}
	}
}

// Submit queues ck for a worker and reports true, or reports false at
// once, without calling ck's done, when the queue is full or the pool
// closed. Safe from any goroutine.
func (p *Pool) Submit(ck *Check) bool {
	select {
	case <-p.quit:
		return false
	default:
	}
	select {
	case p.queue <- ck:
		return true
	default:
		return false
	}
}

// Close stops the workers once their current check is done and waits for
// them. Checks still queued are dropped without their done being called.
// Safe from any goroutine; later calls do nothing.
func (p *Pool) Close() {
	p.once.Do(func() {
		close(p.quit)
		p.wg.Wait()
	})
}

// Check is one credential check handed to a Pool: its own copy of the
// CONNECT's credentials (wiped once checked), the function to call with
// the verdict, and whether its client left meanwhile.
type Check struct {
	info      ConnectInfo
	buf       []byte // the copies of info's slices
	err       error
	done      func(*Check)
	cancelled atomic.Bool
}

// NewCheck returns a check of info, which it copies (info's slices need to
// stay valid only during the call). done is called on the worker goroutine
// once the verdict is known (Err), unless the check is cancelled before it
// starts; it must not block.
func NewCheck(info *ConnectInfo, done func(*Check)) *Check {
	ck := &Check{info: *info, done: done}
	buf := make([]byte, 0, len(info.ClientID)+len(info.Username)+len(info.Password))
	buf = append(buf, info.ClientID...)
	buf = append(buf, info.Username...)
	buf = append(buf, info.Password...)
	n1, n2 := len(info.ClientID), len(info.ClientID)+len(info.Username)
	ck.info.ClientID, ck.info.Username, ck.info.Password = buf[:n1:n1], buf[n1:n2:n2], buf[n2:]
	ck.buf = buf
	return ck
}

// forget wipes the credentials once checked: a verdict may be kept for
// the life of the connection, the password need not.
func (ck *Check) forget() {
	clear(ck.buf)
	ck.buf, ck.info = nil, ConnectInfo{}
}

// Err returns the verdict: nil to accept, as Authenticator.Authenticate
// returns otherwise. Valid in done and after it.
func (ck *Check) Err() error { return ck.err }

// Cancel tells the pool that nobody waits for the verdict any more: a check
// not yet started is skipped, and its done is not called. One already
// running completes and its done is called. Safe from any goroutine.
func (ck *Check) Cancel() { ck.cancelled.Store(true) }
