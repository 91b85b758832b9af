package engine

import (
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestV5RawTooLargeCountsAsDelivered: a QoS 1 message too large for the
// client's Maximum Packet Size is dropped as if delivered [MQTT-3.1.2-25]:
// it does not hold the client's only Receive Maximum slot, so the next
// message arrives.
func TestV5RawTooLargeCountsAsDelivered(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialV5(t, b, "v5-tl-sub", func(cp *codec.Connect) {
		cp.Props.ReceiveMaximum = 1
		cp.Props.MaximumPacketSize = 64
		cp.Props.Set(codec.PropReceiveMaximum)
		cp.Props.Set(codec.PropMaximumPacketSize)
	})
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("tl/#"), QoS: 1}}}))
	sub.mustRead(codec.TypeSuback)
	pub := dialV5(t, b, "v5-tl-pub", nil)
	for i, size := range []int{200, 200, 5} {
		pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("tl/x"), QoS: 1, PacketID: uint16(i + 1), Payload: make([]byte, size)}))
		pub.readAck(codec.TypePuback)
	}
	var p codec.Publish
	_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &p)
	noErr(t, err)
	equal(t, len(p.Payload), 5, "the message after two too-large ones")
}

// TestV5RawQoSIdentifierReuse: after the broker's PUBACK, a QoS 1 PUBLISH
// reusing the packet identifier is a new message even with DUP 1
// [MQTT-4.3.2-5]; after a PUBREC 0x99, a QoS 2 PUBLISH reusing the
// identifier is a new message [MQTT-4.3.3-9]. A QoS 2 PUBLISH to a
// subscriber stays unacknowledged until its PUBREC and is sent again on
// resume [MQTT-4.3.3-3].
func TestV5RawQoSIdentifierReuse(t *testing.T) {
	b := startBroker(t, nil)
	persistent := func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 60
		cp.Props.Set(codec.PropSessionExpiry)
	}
	sub := dialV5(t, b, "v5-reuse-sub", persistent)
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("reuse/#"), QoS: 2}}}))
	sub.mustRead(codec.TypeSuback)
	next := func(r *rawConn) *codec.Publish {
		t.Helper()
		var p codec.Publish
		_, err := codec.DecodePublish(r.mustRead(codec.TypePublish), codec.V5, &p)
		noErr(t, err)
		return &p
	}
	pub := dialV5(t, b, "v5-reuse-pub", nil)
	for i, payload := range []string{"one", "two"} {
		pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("reuse/1"), QoS: 1, PacketID: 5, Dup: i == 1, Payload: []byte(payload)}))
		pub.readAck(codec.TypePuback)
		p := next(sub)
		equal(t, string(p.Payload), payload, "QoS 1 identifier reused after PUBACK")
		sub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
	}

	bad := codec.Publish{Topic: []byte("reuse/2"), QoS: 2, PacketID: 6, Payload: []byte{0xff}}
	bad.Props.PayloadFormat = 1
	bad.Props.Set(codec.PropPayloadFormat)
	pub.write(codec.AppendPublish(nil, codec.V5, &bad))
	equal(t, pub.readAck(codec.TypePubrec).ReasonCode, codec.ReasonPayloadFormatInvalid)
	pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("reuse/2"), QoS: 2, PacketID: 6, Payload: []byte("good")}))
	equal(t, pub.readAck(codec.TypePubrec).ReasonCode, codec.ReasonSuccess, "same id after a failed PUBREC")
	pub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrel, PacketID: 6}))
	equal(t, pub.readAck(codec.TypePubcomp).ReasonCode, codec.ReasonSuccess)
	p := next(sub)
	equal(t, string(p.Payload), "good", "QoS 2 identifier reused after PUBREC 0x99")
	equal(t, p.QoS, byte(2))

	// No PUBREC: sent again on resume.
	_ = sub.nc.Close()
	time.Sleep(100 * time.Millisecond)
	back := dialRaw(t, b)
	cp := codec.Connect{Version: codec.V5, ClientID: []byte("v5-reuse-sub")}
	persistent(&cp)
	check(t, back.connect(&cp).SessionPresent, "session present")
	again := next(back)
	equal(t, string(again.Payload), "good")
	equal(t, again.PacketID, p.PacketID)
	check(t, again.Dup, "DUP 1 on the resent QoS 2 PUBLISH")
}

// TestV5RawPacketIDNotFound: a PUBREL for a packet identifier the broker
// does not hold gets PUBCOMP 0x92, and a PUBREC for one it never sent gets
// PUBREL 0x92 [MQTT-3.6.2-1] [MQTT-3.7.2-1]; a stray PUBACK is ignored and
// the connection keeps working.
func TestV5RawPacketIDNotFound(t *testing.T) {
	b := startBroker(t, nil)
	r := dialV5(t, b, "v5-pidnf", nil)
	r.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrel, PacketID: 77}))
	a := r.readAck(codec.TypePubcomp)
	equal(t, a.PacketID, uint16(77))
	equal(t, a.ReasonCode, codec.ReasonPacketIDNotFound, "PUBCOMP for an unknown PUBREL")
	r.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrec, PacketID: 78}))
	a = r.readAck(codec.TypePubrel)
	equal(t, a.PacketID, uint16(78))
	equal(t, a.ReasonCode, codec.ReasonPacketIDNotFound, "PUBREL for an unknown PUBREC")
	r.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: 79}))
	r.write(codec.AppendPingreq(nil))
	r.mustRead(codec.TypePingresp)
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
