package engine

import (
	"testing"

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
