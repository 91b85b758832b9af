package bench

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// gitCommit returns the short commit of root, with "-dirty" when the work
// tree has uncommitted changes, or "nogit".
func gitCommit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "nogit"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += "-dirty"
	}
	return c
}

// envText describes the machine and the run for env.txt.
func (h *harness) envText() string {
	var b strings.Builder
	w := func(k, v string) { fmt.Fprintf(&b, "%-16s %s\n", k+":", v) }
	w("date", h.started.UTC().Format(time.RFC3339))
	w("commit", gitCommit(h.root))
	w("cpu", cpuModel())
	w("cores", strconv.Itoa(runtime.NumCPU()))
	w("kernel", readTrim("/proc/sys/kernel/osrelease"))
	w("go", runtime.Version())
	w("gomaxprocs", strconv.Itoa(runtime.GOMAXPROCS(0)))
	w("memory", memTotal())
	w("loadavg start", h.loadStart)
	w("loadavg end", readTrim("/proc/loadavg"))
	if busy, steal := MachineCPUSecs(); busy > h.busyStart {
		w("cpu stolen", fmt.Sprintf("%.1f s of %.1f s busy CPU during the run (steal: the hypervisor serving other guests)",
			steal-h.stealStart, busy-h.busyStart))
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		w("nofile", fmt.Sprintf("soft %d hard %d", rl.Cur, rl.Max))
	}
	if platformNote != "" {
		w("platform", platformNote)
	}
	w("flags", strings.Join(h.cfg.Args, " "))
	w("size", map[Size]string{Quick: "quick", Standard: "standard"}[h.cfg.Size])
	w("reps", strconv.Itoa(h.cfg.Reps))
	w("pin broker", orNone(h.cfg.PinBroker))
	w("pin generator", orNone(h.cfg.PinGenerator))
	for _, t := range h.targets {
		w("target "+t.Name, t.Version)
		switch t.Kind {
		case KindGust:
			flags, note := GustArgs(), ""
			if t.Durable() {
				flags = append(flags, "--sys-interval", sysProbeInterval.String())
				if _, ok := lastFlag(t.Args, "data-dir"); !ok {
					flags, note = append(flags, "--data-dir", "DIR"), freshDir
				}
			}
			w(t.Name+" flags", "serve --listen 127.0.0.1:PORT --log-level warn "+strings.Join(append(flags, t.Args...), " ")+note)
		case KindMosquitto:
			conf, note := MosquittoConfig(0), ""
			if t.Persist {
				conf, note = MosquittoPersistConfig(0, "DIR"), freshDir
			}
			w(t.Name+" conf", strings.ReplaceAll(strings.TrimSpace(conf), "\n", "; ")+note)
		case KindMochi:
			w("mochi options", "defaults (bench/peers/mochi): allow-all auth, logging off")
		}
	}
	for _, s := range h.skipped {
		w("skipped", s)
	}
	b.WriteString("\nThe generator (gust load's engine, in this process) and every broker share the machine;\n" +
		"broker CPU and RSS are sampled from /proc/PID every 100 ms, generator CPU from getrusage.\n")
	return b.String()
}

// freshDir explains DIR in a target's flags or configuration.
const freshDir = " (DIR: a fresh directory per start, removed after)"

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.Join(strings.Fields(line)[1:], " ")
}

// parseCPUList returns the CPUs of a list such as "0", "0-1" or "0,2".
func parseCPUList(list string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, err
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
