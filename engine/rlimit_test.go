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
	if got := reservedFDs(1000, 2); got != uint64(64+8) {
		t.Fatalf("got %v, want %v", got, uint64(64+8))
	}
	if got := reservedFDs(20000, 2); got != uint64(400+8) {
		t.Fatalf("got %v, want %v", got, uint64(400+8))
	}
	if got := reservedFDs(1<<20, 16); got != uint64((1<<20)/50+64) {
		t.Fatalf("got %v, want %v", got, uint64((1<<20)/50+64))
	}

	buf := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(buf, nil))
	derived := connectionCap(0, 2, log)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur != lim.Max {
		t.Fatalf("soft limit raised to the hard one: got %v, want %v", lim.Cur, lim.Max)
	}
	if lim.Cur == unix.RLIM_INFINITY {
		if derived != int64(0) {
			t.Fatalf("no cap under an unlimited limit: got %v, want %v", derived, int64(0))
		}
	} else {
		if want := int64(lim.Cur - reservedFDs(lim.Cur, 2)); derived != want {
			t.Fatalf("got %v, want %v", derived, want)
		}
		if !strings.Contains(buf.String(), "max_connections derived from the descriptor limit") {
			t.Fatal(buf.String())
		}
		if got := connectionCap(int(derived)+1, 2, log); got != (derived + 1) {
			t.Fatalf("got %v, want %v", got, derived+1)
		}
		if !strings.Contains(buf.String(), "level=WARN") {
			t.Fatal("no warning for a cap above the derived one:", buf.String())
		}
	}
	if got := connectionCap(-1, 2, log); got != int64(0) {
		t.Fatalf("got %v, want %v", got, int64(0))
	}
	if got := connectionCap(5, 2, log); got != int64(5) {
		t.Fatalf("got %v, want %v", got, int64(5))
	}
}
