package engine

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
)

// TestHandOffFailureCounted hands a loop a descriptor it cannot register
// (not pollable): gnet closes it, the connection is no longer counted as
// open and is counted as refused, and the loop keeps serving.
func TestHandOffFailureCounted(t *testing.T) {
	b := startBroker(t, nil)
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	acc := b.acc.Load()
	b.open.Add(1) // as the acceptor does before a hand-off
	l := b.loopSnapshot()[0]
	if err := l.nl.Adopt(fd, &unix.SockaddrInet4{Port: 1}, b.addr, nil, acc.lost); err != nil {
		t.Fatal(err)
	}
	if !eventually(5*time.Second, func() bool { return acc.refused.Load() == 1 }) {
		t.Fatal("failed hand-off not counted")
	}
	if got := b.open.Load(); got != int64(0) {
		t.Fatalf("open after a failed hand-off: got %v, want %v", got, int64(0))
	}
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("after-failed-handoff"), CleanStart: true})
}

// TestDoneWhenLoopsStop stops the event loops behind the broker's back:
// Done says so, and Shutdown still returns.
func TestDoneWhenLoopsStop(t *testing.T) {
	b := startBroker(t, nil)
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("done"), CleanStart: true})
	select {
	case err := <-b.Done():
		t.Fatal("Done before anything stopped:", err)
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.poller.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.Done():
		if !(err != nil && strings.Contains(err.Error(), ErrStopped.Error())) {
			t.Fatal("Done error:", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Done silent after the event loops stopped")
	}
	r.expectClosed(5 * time.Second)
}

// TestHandOffSpreadsOverLoops checks the acceptor's round robin: with two
// loops, two connections land on distinct loops.
func TestHandOffSpreadsOverLoops(t *testing.T) {
	b := startBroker(t, nil) // 2 loops
	var seen atomic.Int32
	for i := 0; i < 2; i++ {
		r := dialRaw(t, b)
		r.connect(&codec.Connect{ClientID: []byte(fmt.Sprint("rr-", i)), CleanStart: true})
	}
	for _, l := range b.loopSnapshot() {
		done := make(chan struct{})
		if err := l.nl.Execute(func() {
			if len(l.clients) == 1 {
				seen.Add(1)
			}
			close(done)
		}); err != nil {
			t.Fatal(err)
		}
		<-done
	}
	if got := seen.Load(); got != int32(2) {
		t.Fatalf("loops with one client each: got %v, want %v", got, int32(2))
	}
}
