package engine

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/gust-mqtt/gust/codec"
)

// TestInteropPahoV5MaximumQoS: with MaximumQoS 1 the CONNACK says so
// [MQTT-3.2.2-9]; a SUBSCRIBE asking QoS 2 is accepted and granted QoS 1
// [MQTT-3.2.2-10]; QoS 1 flows; a PUBLISH at QoS 2 (which a client must not
// send [MQTT-3.2.2-11]) gets DISCONNECT 0x9B and only that connection
// closes; a will at QoS 2 is refused with CONNACK 0x9B [MQTT-3.2.2-12].
func TestInteropPahoV5MaximumQoS(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaximumQoS = 1 })
	sub := dialPahoV5(t, b, "v5-mq-sub", nil)
	mq := sub.ack.Properties.MaximumQoS
	check(t, mq != nil && *mq == 1, "CONNACK Maximum QoS", mq)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := sub.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "mq/#", QoS: 2}}})
	noErr(t, err)
	equal(t, sa.Reasons[0], byte(1), "granted QoS")
	pub := dialPahoV5(t, b, "v5-mq-pub", nil)
	pub.publish(t, &paho.Publish{Topic: "mq/a", QoS: 1, Payload: []byte("one")})
	p := sub.next(t, 5*time.Second)
	equal(t, p.QoS, byte(1))
	equal(t, string(p.Payload), "one")

	// paho itself refuses QoS 2 here, so raw bytes.
	r := dialRaw(t, b)
	ack := r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-mq-raw"), CleanStart: true})
	equal(t, ack.Props.MaximumQoS, byte(1))
	r.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("mq/b"), QoS: 2, PacketID: 1, Payload: []byte("two")}))
	var d codec.Disconnect
	_, err = codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonQoSNotSupported)
	r.expectClosed(3 * time.Second)

	w := dialRaw(t, b)
	ack = w.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-mq-will"), CleanStart: true,
		WillFlag: true, WillQoS: 2, WillTopic: []byte("mq/will"), WillPayload: []byte("w")})
	equal(t, ack.ReasonCode, codec.ReasonQoSNotSupported)
	w.expectClosed(3 * time.Second)

	// The others keep working.
	pub.publish(t, &paho.Publish{Topic: "mq/c", QoS: 0, Payload: []byte("after")})
	p = sub.next(t, 5*time.Second)
	equal(t, string(p.Payload), "after", "QoS 2 PUBLISH delivered")
}

// TestMaximumQoSV311: a 3.1.1 client on a broker with MaximumQoS 1 is
// granted at most QoS 1 [MQTT-3.2.2-10 applied to 3.1.1], and its QoS 2
// PUBLISH closes only its connection (3.1.1 has no code for it).
func TestMaximumQoSV311(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaximumQoS = 1 })
	r := dialRaw(t, b)
	equal(t, r.connect(&codec.Connect{ClientID: []byte("v3-mq"), CleanStart: true}).ReasonCode, codec.ReasonSuccess)
	equal(t, r.subscribe(1, "mq3/#", 2).ReasonCodes[0], codec.ReasonCode(1), "granted QoS")
	bad := dialRaw(t, b)
	bad.connect(&codec.Connect{ClientID: []byte("v3-mq-bad"), CleanStart: true})
	bad.publish(&codec.Publish{Topic: []byte("mq3/x"), QoS: 2, PacketID: 1, Payload: []byte("x")})
	bad.expectClosed(3 * time.Second)
	r.publish(&codec.Publish{Topic: []byte("mq3/y"), QoS: 1, PacketID: 2, Payload: []byte("y")})
	r.mustRead(codec.TypePuback)
	p := decodePublish(t, r.mustRead(codec.TypePublish))
	equal(t, string(p.Topic), "mq3/y", "the QoS 2 PUBLISH was delivered")
	equal(t, p.QoS, byte(1))
}
