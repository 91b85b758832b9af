package engine

import (
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
		noErr(t, err, tc.in)
		equal(t, got, tc.want, tc.in)
		if tc.want > 0 {
			back, err := ParseByteSize(got.String())
			noErr(t, err, got.String())
			equal(t, back, got, "round trip of", tc.in)
		}
	}
	for _, bad := range []string{"", "1GB", "-1", "1.5GiB", "lots", "99999999999TiB"} {
		_, err := ParseByteSize(bad)
		check(t, err != nil && strings.Contains(err.Error(), "512MiB"), "accepted or unclear for", bad, err)
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
		noErr(t, err)
		b.applyMemoryLimit()
		return logs.String()
	}
	t.Setenv("GOMEMLIMIT", "")

	log := apply(512 << 20)
	equal(t, debug.SetMemoryLimit(-1), int64(512<<20), "explicit limit")
	check(t, strings.Contains(log, "limit=512MiB"), "log:", log)

	debug.SetMemoryLimit(300 << 20)
	log = apply(0)
	equal(t, debug.SetMemoryLimit(-1), int64(300<<20), "limit after memory_limit 0")
	check(t, strings.Contains(log, "memory_limit 0"), "log:", log)

	mem, _ := machineMemory()
	check(t, mem > 0, "machine memory unknown")
	log = apply(MemoryLimitAuto)
	got := debug.SetMemoryLimit(-1)
	check(t, got > mem/2 && got <= mem/4*3, "auto limit", got, "for machine memory", mem)
	check(t, strings.Contains(log, "3/4 of"), "log:", log)

	t.Setenv("GOMEMLIMIT", "700MiB")
	debug.SetMemoryLimit(700 << 20) // as the runtime did at start-up
	log = apply(512 << 20)
	equal(t, debug.SetMemoryLimit(-1), int64(700<<20), "limit with GOMEMLIMIT set")
	check(t, strings.Contains(log, "GOMEMLIMIT=700MiB"), "log:", log)
}
