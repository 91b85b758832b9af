package bench

import (
	"context"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/loadgen"
)

// startGust runs the Gust broker in-process with the harness's settings.
func startGust(t *testing.T) string {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.Listen, cfg.LogLevel = "127.0.0.1:0", "warn"
	cfg.MaxInflight, cfg.MaxQueuedMessages = 64, 100000000
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
	return b.Addr().String()
}

// TestGustCounts checks the generator against the Gust broker: at QoS 1
// and 2 every message is delivered exactly once to every subscriber.
func TestGustCounts(t *testing.T) {
	addr := startGust(t)
	for _, tc := range []struct {
		name    string
		qos     byte
		version codec.Version
	}{
		{name: "qos1-v311", qos: 1, version: codec.V311},
		{name: "qos2-v311", qos: 2, version: codec.V311},
		{name: "qos1-v5", qos: 1, version: codec.V5},
		{name: "qos2-v5", qos: 2, version: codec.V5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadgen.DefaultConfig()
			cfg.Addr, cfg.Version, cfg.QoS = addr, tc.version, tc.qos
			cfg.Publishers, cfg.Subscribers, cfg.Count = 4, 2, 500
			cfg.PubTopic, cfg.SubTopic = "g/"+tc.name+"/%i", "g/"+tc.name+"/#"
			cfg.Duration, cfg.Drain = 10*time.Second, 5*time.Second
			res, err := loadgen.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != 2000 || res.Acked != 2000 || res.Expected != 4000 || res.Delivered != 4000 ||
				res.Lost != 0 || res.Duplicated != 0 || res.Errors != 0 {
				t.Fatalf("sent %d acked %d expected %d delivered %d lost %d dup %d errors %d",
					res.Sent, res.Acked, res.Expected, res.Delivered, res.Lost, res.Duplicated, res.Errors)
			}
		})
	}
}
