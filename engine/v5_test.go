package engine

import (
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestV5Basics checks that the data path already carries MQTT 5 wire forms
// (issue 5 builds the features on top): a v5 and a v3.1.1 client exchange
// messages both ways, and the v5 SUBACK failure code is a v5 reason code.
func TestV5Basics(t *testing.T) {
	b := startBroker(t, nil)
	v5 := dialRaw(t, b)
	ack := v5.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("five"), CleanStart: true})
	equal(t, ack.ReasonCode, codec.ReasonSuccess)
	v5.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{
		{Filter: []byte("mix/#"), QoS: 1}, {Filter: []byte("bad/#/x"), QoS: 0}}}))
	var sa codec.Suback
	_, err := codec.DecodeSuback(v5.mustRead(codec.TypeSuback), codec.V5, &sa)
	noErr(t, err)
	equal(t, sa.ReasonCodes[0], codec.ReasonGrantedQoS1)
	equal(t, sa.ReasonCodes[1], codec.ReasonTopicFilterInvalid)

	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("three"), CleanStart: true})
	v3.subscribe(1, "mix/#", 1)
	v3.publish(&codec.Publish{Topic: []byte("mix/a"), Payload: []byte("3to5")})
	for _, r := range []*rawConn{v5, v3} { // both subscribers get it, each in its own wire form
		pkt := r.mustRead(codec.TypePublish)
		var p codec.Publish
		v := codec.V311
		if r == v5 {
			v = codec.V5
		}
		_, err := codec.DecodePublish(pkt, v, &p)
		noErr(t, err)
		equal(t, string(p.Payload), "3to5")
	}
	v5.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("mix/b"), QoS: 1, PacketID: 5, Payload: []byte("5to3")}))
	var pa codec.Ack
	_, err = codec.DecodeAck(v5.mustRead(codec.TypePuback), codec.V5, &pa)
	noErr(t, err)
	equal(t, pa.PacketID, uint16(5))
	p := decodePublish(t, v3.mustRead(codec.TypePublish))
	equal(t, string(p.Payload), "5to3")
}

// TestV5ReceiveMaximum never has more unacknowledged QoS 1 messages to a
// v5 client than its Receive Maximum [MQTT-3.3.4-9].
func TestV5ReceiveMaximum(t *testing.T) {
	b := startBroker(t, nil)
	c := &codec.Connect{Version: codec.V5, ClientID: []byte("rm"), CleanStart: true}
	c.Props.ReceiveMaximum = 2
	c.Props.Set(codec.PropReceiveMaximum)
	v5 := dialRaw(t, b)
	v5.connect(c)
	v5.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("rm"), QoS: 1}}}))
	v5.mustRead(codec.TypeSuback)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("rmpub"), CleanStart: true})
	for i := 0; i < 4; i++ {
		pub.publish(&codec.Publish{Topic: []byte("rm"), QoS: 1, PacketID: uint16(i + 1), Payload: []byte{byte('0' + i)}})
		pub.mustRead(codec.TypePuback)
	}
	var first codec.Publish
	for i := 0; i < 2; i++ {
		var p codec.Publish
		_, err := codec.DecodePublish(v5.mustRead(codec.TypePublish), codec.V5, &p)
		noErr(t, err)
		if i == 0 {
			first = p
		}
	}
	if pkt, err := v5.read(300 * time.Millisecond); err == nil {
		t.Fatalf("over receive maximum: %x", pkt)
	}
	v5.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: first.PacketID}))
	v5.mustRead(codec.TypePublish)
}
