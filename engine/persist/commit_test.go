package persist

import (
	"errors"
	"testing"
)

// TestCommitterOrder: done functions run in commit order, a refused
// commit's after the written ones queued before it, even while those are
// still being written or synced; a group is written while the one before
// it waits for its sync.
func TestCommitterOrder(t *testing.T) {
	var c committer
	gate := make(chan struct{})
	synced := make(chan struct{})
	writes := make(chan int, 8)
	n := 0
	c.start(0, func(group []pending, _ bool) (func() error, error) {
		n++
		writes <- n
		if n == 1 {
			<-gate
		}
		return func() error { <-synced; return nil }, nil
	}, func() error { return nil })
	op := func() *Batch {
		var b Batch
		b.DeleteMessage(1)
		return &b
	}
	order := make(chan string, 4)
	c.commit(op(), func(err error) { order <- "a" }, nil)
	if <-writes != 1 {
		t.Fatal("first group not written first")
	}
	refused := errors.New("refused")
	c.commit(op(), func(err error) {
		if err != refused {
			t.Errorf("refused commit done with %v", err)
		}
		order <- "b"
	}, refused)
	c.commit(op(), func(err error) { order <- "c" }, nil)
	close(gate)
	if <-writes != 2 {
		t.Fatal("second group not written")
	}
	// The second group was written while the first waits for its sync.
	select {
	case got := <-order:
		t.Fatalf("%s done before any sync", got)
	default:
	}
	close(synced)
	got := <-order + <-order + <-order
	if got != "abc" {
		t.Fatalf("done order %s, want abc", got)
	}
	c.close()
	if st := c.stats(); st.Commits != 2 || st.Failures != 1 || st.Groups != 2 {
		t.Fatalf("stats %+v", st)
	}
}
