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
	noErr(t, err)
	acc := b.acc.Load()
	b.open.Add(1) // as the acceptor does before a hand-off
	l := b.loopSnapshot()[0]
	noErr(t, l.nl.Adopt(fd, &unix.SockaddrInet4{Port: 1}, b.addr, acc.lost))
	check(t, eventually(5*time.Second, func() bool { return acc.refused.Load() == 1 }), "failed hand-off not counted")
	equal(t, b.open.Load(), int64(0), "open after a failed hand-off")
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
	noErr(t, b.poller.Stop(ctx))
	select {
	case err := <-b.Done():
		check(t, err != nil && strings.Contains(err.Error(), ErrStopped.Error()), "Done error:", err)
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
		noErr(t, l.nl.Execute(func() {
			if len(l.clients) == 1 {
				seen.Add(1)
			}
			close(done)
		}))
		<-done
	}
	equal(t, seen.Load(), int32(2), "loops with one client each")
}
