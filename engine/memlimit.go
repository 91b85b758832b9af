package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// ByteSize is a number of bytes in a setting. In TOML and on the command
// line it is written as a plain count (1073741824), a number with one of
// the suffixes B, KiB, MiB, GiB, TiB (512MiB, 1GiB; as GOMEMLIMIT accepts)
// or, where the setting allows it, "auto" (MemoryLimitAuto).
type ByteSize int64

// MemoryLimitAuto is Config.MemoryLimit's "auto": derive the limit from
// the machine (see Config.MemoryLimit).
const MemoryLimitAuto ByteSize = -1

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// String writes s in the largest unit that divides it, "auto" for
// MemoryLimitAuto.
func (s ByteSize) String() string {
	if s == MemoryLimitAuto {
		return "auto"
	}
	for _, u := range sizeUnits {
		if s > 0 && int64(s)%u.mult == 0 && u.mult > 1 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// Set parses a size (flag.Value).
func (s *ByteSize) Set(v string) error {
	n, err := ParseByteSize(v)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// UnmarshalText parses a size (TOML strings and integers).
func (s *ByteSize) UnmarshalText(b []byte) error { return s.Set(string(b)) }

// MarshalText writes s as String does.
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseByteSize parses the forms ByteSize documents. Its error names the
// accepted forms; the caller adds the setting's name.
func ParseByteSize(v string) (ByteSize, error) {
	t := strings.TrimSpace(v)
	if strings.EqualFold(t, "auto") {
		return MemoryLimitAuto, nil
	}
	mult := int64(1)
	for _, u := range sizeUnits {
		if num, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%w: bad size %q: want auto, a byte count such as 1073741824, or a number with B, KiB, MiB, GiB or TiB such as 512MiB", ErrConfig, v)
	}
	return ByteSize(n * mult), nil
}

// memoryLimitShare is the part of the machine's memory MemoryLimitAuto
// gives the runtime, in quarters: the rest is for the kernel (socket
// buffers), other processes and the runtime's own overshoot.
const memoryLimitShare = 3

// applyMemoryLimit sets the Go runtime's soft memory limit from
// Config.MemoryLimit unless GOMEMLIMIT is set, and logs what was chosen.
// Called by Start.
func (b *Broker) applyMemoryLimit() {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		b.log.Info("memory limit", "limit", ByteSize(debug.SetMemoryLimit(-1)).String(), "source", "GOMEMLIMIT="+env)
		return
	}
	lim, src := b.cfg.MemoryLimit, "memory_limit"
	switch {
	case lim == 0:
		cur := debug.SetMemoryLimit(-1)
		if cur == math.MaxInt64 {
			b.log.Info("memory limit", "limit", "none", "source", "memory_limit 0")
		} else {
			b.log.Info("memory limit", "limit", ByteSize(cur).String(), "source", "set by the program (memory_limit 0)")
		}
		return
	case lim == MemoryLimitAuto:
		mem, from := machineMemory()
		if mem <= 0 {
			b.log.Warn("memory limit not set: machine memory unknown", "source", "memory_limit auto")
			return
		}
		lim = ByteSize(mem/4*memoryLimitShare) &^ (1<<20 - 1) // whole MiB, for the log
		src = "3/4 of " + from + " (" + strconv.FormatInt(mem, 10) + " bytes)"
	}
	debug.SetMemoryLimit(int64(lim))
	b.log.Info("memory limit", "limit", lim.String(), "source", src)
}

// machineMemory returns the memory the process may use: the machine's
// (MemTotal in /proc/meminfo), or its cgroup's memory limit when that is
// lower, and where the figure comes from; 0 when neither can be read.
func machineMemory() (int64, string) {
	mem, from := meminfoTotal(), "/proc/meminfo MemTotal"
	for _, p := range []string{
		"/sys/fs/cgroup/memory.max",                   // cgroup v2
		"/sys/fs/cgroup/memory/memory.limit_in_bytes", // cgroup v1
	} {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil || n <= 0 { // "max": no limit
			continue
		}
		if mem <= 0 || n < mem { // v1 writes a huge number for no limit
			mem, from = n, p
		}
	}
	return mem, from
}

// meminfoTotal reads MemTotal from /proc/meminfo, in bytes; 0 if unknown.
func meminfoTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
