package bench

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/loadgen"
)

// startGust runs the Gust broker in-process with the harness's settings.
func startGust(t *testing.T) string {
	t.Helper()
	return startGustWith(t, func(*engine.Config) {})
}

// startGustWith is startGust with edit applied to the configuration.
func startGustWith(t *testing.T, edit func(*engine.Config)) string {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.Listen, cfg.LogLevel = "127.0.0.1:0", "warn"
	cfg.MaxInflight, cfg.MaxQueuedMessages = 64, 100000000
	cfg.Store = engine.StoreMemory
	edit(&cfg)
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

// TestGustOffline checks the offline run against Gust in memory and on
// its disk store: every persistent subscriber leaves, comes back to its
// session, and drains every message published while it was away.
func TestGustOffline(t *testing.T) {
	for _, store := range []string{engine.StoreMemory, engine.StoreDisk} {
		t.Run(store, func(t *testing.T) {
			addr := startGustWith(t, func(c *engine.Config) { c.Store, c.DataDir = store, t.TempDir() })
			for _, v := range []codec.Version{codec.V311, codec.V5} {
				cfg := loadgen.DefaultConfig()
				cfg.Addr, cfg.Version, cfg.QoS = addr, v, 1
				cfg.Publishers, cfg.Subscribers, cfg.Count = 3, 3, 400
				cfg.PersistentSubs, cfg.Offline = true, true
				cfg.PubTopic, cfg.SubTopic = "off/%i", "off/%i"
				cfg.ClientPrefix = "off-" + store + "-" + strconv.Itoa(int(v))
				cfg.Duration, cfg.Drain = 10*time.Second, 10*time.Second
				res, err := loadgen.Run(context.Background(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				if res.Away != 3 || res.Resumed != 3 || res.Acked != 1200 || res.Delivered-res.Duplicated != 1200 ||
					res.Lost != 0 || res.Errors != 0 || res.DrainRate <= 0 {
					t.Fatalf("v%d: away %d resumed %d acked %d delivered %d dup %d lost %d errors %d drain %.0f/s",
						v, res.Away, res.Resumed, res.Acked, res.Delivered, res.Duplicated, res.Lost, res.Errors, res.DrainRate)
				}
			}
		})
	}
}
