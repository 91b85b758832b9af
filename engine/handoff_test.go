package engine

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
)

// TestGnetVersionPinned keeps the gnet internals the hand-off links to
// (gnetVersion) in step with go.mod: a gnet upgrade must revisit them.
func TestGnetVersionPinned(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	noErr(t, err)
	var v string
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/panjf2000/gnet/v2" {
			v = f[1]
		}
	}
	equal(t, v, gnetVersion, "gnet version in go.mod")
	b := startBroker(t, nil)
	noErr(t, checkGnet(b.loopSnapshot()[0].el))
}

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
	noErr(t, l.adopt(fd, &unix.SockaddrInet4{Port: 1}, b.addr, acc.lost))
	check(t, waitFor(5*time.Second, func() bool { return acc.refused.Load() == 1 }), "failed hand-off not counted")
	equal(t, b.open.Load(), int64(0), "open after a failed hand-off")
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("after-failed-handoff"), CleanStart: true})
}
