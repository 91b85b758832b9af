package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestInteropMosquittoCounts checks that at QoS 1 and 2 every message
// published is delivered exactly once, against a real broker.
func TestInteropMosquittoCounts(t *testing.T) {
	addr := startMosquitto(t)
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
			cfg := DefaultConfig()
			cfg.Addr = addr
			cfg.Version = tc.version
			cfg.QoS = tc.qos
			cfg.Publishers = 4
			cfg.Subscribers = 2
			cfg.PubTopic = "t/" + tc.name + "/%i"
			cfg.SubTopic = "t/" + tc.name + "/#"
			cfg.Count = 500
			cfg.Duration = 10 * time.Second
			cfg.Drain = 5 * time.Second
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := Result{Connected: 6, Sent: 2000, Acked: 2000, Expected: 4000, Delivered: 4000}
			got := Result{Connected: res.Connected, Sent: res.Sent, Acked: res.Acked, Expected: res.Expected,
				Delivered: res.Delivered, Lost: res.Lost, Duplicated: res.Duplicated, Errors: res.Errors}
			if got != want || res.Latency.Count != 4000 {
				t.Fatalf("counts: got %+v (latency count %d), want %+v", got, res.Latency.Count, want)
			}
		})
	}
}
