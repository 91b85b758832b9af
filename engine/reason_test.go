package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// TestV5RawReasonStringFitsMaximumPacketSize: a client with Maximum Packet
// Size 16 gets its failed SUBACK, PUBACK, PUBREC and DISCONNECT without the
// Reason String that would not fit [MQTT-3.9.2-1] [MQTT-3.4.2-2]
// [MQTT-3.5.2-2] [MQTT-3.14.2-3],
// and no packet over 16 bytes [MQTT-3.1.2-24]; so does a refused CONNACK.
func TestV5RawReasonStringFitsMaximumPacketSize(t *testing.T) {
	b := startBroker(t, nil)
	r := dialV5(t, b, "v5-rs-mps", func(cp *codec.Connect) {
		cp.Props.MaximumPacketSize = 16
		cp.Props.Set(codec.PropMaximumPacketSize)
	})
	r.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("a/#/b"), QoS: 0}}}))
	pkt := r.mustRead(codec.TypeSuback)
	if len(pkt) > 16 {
		t.Fatal("SUBACK over the client's maximum:", len(pkt))
	}
	var sa codec.Suback
	_, err := codec.DecodeSuback(pkt, codec.V5, &sa)
	if err != nil {
		t.Fatal(err)
	}
	if sa.ReasonCodes[0] != codec.ReasonTopicFilterInvalid {
		t.Fatalf("got %v, want %v", sa.ReasonCodes[0], codec.ReasonTopicFilterInvalid)
	}

	p := codec.Publish{Topic: []byte("x"), QoS: 1, PacketID: 2, Payload: []byte{0xff}}
	p.Props.PayloadFormat = 1
	p.Props.Set(codec.PropPayloadFormat)
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	pkt = r.mustRead(codec.TypePuback)
	if len(pkt) > 16 {
		t.Fatal("PUBACK over the client's maximum:", len(pkt))
	}
	var a codec.Ack
	_, err = codec.DecodeAck(pkt, codec.V5, &a)
	if err != nil {
		t.Fatal(err)
	}
	if a.ReasonCode != codec.ReasonPayloadFormatInvalid {
		t.Fatalf("got %v, want %v", a.ReasonCode, codec.ReasonPayloadFormatInvalid)
	}

	p.QoS, p.PacketID = 2, 3
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	pkt = r.mustRead(codec.TypePubrec)
	if len(pkt) > 16 {
		t.Fatal("PUBREC over the client's maximum:", len(pkt))
	}
	_, err = codec.DecodeAck(pkt, codec.V5, &a)
	if err != nil {
		t.Fatal(err)
	}
	if a.ReasonCode != codec.ReasonPayloadFormatInvalid {
		t.Fatalf("got %v, want %v", a.ReasonCode, codec.ReasonPayloadFormatInvalid)
	}

	p.QoS, p.PacketID = 0, 0
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	pkt = r.mustRead(codec.TypeDisconnect)
	if len(pkt) > 16 {
		t.Fatal("DISCONNECT over the client's maximum:", len(pkt))
	}

	// A refused CONNACK too [MQTT-3.2.2-19].
	b2 := startBroker(t, func(c *Config) { c.RetainAvailable = false })
	r = dialRaw(t, b2)
	cp := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, ClientID: []byte("v5-rs-connack"), CleanStart: true,
		WillFlag: true, WillRetain: true, WillTopic: []byte("w"), WillPayload: []byte("w")}
	cp.Props.MaximumPacketSize = 16
	cp.Props.Set(codec.PropMaximumPacketSize)
	r.write(codec.AppendConnect(nil, &cp))
	pkt = r.mustRead(codec.TypeConnack)
	if len(pkt) > 16 {
		t.Fatal("CONNACK over the client's maximum:", len(pkt))
	}
	var ack codec.Connack
	_, err = codec.DecodeConnack(pkt, codec.V5, &ack)
	if err != nil {
		t.Fatal(err)
	}
	if ack.ReasonCode != codec.ReasonRetainNotSupported {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonRetainNotSupported)
	}
}
