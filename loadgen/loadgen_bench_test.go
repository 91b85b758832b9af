package loadgen

import "testing"

func BenchmarkSeqWindowInOrder(b *testing.B) {
	b.ReportAllocs()
	var w seqWindow
	var sink seqOutcome
	for i := 0; i < b.N; i++ {
		sink += w.add(uint32(i))
	}
	_ = sink
}

func BenchmarkStamp(b *testing.B) {
	b.ReportAllocs()
	p := make([]byte, 64)
	b.SetBytes(StampSize)
	var sink int64
	for i := 0; i < b.N; i++ {
		putStamp(p, int64(i), 1, uint32(i))
		ts, _, _, _ := readStamp(p)
		sink += ts
	}
	_ = sink
}
