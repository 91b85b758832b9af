package bench

import (
	"bytes"
	"encoding/json"
	"sync"
	"time"

	"github.com/gust-mqtt/gust/loadgen"
)

// holdAfter is how long the conn scenario's idle connections have been
// held when the broker's RSS per idle connection is read ("RSS per idle
// connection" is the memory while the connections sit idle, not only the
// peak of the storm that opened them). Every target is read the same way.
const holdAfter = 8 * time.Second

// holdProbe watches the generator's JSON progress lines and reads the
// broker's RSS once every connection has been up for holdAfter (or, for a
// shorter hold, at the last progress line with every connection up).
// Safe from any goroutine.
type holdProbe struct {
	mu    sync.Mutex
	pid   int
	want  int64
	since time.Time // when every connection was first seen up
	rss   int64     // last reading; 0 none
	done  bool      // read after holdAfter: final
}

// Write receives one JSON line of the generator.
func (h *holdProbe) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done || !bytes.Contains(p, []byte(`"type":"progress"`)) {
		return len(p), nil
	}
	var pr loadgen.Progress
	if json.Unmarshal(p, &pr) != nil || pr.Connected < h.want {
		return len(p), nil
	}
	now := time.Now()
	if h.since.IsZero() {
		h.since = now
	}
	if s, err := ReadProc(h.pid); err == nil {
		h.rss = s.RSSBytes
		h.done = now.Sub(h.since) >= holdAfter
	}
	return len(p), nil
}

// holdRSS returns the reading (0: none).
func (h *holdProbe) holdRSS() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rss
}
