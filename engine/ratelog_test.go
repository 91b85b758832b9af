package engine

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestRateLog checks that a flood of occurrences writes one line at once
// and the rest as one line with their count once the interval has passed.
func TestRateLog(t *testing.T) {
	buf := &syncBuffer{}
	r := newRateLog(slog.New(slog.NewTextHandler(buf, nil)), "accept failed")
	r.interval = 200 * time.Millisecond
	for i := 0; i < 100; i++ {
		r.note(1, "err", "EMFILE")
	}
	r.flush() // within the interval: nothing more
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	equal(t, len(lines), 1, buf.String())
	check(t, strings.Contains(lines[0], "count=1") && strings.Contains(lines[0], "err=EMFILE"), lines[0])
	time.Sleep(r.interval)
	r.flush()
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	equal(t, len(lines), 2, buf.String())
	check(t, strings.Contains(lines[1], "count=99"), lines[1])
	r.flush() // nothing pending
	equal(t, strings.Count(buf.String(), "\n"), 2)
}
