package loadgen

import (
	"testing"
)

func TestSeqWindow(t *testing.T) {
	var w seqWindow
	seq := []uint32{0, 1, 3, 2, 2, 5, 100, 4}
	want := []seqOutcome{seqInOrder, seqInOrder, seqInOrder, seqOutOfOrder, seqDuplicate, seqInOrder, seqInOrder, seqOutOfOrder}
	for i, s := range seq {
		if got := w.add(s); got != want[i] {
			t.Fatalf("add(%d) = %d, want %d", s, got, want[i])
		}
	}
	// 0..100 is 101 numbers; received 0,1,2,3,4,5,100.
	if g := w.gaps(); g != 101-7 {
		t.Fatalf("gaps %d, want %d", g, 101-7)
	}
}

func TestStampRoundTrip(t *testing.T) {
	p := make([]byte, StampSize)
	putStamp(p, 1234567890123, 7, 42)
	ts, pub, seq, ok := readStamp(p)
	if !ok || ts != 1234567890123 || pub != 7 || seq != 42 {
		t.Fatalf("got %d %d %d %v", ts, pub, seq, ok)
	}
	if _, _, _, ok := readStamp(p[:5]); ok {
		t.Fatal("short payload accepted")
	}
}
