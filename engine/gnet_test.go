package engine

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
)

// TestGnetVersionPinned keeps the gnet internals the hand-off links to
// (gnetVersion) in step with go.mod: a gnet upgrade must revisit them.
func TestGnetVersionPinned(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var v string
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/panjf2000/gnet/v2" {
			v = f[1]
		}
	}
	if v != gnetVersion {
		t.Fatalf("gnet version in go.mod: got %v, want %v", v, gnetVersion)
	}
	b := startBroker(t, nil)
	if err := checkGnet(b.loopSnapshot()[0].el); err != nil {
		t.Fatal(err)
	}
}

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
	if err := l.adopt(fd, &unix.SockaddrInet4{Port: 1}, b.addr, acc.lost); err != nil {
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

// TestDoneWhenLoopsStop stops gnet's event loops behind the broker's back:
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
	ls := b.loopSnapshot()
	if err := ls[0].el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		return gerrors.ErrEngineShutdown
	})); err != nil {
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

// TestStartSealsGnetListener checks that nothing is left of the unix
// socket gnet listens on: neither it nor its directory can be reached.
func TestStartSealsGnetListener(t *testing.T) {
	b := startBroker(t, nil)
	_, err := os.Stat(b.sealed.dir.Name())
	if !os.IsNotExist(err) {
		t.Fatal("sealed socket directory still there:", err)
	}
	_, err = net.Dial("unix", b.sealed.path)
	if err == nil {
		t.Fatal("sealed socket reachable")
	}
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("sealed"), CleanStart: true})
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
		if err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			if len(l.clients) == 1 {
				seen.Add(1)
			}
			close(done)
			return nil
		})); err != nil {
			t.Fatal(err)
		}
		<-done
	}
	if got := seen.Load(); got != int32(2) {
		t.Fatalf("loops with one client each: got %v, want %v", got, int32(2))
	}
}
