package engine

import (
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// pahoClient connects a paho.mqtt.golang 3.1.1 client to b.
func pahoClient(t testing.TB, b *Broker, id string, mod func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + b.Addr().String()).SetClientID(id)
	o.SetProtocolVersion(4)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetCleanSession(true)
	o.SetConnectTimeout(5 * time.Second)
	o.SetWriteTimeout(5 * time.Second)
	if mod != nil {
		mod(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	check(t, tok.WaitTimeout(5*time.Second), "connect timeout")
	noErr(t, tok.Error())
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(50)
		}
	})
	return c
}

// collector gathers received messages.
type collector struct {
	mu   sync.Mutex
	msgs []mqtt.Message
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1<<16)} }

func (c *collector) handler(_ mqtt.Client, m mqtt.Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	c.ch <- struct{}{}
}

// wait blocks until n messages arrived or the timeout passes.
func (c *collector) wait(t testing.TB, n int, d time.Duration) []mqtt.Message {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		if len(c.msgs) >= n {
			out := append([]mqtt.Message(nil), c.msgs...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("got %d messages, want %d", len(c.msgs), n)
			return nil
		}
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func subscribe(t testing.TB, c mqtt.Client, filter string, qos byte, col *collector) {
	t.Helper()
	tok := c.Subscribe(filter, qos, col.handler)
	check(t, tok.WaitTimeout(5*time.Second))
	noErr(t, tok.Error())
}

func publish(t testing.TB, c mqtt.Client, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	tok := c.Publish(topic, qos, retain, payload)
	check(t, tok.WaitTimeout(5*time.Second))
	noErr(t, tok.Error())
}

// TestInteropPahoBasic covers CONNECT/CONNACK, SUBSCRIBE, PUBLISH QoS 0
// fan-out to subscribers on both loops, PING and DISCONNECT
// [MQTT-3.1.4-4] [MQTT-3.8.4-1] [MQTT-3.3.2-3].
func TestInteropPahoBasic(t *testing.T) {
	b := startBroker(t, nil)
	cols := make([]*collector, 4)
	for i := range cols {
		cols[i] = newCollector()
		sub := pahoClient(t, b, fmt.Sprintf("sub%d", i), func(o *mqtt.ClientOptions) { o.SetKeepAlive(time.Second) })
		subscribe(t, sub, "a/+/c", 0, cols[i])
	}
	pub := pahoClient(t, b, "pub", nil)
	for i := 0; i < 10; i++ {
		publish(t, pub, "a/b/c", 0, false, fmt.Sprint(i))
	}
	for _, col := range cols {
		msgs := col.wait(t, 10, 5*time.Second)
		for i, m := range msgs {
			equal(t, "a/b/c", m.Topic())
			equal(t, fmt.Sprint(i), string(m.Payload())) // [MQTT-4.6.0-6] order kept
			check(t, !m.Retained())                      // [MQTT-3.3.1-9]
		}
	}
	time.Sleep(1500 * time.Millisecond) // a few PINGREQs with keep alive 1s
	publish(t, pub, "a/x/c", 0, false, "after-ping")
	for _, col := range cols {
		col.wait(t, 11, 5*time.Second)
	}
}

// TestInteropPahoMQTT31 connects paho with protocol 3.1 ("MQIsdp") and
// exchanges QoS 1 messages with a 3.1.1 client.
func TestInteropPahoMQTT31(t *testing.T) {
	b := startBroker(t, nil)
	col := newCollector()
	old := pahoClient(t, b, "v31", func(o *mqtt.ClientOptions) { o.SetProtocolVersion(3) })
	subscribe(t, old, "v31/#", 1, col)
	pub := pahoClient(t, b, "v311", nil)
	publish(t, pub, "v31/a", 1, false, "from 3.1.1")
	m := col.wait(t, 1, 5*time.Second)[0]
	equal(t, string(m.Payload()), "from 3.1.1")
	col2 := newCollector()
	subscribe(t, pub, "back", 1, col2)
	publish(t, old, "back", 1, false, "from 3.1")
	equal(t, string(col2.wait(t, 1, 5*time.Second)[0].Payload()), "from 3.1")
}
