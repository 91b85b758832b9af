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
	if len(lines) != 1 {
		t.Fatalf("%v: got %v, want %v", buf.String(), len(lines), 1)
	}
	if !(strings.Contains(lines[0], "count=1") && strings.Contains(lines[0], "err=EMFILE")) {
		t.Fatal(lines[0])
	}
	time.Sleep(r.interval)
	r.flush()
	lines = strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%v: got %v, want %v", buf.String(), len(lines), 2)
	}
	if !strings.Contains(lines[1], "count=99") {
		t.Fatal(lines[1])
	}
	r.flush() // nothing pending
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("got %v, want %v", got, 2)
	}
}
