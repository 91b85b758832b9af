package ops

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/engine"
)

// TestMetricsCountExactly sends known traffic through a broker and checks
// the scraped counters against it: PUBLISH in and out by QoS, packets by
// type, drops, connections, subscriptions and retained messages.
func TestMetricsCountExactly(t *testing.T) {
	b := newBroker(t, nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	_, base := startOps(t, b, nil)

	var got0, got2 atomic.Int64
	sub0 := pahoV3(t, b, "sub0", nil)
	sub2 := pahoV3(t, b, "sub2", nil)
	if tok := sub0.Subscribe("t/#", 0, func(mqtt.Client, mqtt.Message) { got0.Add(1) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	if tok := sub2.Subscribe("t/#", 2, func(mqtt.Client, mqtt.Message) { got2.Add(1) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	// A v5 subscriber whose Maximum Packet Size no message fits: each
	// message to it is dropped and counted [MQTT-3.1.2-24].
	small := uint32(20)
	tiny := pahoV5(t, b, "tiny", func(c *paho.Connect) { c.Properties = &paho.ConnectProperties{MaximumPacketSize: &small} })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := tiny.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "t/#", QoS: 0}}}); err != nil {
		t.Fatal(err)
	}

	before := scrape(t, base)
	pub := pahoV3(t, b, "pub", nil)
	const n0, n1, n2 = 100, 50, 20
	payload := strings.Repeat("x", 40)
	for qos, n := range [3]int{n0, n1, n2} {
		for i := 0; i < n; i++ {
			tok := pub.Publish("t/a", byte(qos), false, payload)
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
		}
	}
	if tok := pub.Publish("keep/1", 1, true, "retained"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	const total = n0 + n1 + n2
	waitFor(t, "deliveries", func() bool { return got0.Load() == total && got2.Load() == total })

	after := scrape(t, base)
	delta := func(name string, labels ...string) float64 {
		return value(after, name, labels...) - max(value(before, name, labels...), 0)
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "gust_publish_received_total", labels: []string{"qos", "0"}, want: n0},
		{name: "gust_publish_received_total", labels: []string{"qos", "1"}, want: n1 + 1},
		{name: "gust_publish_received_total", labels: []string{"qos", "2"}, want: n2},
		// sub0 gets everything at QoS 0, sub2 at the publisher's QoS.
		{name: "gust_publish_sent_total", labels: []string{"qos", "0"}, want: total + n0},
		{name: "gust_publish_sent_total", labels: []string{"qos", "1"}, want: n1},
		{name: "gust_publish_sent_total", labels: []string{"qos", "2"}, want: n2},
		{name: "gust_publish_sent_all_total", want: 2 * total},
		{name: "gust_publish_dropped_total", labels: []string{"reason", "other"}, want: total},
		{name: "gust_packets_received_total", labels: []string{"type", "publish"}, want: total + 1},
		{name: "gust_packets_received_total", labels: []string{"type", "connect"}, want: 1},
		// sub2 acknowledges n1 PUBLISH with PUBACK, n2 with PUBREC and PUBCOMP.
		{name: "gust_packets_received_total", labels: []string{"type", "puback"}, want: n1},
		{name: "gust_packets_received_total", labels: []string{"type", "pubrec"}, want: n2},
		{name: "gust_packets_received_total", labels: []string{"type", "pubcomp"}, want: n2},
		{name: "gust_packets_received_total", labels: []string{"type", "pubrel"}, want: n2},
		{name: "gust_packet_bytes_received_total", labels: []string{"type", "publish"}, want: delta("gust_publish_received_bytes_total", "qos", "0") + delta("gust_publish_received_bytes_total", "qos", "1") + delta("gust_publish_received_bytes_total", "qos", "2")},
		{name: "gust_connections_total", want: 1},
	}
	for _, c := range checks {
		if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	gauges := []struct {
		name   string
		labels []string
		want   float64
	}{
		{name: "gust_connections", want: 4},
		{name: "gust_sessions", labels: []string{"state", "online"}, want: 4},
		{name: "gust_subscriptions", want: 3},
		{name: "gust_retained_messages", want: 1},
		{name: "gust_loop_connections", labels: []string{"loop", "0"}, want: 2},
		{name: "gust_loop_connections", labels: []string{"loop", "1"}, want: 2},
	}
	for _, g := range gauges {
		if got := value(after, g.name, g.labels...); got != g.want {
			t.Errorf("%s%v = %v, want %v", g.name, g.labels, got, g.want)
		}
	}
	if v := value(after, "gust_loop_busy_seconds_total", "loop", "0") + value(after, "gust_loop_busy_seconds_total", "loop", "1"); v <= 0 {
		t.Errorf("loop busy time %v after traffic", v)
	}
	if value(after, "go_goroutines") <= 0 || value(after, "process_resident_memory_bytes") <= 0 {
		t.Error("Go runtime or process metrics missing")
	}
	for _, name := range []string{"gust_store_commits_total", "gust_auth_failures_total", "gust_throttled_publishers",
		"gust_slow_consumers_disconnected_total", "gust_queued_messages", "gust_inflight_messages", "gust_loop_handovers_total"} {
		if after[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
}

// TestMetricsAuthFailures counts CONNECTs refused for their password as
// auth failures and as refusals by reason.
func TestMetricsAuthFailures(t *testing.T) {
	b := newBroker(t, func(c *engine.Config) {
		c.Authenticator = denyAll{}
		c.AllowAnonymous = false
	})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	_, base := startOps(t, b, nil)
	for i := 0; i < 3; i++ {
		o := mqtt.NewClientOptions().AddBroker("tcp://" + b.Addr().String()).SetClientID("bad").
			SetUsername("u").SetPassword("p").SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
		c := mqtt.NewClient(o)
		if tok := c.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
			t.Fatal("connected with a refused password")
		}
	}
	mf := scrape(t, base)
	if got := value(mf, "gust_auth_failures_total"); got != 3 {
		t.Errorf("gust_auth_failures_total = %v, want 3", got)
	}
	if got := value(mf, "gust_connections_refused_total", "reason", "bad_user_name_or_password"); got != 3 {
		t.Errorf("refused by bad password = %v, want 3 (%v)", got, mf["gust_connections_refused_total"])
	}
}

// denyAll refuses every password.
type denyAll struct{}

func (denyAll) Authenticate(*engine.ConnectInfo) error { return engine.ErrBadCredentials }

// TestMetricsListenerMaxConnections: a listener with max_connections 1
// serves one paho client and closes the next at accept; /metrics reports
// the listener's open connections, its bound and its refusal.
func TestMetricsListenerMaxConnections(t *testing.T) {
	b := newBroker(t, func(c *engine.Config) {
		c.Listeners = []engine.Listener{{Transport: engine.TransportTCP, Addr: "127.0.0.1:0", MaxConnections: 1}}
	})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	_, base := startOps(t, b, nil)
	pahoV3(t, b, "first", nil)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + b.Addr().String()).SetClientID("second").
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
	second := mqtt.NewClient(o)
	if tok := second.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
		second.Disconnect(0)
		t.Fatal("a second client was served by a listener with max_connections 1")
	}
	mf := scrape(t, base)
	lb := []string{"transport", "tcp", "addr", b.Addr().String()}
	for _, m := range []struct {
		name string
		want float64
	}{
		{name: "gust_listener_connections", want: 1},
		{name: "gust_listener_max_connections", want: 1},
		{name: "gust_listener_connections_refused_total", want: 1},
	} {
		if got := value(mf, m.name, lb...); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, lb, got, m.want)
		}
	}
	if got := value(mf, "gust_connections_refused_total", "reason", "accept"); got != 1 {
		t.Errorf("gust_connections_refused_total{reason=accept} = %v, want 1", got)
	}
}
