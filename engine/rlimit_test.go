package engine

import (
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestConnectionCap checks the derived max_connections (the descriptor
// limit less the reserve), that -1 means no cap, that an explicit value is
// kept, and that one above the derived value is kept with a warning.
func TestConnectionCap(t *testing.T) {
	equal(t, reservedFDs(1000, 2), uint64(64+8))
	equal(t, reservedFDs(20000, 2), uint64(400+8))
	equal(t, reservedFDs(1<<20, 16), uint64((1<<20)/50+64))

	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, nil))
	derived := connectionCap(0, 2, log)
	var lim unix.Rlimit
	noErr(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	equal(t, lim.Cur, lim.Max, "soft limit raised to the hard one")
	if lim.Cur == unix.RLIM_INFINITY {
		equal(t, derived, int64(0), "no cap under an unlimited limit")
	} else {
		equal(t, derived, int64(lim.Cur-reservedFDs(lim.Cur, 2)))
		check(t, strings.Contains(buf.String(), "max_connections derived from the descriptor limit"), buf.String())
		equal(t, connectionCap(int(derived)+1, 2, log), derived+1)
		check(t, strings.Contains(buf.String(), "level=WARN"), "no warning for a cap above the derived one:", buf.String())
	}
	equal(t, connectionCap(-1, 2, log), int64(0))
	equal(t, connectionCap(5, 2, log), int64(5))
}
