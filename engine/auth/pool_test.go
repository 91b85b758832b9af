package auth

import (
	"fmt"
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
	if !p.Submit(v.check("good")) {
		t.Fatal("first refused")
	}
	if !p.Submit(v.check("bad1")) {
		t.Fatal("second refused")
	}
	g.wait(t)
	g.wait(t) // both workers busy
	for _, pw := range []string{"bad2", "bad3", "good2"} {
		if !p.Submit(v.check(pw)) {
			t.Fatal(pw, "refused with room in the queue")
		}
	}
	if p.Submit(v.check("excess")) {
		t.Fatal("queue over its bound")
	}
	for range 5 {
		g.release <- struct{}{}
	}
	v.waitN(t, 5)
	if got := g.peak.Load(); got != int32(2) {
		t.Fatalf("checks at once: got %v, want %v", got, int32(2))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.errs) != 5 {
		t.Fatalf("got %v, want %v", len(v.errs), 5)
	}
	if v.errs["good"] != nil {
		t.Fatal(v.errs["good"])
	}
	if v.errs["bad1"] != ErrBadCredentials {
		t.Fatalf("got %v, want %v", v.errs["bad1"], ErrBadCredentials)
	}
	_, excess := v.errs["excess"]
	if excess {
		t.Fatal("refused check answered")
	}
}

// TestPoolCancel: a check cancelled while it waits is skipped (no
// Authenticate, no done); one cancelled while it runs completes.
func TestPoolCancel(t *testing.T) {
	g, v := newGate(), newVerdicts()
	p := NewPool(g, 1, 4)
	defer p.Close()
	running, waiting := v.check("running"), v.check("waiting")
	if !p.Submit(running) {
		t.Fatal("refused")
	}
	g.wait(t)
	if !p.Submit(waiting) {
		t.Fatal("refused")
	}
	waiting.Cancel()
	running.Cancel()
	if !p.Submit(v.check("after")) {
		t.Fatal("refused")
	}
	g.release <- struct{}{}
	if got := g.wait(t); got != "after" {
		t.Fatalf("next check run: got %v, want %v", got, "after")
	}
	g.release <- struct{}{}
	v.waitN(t, 2)
	g.mu.Lock()
	if len(g.seen) != 2 {
		t.Fatalf("%s: got %v, want %v", fmt.Sprint("checks run:", g.seen), len(g.seen), 2)
	}
	g.mu.Unlock()
	v.mu.Lock()
	_, ok := v.errs["waiting"]
	v.mu.Unlock()
	if ok {
		t.Fatal("cancelled check answered")
	}
}

// TestPoolClose: Close waits for the running check, drops the queued ones
// without answer, and Submit refuses afterwards.
func TestPoolClose(t *testing.T) {
	g, v := newGate(), newVerdicts()
	p := NewPool(g, 1, 4)
	if !p.Submit(v.check("running")) {
		t.Fatal("refused")
	}
	g.wait(t)
	if !p.Submit(v.check("queued")) {
		t.Fatal("refused")
	}
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
	if p.Submit(v.check("late")) {
		t.Fatal("Submit after Close")
	}
	p.Close() // again: nothing
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) != 1 {
		t.Fatalf("%s: got %v, want %v", fmt.Sprint("checks run after Close:", g.seen), len(g.seen), 1)
	}
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
	if !p.Submit(ck) {
		t.Fatal("refused")
	}
	select {
	case got := <-done:
		if err := got.Err(); err != nil {
			t.Fatal(err, "credentials not copied")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no verdict")
	}
	if want := string(make([]byte, len(kept))); string(kept) != want {
		t.Fatalf("credentials not wiped: got %v, want %v", string(kept), want)
	}
	if !(ck.buf == nil && ck.info.Password == nil) {
		t.Fatal("credentials kept")
	}
}
