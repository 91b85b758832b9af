package engine

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// BenchmarkGCSessions measures a full GC with many offline persistent
// sessions, each holding one subscription (STYLE.md §5.10).
func BenchmarkGCSessions(b *testing.B) {
	for _, tc := range []struct {
		n       int
		withSub bool
	}{{n: 100_000}, {n: 100_000, withSub: true}} {
		n, withSub := tc.n, tc.withSub
		b.Run(fmt.Sprintf("sessions=%d/subscribed=%v", n, withSub), func(b *testing.B) {
			hs := newHarness(b, 1)
			for i := 0; i < n; i++ {
				f := &fakeConn{el: hs.loops[0]}
				hs.h.OnOpen(f)
				hs.send(f, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
					ClientID: []byte(fmt.Sprint("gc", i))}))
				if withSub {
					hs.subscribe(f, fmt.Sprintf("gc/%d/+", i), 1)
				}
				hs.loops[0].Close(f)
			}
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				runtime.GC()
				total += time.Since(t0)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "us/gc")
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc>>20), "heapMiB")
			b.ReportMetric(float64(ms.HeapObjects), "objects")
			runtime.KeepAlive(hs)
		})
	}
}
