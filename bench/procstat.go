package bench

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat
// (100 on every Linux architecture Go supports).
const clockTicks = 100

// ProcSample is one reading of a process's CPU time and resident memory.
type ProcSample struct {
	CPUSecs  float64 // user + system
	RSSBytes int64
}

// ReadProc reads /proc/PID/stat and /proc/PID/status.
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return s, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 {
		f := bytes.Fields(stat[i+1:])
		// f[0] is field 3 (state); utime and stime are fields 14 and 15.
		if len(f) > 12 {
			ut, _ := strconv.ParseInt(string(f[11]), 10, 64)
			st, _ := strconv.ParseInt(string(f[12]), 10, 64)
			s.CPUSecs = float64(ut+st) / clockTicks
		}
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return s, err
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				s.RSSBytes = kb << 10
			}
			break
		}
	}
	return s, nil
}

// ReadWriteBytes reads write_bytes of /proc/PID/io: the bytes the
// process (all its threads) caused to be sent to storage, counted when
// it dirties page-cache pages, so a page written again before it is
// flushed counts once and a page written again after an fsync counts
// again. ok is false when the file cannot be read (another user's
// process, or not Linux).
func ReadWriteBytes(pid int) (n int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, false
	}
	return parseWriteBytes(b)
}

// parseWriteBytes finds the write_bytes line of a /proc/PID/io text.
func parseWriteBytes(b []byte) (int64, bool) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("write_bytes:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}

// ProcUsage is what a Sampler saw over one measured run.
type ProcUsage struct {
	CPUSecs      float64 `json:"cpu_secs"`
	RSSStart     int64   `json:"rss_start"`
	RSSPeak      int64   `json:"rss_peak"`
	RSSEnd       int64   `json:"rss_end"`
	SampledEvery string  `json:"sampled_every"`
	// DiskWriteBytes is the growth of write_bytes (see ReadWriteBytes)
	// over the run; -1 when /proc/PID/io could not be read.
	DiskWriteBytes int64 `json:"disk_write_bytes"`
}

// Sampler polls one process every interval for its peak RSS. Safe from
// any goroutine: Stop may be called once, from any goroutine.
type Sampler struct {
	pid      int
	interval time.Duration
	start    ProcSample
	written  int64 // write_bytes at start; -1 unreadable
	mu       sync.Mutex
	peak     int64
	done     chan struct{}
	finished chan struct{}
}

// StartSampler takes a first reading of pid and starts polling it.
func StartSampler(pid int, interval time.Duration) *Sampler {
	s := &Sampler{pid: pid, interval: interval, done: make(chan struct{}), finished: make(chan struct{})}
	s.start, _ = ReadProc(pid)
	s.written = -1
	if n, ok := ReadWriteBytes(pid); ok {
		s.written = n
	}
	s.peak = s.start.RSSBytes
	go s.loop()
	return s
}

func (s *Sampler) loop() {
	defer close(s.finished)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if p, err := ReadProc(s.pid); err == nil {
				s.mu.Lock()
				s.peak = max(s.peak, p.RSSBytes)
				s.mu.Unlock()
			}
		}
	}
}

// Stop ends polling and returns the CPU time used since StartSampler and
// the RSS at start, peak and end.
func (s *Sampler) Stop() ProcUsage {
	close(s.done)
	<-s.finished
	end, _ := ReadProc(s.pid)
	written := int64(-1)
	if n, ok := ReadWriteBytes(s.pid); ok && s.written >= 0 && n >= s.written {
		written = n - s.written
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return ProcUsage{
		CPUSecs:        end.CPUSecs - s.start.CPUSecs,
		RSSStart:       s.start.RSSBytes,
		RSSPeak:        max(s.peak, end.RSSBytes),
		RSSEnd:         end.RSSBytes,
		SampledEvery:   s.interval.String(),
		DiskWriteBytes: written,
	}
}

// MachineCPUSecs reads, from the first line of /proc/stat, the CPU time
// all CPUs have spent busy since boot (not idle or waiting for I/O;
// stolen time included) and the part of it the hypervisor gave to other
// guests (steal): CPU this machine's work wanted and did not get.
func MachineCPUSecs() (busy, steal float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 6 || string(f[0]) != "cpu" {
		return 0, 0
	}
	var total, idle, stolen int64
	for i, x := range f[1:] {
		v, _ := strconv.ParseInt(string(x), 10, 64)
		if i >= 8 { // guest time is already counted in user time
			break
		}
		total += v
		switch i {
		case 3, 4: // idle, iowait
			idle += v
		case 7:
			stolen = v
		}
	}
	return float64(total-idle) / clockTicks, float64(stolen) / clockTicks
}
