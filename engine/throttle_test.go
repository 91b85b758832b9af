package engine

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/codec"
)

// TestInteropThrottleNoLoss pipelines QoS 1 publishes far past the
// subscriber's queue bound: the publisher is throttled instead of the broker
// dropping messages it acknowledged.
func TestInteropThrottleNoLoss(t *testing.T) {
	const n = 5000
	b := startBroker(t, func(c *Config) { c.MaxQueuedMessages = 100 })
	col := newCollector()
	sub := pahoClient(t, b, "tsub", nil)
	subscribe(t, sub, "th", 1, col)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("tpub"), CleanStart: true})
	go func() { // drain PUBACKs so the publisher's socket never blocks
		for {
			if _, err := pub.read(30 * time.Second); err != nil {
				return
			}
		}
	}()
	var all []byte
	for i := 0; i < n; i++ {
		all = codec.AppendPublish(all, codec.V311, &codec.Publish{Topic: []byte("th"), QoS: 1,
			PacketID: uint16(i%60000 + 1), Payload: []byte(fmt.Sprint(i))})
	}
	pub.write(all)
	msgs := col.wait(t, n, 20*time.Second)
	for i, m := range msgs[:n] {
		equal(t, string(m.Payload()), fmt.Sprint(i), "order")
	}
	equal(t, b.Stats().PublishDropped, uint64(0), "dropped")
}

// TestStuckSubscriberBoundedStall floods QoS 1 to a subscriber that never
// acknowledges and to a healthy one: the stuck one's drops are counted, and
// the publisher and the healthy subscriber are held up at most about
// throttleMax.
func TestStuckSubscriberBoundedStall(t *testing.T) {
	const n = 2000
	b := startBroker(t, func(c *Config) { c.MaxQueuedMessages = 50 })
	stuck := dialRaw(t, b)
	stuck.connect(&codec.Connect{ClientID: []byte("stuck1"), CleanStart: true})
	stuck.subscribe(1, "st", 1)
	col := newCollector()
	healthy := pahoClient(t, b, "healthy", func(o *mqtt.ClientOptions) { o.SetOrderMatters(false) })
	subscribe(t, healthy, "st", 1, col)
	pub := pahoClient(t, b, "stpub", func(o *mqtt.ClientOptions) { o.SetMaxResumePubInFlight(64) })
	start := time.Now()
	toks := make([]mqtt.Token, 0, n)
	for i := 0; i < n; i++ {
		toks = append(toks, pub.Publish("st", 1, false, fmt.Sprint(i)))
	}
	for _, tok := range toks {
		check(t, tok.WaitTimeout(10*time.Second), "publish stalled")
		noErr(t, tok.Error())
	}
	col.wait(t, n, 10*time.Second)
	el := time.Since(start)
	t.Logf("%d messages through in %v, %d dropped for the stuck subscriber", n, el, b.Stats().PublishDropped)
	check(t, el < 3*throttleMax+2*time.Second, "stalled too long", el)
	check(t, b.Stats().PublishDropped > 0, "the stuck subscriber's excess is dropped and counted")
}
