package engine

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
	}{
		{in: "0", want: 0},
		{in: "1073741824", want: 1 << 30},
		{in: "512MiB", want: 512 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: " 2 TiB ", want: 2 << 40},
		{in: "64KiB", want: 64 << 10},
		{in: "100B", want: 100},
		{in: "auto", want: MemoryLimitAuto},
		{in: "AUTO", want: MemoryLimitAuto},
	} {
		got, err := ParseByteSize(tc.in)
		if err != nil {
			t.Fatal(err, tc.in)
		}
		if got != tc.want {
			t.Fatalf("%v: got %v, want %v", tc.in, got, tc.want)
		}
		if tc.want > 0 {
			back, err := ParseByteSize(got.String())
			if err != nil {
				t.Fatal(err, got.String())
			}
			if back != got {
				t.Fatalf("%s: got %v, want %v", fmt.Sprint("round trip of", tc.in), back, got)
			}
		}
	}
	for _, bad := range []string{"", "1GB", "-1", "1.5GiB", "lots", "99999999999TiB"} {
		_, err := ParseByteSize(bad)
		if !(err != nil && strings.Contains(err.Error(), "512MiB")) {
			t.Fatal("accepted or unclear for", bad, err)
		}
	}
}

// TestMemoryLimitApplied: an explicit memory_limit is given to the
// runtime, auto takes 3/4 of the machine's memory, 0 leaves the runtime's
// limit and GOMEMLIMIT wins over all; each is logged.
func TestMemoryLimitApplied(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	apply := func(lim ByteSize) string {
		var logs syncBuffer
		cfg := DefaultConfig()
		cfg.MemoryLimit = lim
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		b, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b.applyMemoryLimit()
		return logs.String()
	}
	t.Setenv("GOMEMLIMIT", "")

	log := apply(512 << 20)
	if got := debug.SetMemoryLimit(-1); got != int64(512<<20) {
		t.Fatalf("explicit limit: got %v, want %v", got, int64(512<<20))
	}
	if !strings.Contains(log, "limit=512MiB") {
		t.Fatal("log:", log)
	}

	debug.SetMemoryLimit(300 << 20)
	log = apply(0)
	if got := debug.SetMemoryLimit(-1); got != int64(300<<20) {
		t.Fatalf("limit after memory_limit 0: got %v, want %v", got, int64(300<<20))
	}
	if !strings.Contains(log, "memory_limit 0") {
		t.Fatal("log:", log)
	}

	mem, _ := machineMemory()
	if mem <= 0 {
		t.Fatal("machine memory unknown")
	}
	log = apply(MemoryLimitAuto)
	got := debug.SetMemoryLimit(-1)
	if !(got > mem/2 && got <= mem/4*3) {
		t.Fatal("auto limit", got, "for machine memory", mem)
	}
	if !strings.Contains(log, "3/4 of") {
		t.Fatal("log:", log)
	}

	t.Setenv("GOMEMLIMIT", "700MiB")
	debug.SetMemoryLimit(700 << 20) // as the runtime did at start-up
	log = apply(512 << 20)
	if got := debug.SetMemoryLimit(-1); got != int64(700<<20) {
		t.Fatalf("limit with GOMEMLIMIT set: got %v, want %v", got, int64(700<<20))
	}
	if !strings.Contains(log, "GOMEMLIMIT=700MiB") {
		t.Fatal("log:", log)
	}
}
