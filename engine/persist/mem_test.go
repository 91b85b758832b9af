package persist

import (
	"testing"
	"time"
)

func TestMemRoundTrip(t *testing.T) {
	m := NewMem()
	defer m.Close()
	if err := commitWait(t, m, fullBatch()); err != nil {
		t.Fatal(err)
	}
	equalLines(t, recoverAll(t, m), fullWant)

	var b Batch
	b.DeleteSession("c1")
	b.DeleteMessage(7)
	b.DeleteMessage(8)
	if err := commitWait(t, m, &b); err != nil {
		t.Fatal(err)
	}
	equalLines(t, recoverAll(t, m), `[retained r/1 q1 exp-5 "kept" 02 session c2 v4 exp4294967295 off0 will(nil)]`)
}

// TestMemHold: a held commit does not complete until Release.
func TestMemHold(t *testing.T) {
	m := NewMem()
	defer m.Close()
	m.Hold()
	done := make(chan error, 1)
	m.Commit(fullBatch(), func(err error) { done <- err })
	select {
	case <-done:
		t.Fatal("held commit completed")
	case <-time.After(100 * time.Millisecond):
	}
	m.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m.Len() == 0 {
		t.Fatal("nothing stored")
	}
}

// TestCommitAfterClose fails at once with ErrClosed.
func TestCommitAfterClose(t *testing.T) {
	m := NewMem()
	_ = m.Close()
	if err := commitWait(t, m, fullBatch()); err != ErrClosed {
		t.Fatalf("commit after close: %v", err)
	}
	if st := m.Stats(); st.Failures != 1 {
		t.Fatalf("failures %d", st.Failures)
	}
}
