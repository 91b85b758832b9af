package loadgen

import (
	"context"
	"strconv"
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

// TestInteropMosquittoOffline checks the Offline run against a real
// broker: the persistent subscribers leave, every QoS 1 message is
// acknowledged while they are away, and they come back to their sessions
// and drain every message.
func TestInteropMosquittoOffline(t *testing.T) {
	addr := startMosquitto(t)
	for name, v := range map[string]codec.Version{"v311": codec.V311, "v5": codec.V5} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Addr, cfg.Version, cfg.QoS = addr, v, 1
			cfg.Publishers, cfg.Subscribers = 4, 4
			cfg.PubTopic, cfg.SubTopic = "off/"+strconv.Itoa(int(v))+"/%i", "off/"+strconv.Itoa(int(v))+"/%i"
			cfg.PersistentSubs, cfg.Offline = true, true
			cfg.Count = 500
			cfg.Duration, cfg.Drain = 10*time.Second, 10*time.Second
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := Result{Connected: 8, Sent: 2000, Acked: 2000, Expected: 2000, Delivered: 2000, Away: 4, Back: 4, Resumed: 4}
			got := Result{Connected: res.Connected, Sent: res.Sent, Acked: res.Acked, Expected: res.Expected,
				Delivered: res.Delivered, Lost: res.Lost, Duplicated: res.Duplicated, Errors: res.Errors,
				Away: res.Away, Back: res.Back, Resumed: res.Resumed}
			if got != want {
				t.Fatalf("counts: got %+v, want %+v", got, want)
			}
			// Every delivery came after the reconnect: the drain counted
			// all of them.
			if res.AckRate <= 0 || res.DrainRate <= 0 || res.DrainSecs <= 0 ||
				int64(res.DrainRate*res.DrainSecs+0.5) != res.Delivered {
				t.Fatalf("rates: ack %.0f/s, drain %.0f/s over %.3fs for %d deliveries", res.AckRate, res.DrainRate, res.DrainSecs, res.Delivered)
			}
		})
	}
}

// TestInteropMosquittoTopicCycle checks that TopicCycle bounds the topics
// a publisher updates: retained publishes over 2 publishers with a cycle
// of 10 leave exactly 20 retained messages.
func TestInteropMosquittoTopicCycle(t *testing.T) {
	addr := startMosquitto(t)
	cfg := DefaultConfig()
	cfg.Addr, cfg.Mode, cfg.QoS, cfg.Retain = addr, ModePub, 1, true
	cfg.Publishers, cfg.Count, cfg.TopicCycle = 2, 100, 10
	cfg.PubTopic = "cycle/%i/%n"
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 200 || res.AckRate <= 0 {
		t.Fatalf("acked %d at %.0f/s, want 200", res.Acked, res.AckRate)
	}
	sub := DefaultConfig()
	sub.Addr, sub.Mode, sub.Subscribers, sub.SubTopic = addr, ModeSub, 1, "cycle/#"
	sub.ExpectRetained = 21 // one more than stored: the run waits out its duration
	sub.Duration, sub.Drain = time.Second, 500*time.Millisecond
	got, err := Run(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	if got.Delivered != 20 || got.RetainedDone != 0 {
		t.Fatalf("retained delivered %d (done %d), want 20 topics", got.Delivered, got.RetainedDone)
	}
}

// TestInteropRoleAddrs checks that PubAddrs and SubAddrs send each role
// to its own broker: with Addr on a closed port and both roles on one
// Mosquitto every message arrives, and with the roles on two unbridged
// Mosquittos every client connects and no message arrives.
func TestInteropRoleAddrs(t *testing.T) {
	a, b := startMosquitto(t), startMosquitto(t)
	closed := "127.0.0.1:" + strconv.Itoa(freePort(t))
	run := func(pub, sub string) *Result {
		t.Helper()
		cfg := DefaultConfig()
		cfg.Addr, cfg.PubAddrs, cfg.SubAddrs = closed, []string{pub}, []string{sub}
		cfg.QoS, cfg.Publishers, cfg.Subscribers, cfg.Count = 1, 2, 2, 100
		cfg.PubTopic, cfg.SubTopic = "roles/%i", "roles/#"
		cfg.Duration, cfg.Drain, cfg.ConnectTimeout = 10*time.Second, time.Second, 5*time.Second
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run(a, a); res.Connected != 4 || res.Acked != 200 || res.Delivered != 400 {
		t.Fatalf("one broker for both roles: connected %d, acked %d, delivered %d; want 4, 200, 400", res.Connected, res.Acked, res.Delivered)
	}
	if res := run(a, b); res.Connected != 4 || res.Acked != 200 || res.Delivered != 0 || res.Lost != 400 {
		t.Fatalf("roles on two brokers: connected %d, acked %d, delivered %d, lost %d; want 4, 200, 0, 400", res.Connected, res.Acked, res.Delivered, res.Lost)
	}
}
