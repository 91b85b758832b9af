package engine

import (
	"fmt"
	"log/slog"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
)

// fillRecoveryStore writes n retained messages and n/10 persistent
// sessions holding n queued deliveries of n/2 messages (each message
// queued to two sessions) into st.
func fillRecoveryStore(b *testing.B, st persist.Store, n int) {
	b.Helper()
	var pb persist.Batch
	flush := func() {
		done := make(chan error, 1)
		st.Commit(&pb, func(err error) { done <- err })
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		pb.Reset()
	}
	payload := make([]byte, 64)
	for i := range n {
		pb.PutRetained(&persist.Retained{Topic: fmt.Appendf(nil, "r/%d/%d", i/1000, i%1000), Payload: payload, QoS: 1})
		if pb.Len() >= 10_000 {
			flush()
		}
	}
	const perSession, fanout = 10, 2
	offline := time.Now().UnixNano()
	seq := uint64(0)
	for g := range n / perSession / fanout {
		for j := range perSession {
			pb.PutMessage(&persist.Message{ID: uint64(g*perSession + j + 1), Topic: fmt.Appendf(nil, "q/%d/%d", g, j), Payload: payload, QoS: 1})
		}
		for s := range fanout {
			id := fmt.Sprintf("rec-%06d-%d", g, s)
			pb.PutSession(&persist.Session{ClientID: id, Version: byte(codec.V311), Expiry: 0xFFFFFFFF, OfflineAt: offline})
			pb.PutSubscription(&persist.Subscription{ClientID: id, Filter: fmt.Appendf(nil, "q/%d/#", g), QoS: 1})
			for j := range perSession {
				seq++
				pb.PutDelivery(&persist.Delivery{ClientID: id, Seq: seq, MessageID: uint64(g*perSession + j + 1), QoS: 1})
			}
		}
		if pb.Len() >= 10_000 {
			flush()
		}
	}
	flush()
}

// BenchmarkRecover rebuilds a broker's state from a disk store of 100k
// retained messages and 10k sessions holding 100k queued deliveries, and
// reports the live heap it takes per record read.
func BenchmarkRecover(b *testing.B) {
	const n = 100_000
	st, err := persist.OpenDisk(b.TempDir(), persist.DiskOptions{Sync: persist.Sync{Every: persist.Never}, Ballast: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fillRecoveryStore(b, st, n)
	records := n + n/2 + n/10*2 + n
	cfg := DefaultConfig()
	cfg.Persist = st
	cfg.Logger = slog.New(slog.DiscardHandler)
	b.ReportAllocs()
	var before, after runtime.MemStats
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		brk, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&before)
		c0 := cpuTime(b)
		b.StartTimer()
		if err := brk.openStore(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += cpuTime(b) - c0
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(brk)
		b.StartTimer()
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(records), "live-B/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(records), "ns/record")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(records), "cpu-ns/record")
}

// cpuTime is the CPU time the process has used, every thread's: the
// figure a busy machine changes least.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
