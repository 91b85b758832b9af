package bench

import (
	"context"
	"testing"
	"time"
)

// TestPahoCounts runs the paho generator against an in-process Gust: a
// fan-in and a p2p at QoS 1, every message counted sent, expected and
// delivered once, with latencies recorded.
func TestPahoCounts(t *testing.T) {
	addr := startGust(t)
	for _, name := range []string{"fanin", "p2p"} {
		s := Scenarios(Quick)[name]
		if err := pahoExpressible(s); err != nil {
			t.Fatal(err)
		}
		cfg := s.Load
		cfg.Addr, cfg.ClientPrefix, cfg.QoS = addr, "paho"+name, 1
		cfg.Publishers, cfg.Subscribers, cfg.Count, cfg.Duration, cfg.Drain = 3, 3, 100, 20*time.Second, 10*time.Second
		if name == "fanin" {
			cfg.Subscribers = 1
		}
		res, err := runPaho(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 300 || res.Expected != 300 || res.Delivered != 300 || res.Lost != 0 || res.Errors != 0 {
			t.Fatalf("%s: sent %d expected %d delivered %d lost %d errors %d, want 300/300/300/0/0",
				name, res.Sent, res.Expected, res.Delivered, res.Lost, res.Errors)
		}
		if res.Latency.Count != 300 || res.Latency.P50 <= 0 || res.GenCPUSecs <= 0 {
			t.Fatalf("%s: latency %+v, generator CPU %v", name, res.Latency, res.GenCPUSecs)
		}
	}
}

// TestPahoExpressible: connection, retained and durable scenarios stay
// loadgen's.
func TestPahoExpressible(t *testing.T) {
	all := Scenarios(Quick)
	for _, name := range []string{"conn", "retained", "slow"} {
		if pahoExpressible(all[name]) == nil {
			t.Errorf("paho generator accepts %s", name)
		}
	}
	for _, name := range []string{"fanin", "fanout", "p2p", "shared"} {
		if err := pahoExpressible(all[name]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMatching counts deliveries per filter kind.
func TestMatching(t *testing.T) {
	filters := []string{"a/#", "a/+/c", "a/b", "$share/g/a/#", "$share/g/a/#", "x/#"}
	if got := matching("a/b/c", filters); got != 3 { // a/#, a/+/c, one for group g
		t.Fatalf("matching a/b/c = %d, want 3", got)
	}
	if got := matching("a/b", filters); got != 3 { // a/#, a/b, g
		t.Fatalf("matching a/b = %d, want 3", got)
	}
	if got := matching("b", filters); got != 0 {
		t.Fatalf("matching b = %d, want 0", got)
	}
	if _, err := ParseGenerator(GeneratorMQTTBenchmark); err == nil {
		t.Fatal("mqtt-benchmark accepted though it cannot be built here")
	}
}
