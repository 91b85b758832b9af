package persist

import (
	"errors"
	"testing"
)

// TestCommitterOrder: done functions run in commit order, a refused
// commit's after the written ones queued before it, even while those are
// still being written.
func TestCommitterOrder(t *testing.T) {
	var c committer
	gate := make(chan struct{})
	c.start(0, func(group []pending, _ bool) error { <-gate; return nil }, func() error { return nil })
	order := make(chan string, 3)
	c.commit(&Batch{}, func(err error) { order <- "a" }, nil)
	refused := errors.New("refused")
	c.commit(&Batch{}, func(err error) {
		if err != refused {
			t.Errorf("refused commit done with %v", err)
		}
		order <- "b"
	}, refused)
	c.commit(&Batch{}, func(err error) { order <- "c" }, nil)
	close(gate)
	got := <-order + <-order + <-order
	if got != "abc" {
		t.Fatalf("done order %s, want abc", got)
	}
	c.close()
	if st := c.stats(); st.Commits != 2 || st.Failures != 1 {
		t.Fatalf("stats %+v", st)
	}
}
