package engine

import (
	"log/slog"
	"sync"
	"time"
)

// rateLog writes a warning for an event that a flood can repeat at most
// once per interval: the first occurrence at once, later ones counted and
// written with their count when the interval has passed (at the next
// occurrence or the next flush). Safe from any goroutine.
type rateLog struct {
	log      *slog.Logger
	msg      string
	interval time.Duration

	mu      sync.Mutex
	last    time.Time // when the last line was written
	pending uint64    // occurrences since then, not yet written
	attrs   []any     // of the latest pending occurrence
}

// newRateLog returns a rateLog writing msg to log at most once per second.
func newRateLog(log *slog.Logger, msg string) *rateLog {
	return &rateLog{log: log, msg: msg, interval: time.Second}
}

// note records n occurrences; attrs describe the latest (they are written
// with the line, after "count"). attrs must not be modified afterwards.
func (r *rateLog) note(n uint64, attrs ...any) {
	now := time.Now()
	r.mu.Lock()
	r.pending += n
	r.attrs = attrs
	if now.Sub(r.last) < r.interval {
		r.mu.Unlock()
		return
	}
	count, attrs := r.take(now)
	r.mu.Unlock()
	r.write(count, attrs)
}

// flush writes the occurrences counted since the last line, if any and
// if the interval has passed.
func (r *rateLog) flush() {
	now := time.Now()
	r.mu.Lock()
	if r.pending == 0 || now.Sub(r.last) < r.interval {
		r.mu.Unlock()
		return
	}
	count, attrs := r.take(now)
	r.mu.Unlock()
	r.write(count, attrs)
}

// take resets the pending count for a line written now. Caller holds r.mu.
func (r *rateLog) take(now time.Time) (uint64, []any) {
	count, attrs := r.pending, r.attrs
	r.pending, r.attrs, r.last = 0, nil, now
	return count, attrs
}

func (r *rateLog) write(count uint64, attrs []any) {
	r.log.Warn(r.msg, append([]any{"count", count}, attrs...)...)
}
