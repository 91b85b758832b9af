package auth

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gate is an Authenticator whose checks wait for release; it records the
// passwords it saw and the most checks it ran at once.
type gate struct {
	entered chan string
	release chan struct{}
	mu      sync.Mutex
	seen    []string
	running atomic.Int32
	peak    atomic.Int32
}

func newGate() *gate {
	return &gate{entered: make(chan string, 64), release: make(chan struct{})}
}

func (g *gate) Authenticate(info *ConnectInfo) error {
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	g.mu.Lock()
	g.seen = append(g.seen, string(info.Password))
	g.mu.Unlock()
	g.entered <- string(info.Password)
	<-g.release
	if string(info.Password) == "good" {
		return nil
	}
	return ErrBadCredentials
}

// wait returns the password of the next check to start.
func (g *gate) wait(t *testing.T) string {
	t.Helper()
	select {
	case pw := <-g.entered:
		return pw
	case <-time.After(5 * time.Second):
		t.Fatal("no check started")
		return ""
	}
}

// verdicts collects the checks whose done was called.
type verdicts struct {
	mu   sync.Mutex
	errs map[string]error
	ch   chan struct{}
}

func newVerdicts() *verdicts {
	return &verdicts{errs: make(map[string]error), ch: make(chan struct{}, 64)}
}

// check returns a check of password pw reporting to v.
func (v *verdicts) check(pw string) *Check {
	return NewCheck(&ConnectInfo{UsernameFlag: true, Username: []byte("u"), PasswordFlag: true, Password: []byte(pw)},
		func(ck *Check) {
			v.mu.Lock()
			v.errs[pw] = ck.Err()
			v.mu.Unlock()
			v.ch <- struct{}{}
		})
}

func (v *verdicts) waitN(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-v.ch:
		case <-time.After(5 * time.Second):
			t.Fatal("verdict missing")
		}
	}
}

// TestPoolBounds: with 2 workers and a queue of 3, five checks are taken
// (two run, three wait) and the sixth is refused at once; never more than
// two run at once, and every check taken gets its verdict.
func TestPoolBounds(t *testing.T) {
	g, v := newGate(), newVerdicts()
	p := NewPool(g, 2, 3)
	defer p.Close()
	check(t, p.Submit(v.check("good")), "first refused")
	check(t, p.Submit(v.check("bad1")), "second refused")
	g.wait(t)
	g.wait(t) // both workers busy
	for _, pw := range []string{"bad2", "bad3", "good2"} {
		check(t, p.Submit(v.check(pw)), pw, "refused with room in the queue")
	}
	check(t, !p.Submit(v.check("excess")), "queue over its bound")
	for range 5 {
		g.release <- struct{}{}
	}
	v.waitN(t, 5)
	equal(t, g.peak.Load(), int32(2), "checks at once")
	v.mu.Lock()
	defer v.mu.Unlock()
	equal(t, len(v.errs), 5)
	noErr(t, v.errs["good"])
	equal(t, v.errs["bad1"], ErrBadCredentials)
	_, excess := v.errs["excess"]
	check(t, !excess, "refused check answered")
}

// TestPoolCancel: a check cancelled while it waits is skipped (no
// Authenticate, no done); one cancelled while it runs completes.
func TestPoolCancel(t *testing.T) {
	g, v := newGate(), newVerdicts()
	p := NewPool(g, 1, 4)
	defer p.Close()
	running, waiting := v.check("running"), v.check("waiting")
	check(t, p.Submit(running), "refused")
	g.wait(t)
	check(t, p.Submit(waiting), "refused")
	waiting.Cancel()
	running.Cancel()
	check(t, p.Submit(v.check("after")), "refused")
	g.release <- struct{}{}
	equal(t, g.wait(t), "after", "next check run")
	g.release <- struct{}{}
	v.waitN(t, 2)
	g.mu.Lock()
	equal(t, len(g.seen), 2, "checks run:", g.seen)
	g.mu.Unlock()
	v.mu.Lock()
	_, ok := v.errs["waiting"]
	v.mu.Unlock()
	check(t, !ok, "cancelled check answered")
}

// TestPoolClose: Close waits for the running check, drops the queued ones
// without answer, and Submit refuses afterwards.
func TestPoolClose(t *testing.T) {
	g, v := newGate(), newVerdicts()
	p := NewPool(g, 1, 4)
	check(t, p.Submit(v.check("running")), "refused")
	g.wait(t)
	check(t, p.Submit(v.check("queued")), "refused")
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close did not wait for the running check")
	case <-time.After(50 * time.Millisecond):
	}
	g.release <- struct{}{}
	<-closed
	v.waitN(t, 1)
	check(t, !p.Submit(v.check("late")), "Submit after Close")
	p.Close() // again: nothing
	g.mu.Lock()
	defer g.mu.Unlock()
	equal(t, len(g.seen), 1, "checks run after Close:", g.seen)
}

// TestCheckCopiesAndForgets: a check owns copies of the credentials (the
// caller's buffer may be reused at once) and wipes them once checked.
func TestCheckCopiesAndForgets(t *testing.T) {
	u := testUsers(t, "alice", "s3cret")
	wire := []byte("idalices3cret")
	info := &ConnectInfo{ClientID: wire[:2], UsernameFlag: true, Username: wire[2:7], PasswordFlag: true, Password: wire[7:]}
	done := make(chan *Check, 1)
	ck := NewCheck(info, func(ck *Check) { done <- ck })
	kept := ck.buf
	clear(wire) // the loop reuses its read buffer
	p := NewPool(u, 1, 1)
	defer p.Close()
	check(t, p.Submit(ck), "refused")
	select {
	case got := <-done:
		noErr(t, got.Err(), "credentials not copied")
	case <-time.After(5 * time.Second):
		t.Fatal("no verdict")
	}
	equal(t, string(kept), string(make([]byte, len(kept))), "credentials not wiped")
	check(t, ck.buf == nil && ck.info.Password == nil, "credentials kept")
}
