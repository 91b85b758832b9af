package bench

import (
	"context"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/loadgen"
)

func TestFsyncRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	samples := []syncSample{
		{at: at(0), syncs: 10},
		{at: at(500), syncs: 60},
		{at: at(1000), syncs: 160},
		{at: at(1500), syncs: 260},
		{at: at(2000), syncs: 270},
	}
	for _, tc := range []struct {
		name     string
		samples  []syncSample
		from, to time.Time
		want     float64
		ok       bool
	}{
		{name: "all", samples: samples, from: at(0), to: at(2000), want: 130, ok: true},
		{name: "inside only", samples: samples, from: at(400), to: at(1600), want: 200, ok: true},
		{name: "one sample", samples: samples, from: at(900), to: at(1100), ok: false},
		{name: "none", samples: nil, from: at(0), to: at(2000), ok: false},
		{name: "restarted", samples: []syncSample{{at: at(0), syncs: 50}, {at: at(500), syncs: 3}}, from: at(0), to: at(500), ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fsyncRate(tc.samples, tc.from, tc.to)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("got %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestSyncProbeHandle feeds the probe a CONNACK, a retained copy, two live
// publications split across reads, and checks only the live ones count.
func TestSyncProbeHandle(t *testing.T) {
	pub := func(v string, retain bool) []byte {
		return codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte(syncsTopic), Payload: []byte(v), Retain: retain})
	}
	var stream []byte
	stream = codec.AppendConnack(stream, codec.V311, &codec.Connack{})
	stream = append(stream, pub("5", true)...)
	stream = append(stream, pub("7", false)...)
	stream = append(stream, pub("9", false)...)
	p := &syncProbe{}
	now := time.Unix(1, 0)
	split := len(stream) - 3
	used, err := p.handle(stream[:split], now)
	if err != nil {
		t.Fatal(err)
	}
	rest := append(append([]byte{}, stream[used:split]...), stream[split:]...)
	if n, err := p.handle(rest, now); err != nil || n != len(rest) {
		t.Fatalf("second read: used %d of %d, %v", n, len(rest), err)
	}
	if len(p.samples) != 2 || p.samples[0].syncs != 7 || p.samples[1].syncs != 9 {
		t.Fatalf("samples %+v, want the live 7 and 9", p.samples)
	}
	if _, err := p.handle(codec.AppendPingreq(nil), now); err == nil {
		t.Fatal("a PINGREQ from the broker was accepted")
	}
}

// TestSyncProbeGust reads the fsync counter of an in-process Gust on its
// disk store while retained QoS 1 publishes make it sync.
func TestSyncProbeGust(t *testing.T) {
	cfg := engine.DefaultConfig()
	cfg.Listen, cfg.LogLevel = "127.0.0.1:0", "warn"
	cfg.Store, cfg.DataDir, cfg.Fsync = engine.StoreDisk, t.TempDir(), "always"
	cfg.SysInterval = 100 * time.Millisecond
	b, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	addr := b.Addr().String()
	p, err := startSyncProbe(addr)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	load := loadgen.DefaultConfig()
	load.Addr, load.Mode, load.QoS, load.Retain = addr, loadgen.ModePub, 1, true
	load.Publishers, load.PubTopic, load.TopicCycle = 2, "probe/%i/%n", 100
	load.Duration = time.Second
	res, err := loadgen.Run(context.Background(), load)
	if err != nil || res.Acked == 0 {
		t.Fatalf("load: %v %+v", err, res)
	}
	t1 := time.Now()
	rate, ok := fsyncRate(p.stop(), t0, t1)
	if !ok || rate <= 0 {
		t.Fatalf("fsync rate %v, %v over %v of retained publishes", rate, ok, t1.Sub(t0))
	}
}
