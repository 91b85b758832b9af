package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestInteropMosquittoWebSocket runs QoS 1 and 2 over WebSocket against
// Mosquitto's websockets listener (libwebsockets): every message arrives
// exactly once, so the framing both ways (masked frames out, frames of
// several packets in) is right.
func TestInteropMosquittoWebSocket(t *testing.T) {
	addr := startMosquittoListener(t, "protocol websockets\n")
	for _, tc := range []struct {
		name string
		qos  byte
		size int
	}{
		{name: "qos1", qos: 1, size: 64},
		// Mosquitto 2.0.11's websockets stall on bursts of large messages
		// (paho.mqtt.golang sees the same): keep them small here; Gust's
		// own tests carry large ones.
		{name: "qos2", qos: 2, size: 512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Addr, cfg.WebSocket = addr, true
			cfg.Version, cfg.QoS, cfg.PayloadSize = codec.V311, tc.qos, tc.size
			cfg.Publishers, cfg.Subscribers = 4, 2
			cfg.PubTopic, cfg.SubTopic = "ws/"+tc.name+"/%i", "ws/"+tc.name+"/#"
			cfg.Count = 200
			cfg.Duration, cfg.Drain = 20*time.Second, 10*time.Second
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := Result{Connected: 6, Sent: 800, Acked: 800, Expected: 1600, Delivered: 1600}
			got := Result{Connected: res.Connected, Sent: res.Sent, Acked: res.Acked, Expected: res.Expected,
				Delivered: res.Delivered, Lost: res.Lost, Duplicated: res.Duplicated, Errors: res.Errors}
			if got != want {
				t.Fatalf("counts: got %+v, want %+v (failures %v)", got, want, res.Failures)
			}
		})
	}
}

// A refused upgrade fails the clients with the reason, not a hang.
func TestWebSocketRefusedUpgrade(t *testing.T) {
	addr := startMosquitto(t) // plain MQTT: the upgrade request is not MQTT
	cfg := DefaultConfig()
	cfg.Addr, cfg.WebSocket = addr, true
	cfg.Publishers, cfg.Subscribers = 1, 0
	cfg.Mode = ModePub
	cfg.Count, cfg.Duration, cfg.ConnectTimeout = 1, 2*time.Second, 3*time.Second
	res, err := Run(context.Background(), cfg)
	if err == nil && res.Connected != 0 {
		t.Fatalf("connected %d over a refused upgrade", res.Connected)
	}
}
