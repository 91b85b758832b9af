package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/loadgen"
)

// ProfileConfig asks for CPU and heap profiles of Gust under one scenario.
type ProfileConfig struct {
	// Scenario and QoS select the load.
	Scenario string
	QoS      byte
	// Size scales the scenario.
	Size Size
	// Dir receives cpu.pprof, heap.pprof and result.json.
	Dir string
}

// Profile runs Gust in this process (engine.New with the harness's
// settings) under one scenario and writes a CPU profile of the measured
// run and a heap profile taken when every client is connected (conn
// scenario) or at the end of publishing. The generator runs in the same
// process, so its functions (package loadgen) appear in the CPU profile
// beside the broker's (packages engine, codec, trie, gnet). Both ends of
// every connection count against this one process's open-file limit, so
// the conn scenario fits only at the Quick size.
func Profile(ctx context.Context, pc ProfileConfig) (*loadgen.Result, error) {
	s, ok := Scenarios(pc.Size)[pc.Scenario]
	if !ok {
		return nil, ErrUnknownScenario
	}
	if err := os.MkdirAll(pc.Dir, 0o755); err != nil {
		return nil, err
	}
	// Sample small per-connection allocations too (the default rate of
	// one sample per 512 KiB hides them).
	runtime.MemProfileRate = 1024
	cfg := engine.DefaultConfig()
	cfg.Listen, cfg.LogLevel = "127.0.0.1:0", "warn"
	cfg.MaxInflight, cfg.MaxQueuedMessages = 64, 100000000
	cfg.Store = engine.StoreMemory // the in-memory broker, as GustArgs says
	b, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Shutdown(sctx)
	}()
	addr := b.Addr().String()
	if s.Setup != nil {
		setup := *s.Setup
		setup.Addr = addr
		if _, err := loadgen.Run(ctx, setup); err != nil {
			return nil, err
		}
	}
	load := s.Load
	load.Addr = addr
	if !s.PerConn {
		load.QoS = pc.QoS
	}
	heapPath := filepath.Join(pc.Dir, "heap.pprof")
	trig := &heapTrigger{path: heapPath, want: int64(load.Publishers + load.Subscribers + load.Conns)}
	load.JSON = trig
	cpu, err := os.Create(filepath.Join(pc.Dir, "cpu.pprof"))
	if err != nil {
		return nil, err
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return nil, err
	}
	res, err := loadgen.Run(ctx, load)
	pprof.StopCPUProfile()
	if err != nil {
		return nil, err
	}
	if !trig.done {
		trig.snapshot()
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	return res, os.WriteFile(filepath.Join(pc.Dir, "result.json"), out, 0o644)
}

// heapTrigger watches the generator's JSON progress lines and writes one
// heap profile once every client is connected and a second has passed.
type heapTrigger struct {
	mu   sync.Mutex
	path string
	want int64
	seen int
	done bool
}

// Write receives one JSON line of the generator; safe from any goroutine.
func (t *heapTrigger) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done || !bytes.Contains(p, []byte(`"type":"progress"`)) {
		return len(p), nil
	}
	var pr loadgen.Progress
	if json.Unmarshal(p, &pr) == nil && pr.Connected >= t.want {
		if t.seen++; t.seen >= 2 {
			t.snapshot()
		}
	}
	return len(p), nil
}

// snapshot writes the heap profile. Caller holds t.mu or owns t.
func (t *heapTrigger) snapshot() {
	t.done = true
	runtime.GC()
	f, err := os.Create(t.path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.WriteHeapProfile(f)
}
