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
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Payload) != 5 {
		t.Fatalf("the message after two too-large ones: got %v, want %v", len(p.Payload), 5)
	}
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
		if err != nil {
			t.Fatal(err)
		}
		return &p
	}
	pub := dialV5(t, b, "v5-reuse-pub", nil)
	for i, payload := range []string{"one", "two"} {
		pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("reuse/1"), QoS: 1, PacketID: 5, Dup: i == 1, Payload: []byte(payload)}))
		pub.readAck(codec.TypePuback)
		p := next(sub)
		if string(p.Payload) != payload {
			t.Fatalf("QoS 1 identifier reused after PUBACK: got %v, want %v", string(p.Payload), payload)
		}
		sub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
	}

	bad := codec.Publish{Topic: []byte("reuse/2"), QoS: 2, PacketID: 6, Payload: []byte{0xff}}
	bad.Props.PayloadFormat = 1
	bad.Props.Set(codec.PropPayloadFormat)
	pub.write(codec.AppendPublish(nil, codec.V5, &bad))
	if got := pub.readAck(codec.TypePubrec).ReasonCode; got != codec.ReasonPayloadFormatInvalid {
		t.Fatalf("got %v, want %v", got, codec.ReasonPayloadFormatInvalid)
	}
	pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("reuse/2"), QoS: 2, PacketID: 6, Payload: []byte("good")}))
	if got := pub.readAck(codec.TypePubrec).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("same id after a failed PUBREC: got %v, want %v", got, codec.ReasonSuccess)
	}
	pub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrel, PacketID: 6}))
	if got := pub.readAck(codec.TypePubcomp).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
	p := next(sub)
	if string(p.Payload) != "good" {
		t.Fatalf("QoS 2 identifier reused after PUBREC 0x99: got %v, want %v", string(p.Payload), "good")
	}
	if p.QoS != byte(2) {
		t.Fatalf("got %v, want %v", p.QoS, byte(2))
	}

	// No PUBREC: sent again on resume.
	_ = sub.nc.Close()
	time.Sleep(100 * time.Millisecond)
	back := dialRaw(t, b)
	cp := codec.Connect{Version: codec.V5, ClientID: []byte("v5-reuse-sub")}
	persistent(&cp)
	if !back.connect(&cp).SessionPresent {
		t.Fatal("session present")
	}
	again := next(back)
	if string(again.Payload) != "good" {
		t.Fatalf("got %v, want %v", string(again.Payload), "good")
	}
	if again.PacketID != p.PacketID {
		t.Fatalf("got %v, want %v", again.PacketID, p.PacketID)
	}
	if !again.Dup {
		t.Fatal("DUP 1 on the resent QoS 2 PUBLISH")
	}
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
	if a.PacketID != uint16(77) {
		t.Fatalf("got %v, want %v", a.PacketID, uint16(77))
	}
	if a.ReasonCode != codec.ReasonPacketIDNotFound {
		t.Fatalf("PUBCOMP for an unknown PUBREL: got %v, want %v", a.ReasonCode, codec.ReasonPacketIDNotFound)
	}
	r.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrec, PacketID: 78}))
	a = r.readAck(codec.TypePubrel)
	if a.PacketID != uint16(78) {
		t.Fatalf("got %v, want %v", a.PacketID, uint16(78))
	}
	if a.ReasonCode != codec.ReasonPacketIDNotFound {
		t.Fatalf("PUBREL for an unknown PUBREC: got %v, want %v", a.ReasonCode, codec.ReasonPacketIDNotFound)
	}
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
	if got := r.connect(&codec.Connect{ClientID: []byte("v3-mq"), CleanStart: true}).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
	if got := r.subscribe(1, "mq3/#", 2).ReasonCodes[0]; got != codec.ReasonCode(1) {
		t.Fatalf("granted QoS: got %v, want %v", got, codec.ReasonCode(1))
	}
	bad := dialRaw(t, b)
	bad.connect(&codec.Connect{ClientID: []byte("v3-mq-bad"), CleanStart: true})
	bad.publish(&codec.Publish{Topic: []byte("mq3/x"), QoS: 2, PacketID: 1, Payload: []byte("x")})
	bad.expectClosed(3 * time.Second)
	r.publish(&codec.Publish{Topic: []byte("mq3/y"), QoS: 1, PacketID: 2, Payload: []byte("y")})
	r.mustRead(codec.TypePuback)
	p := decodePublish(t, r.mustRead(codec.TypePublish))
	if string(p.Topic) != "mq3/y" {
		t.Fatalf("the QoS 2 PUBLISH was delivered: got %v, want %v", string(p.Topic), "mq3/y")
	}
	if p.QoS != byte(1) {
		t.Fatalf("got %v, want %v", p.QoS, byte(1))
	}
}

// TestV5Basics checks that the data path carries MQTT 5 wire forms: a v5
// and a v3.1.1 client exchange
// messages both ways, and the v5 SUBACK failure code is a v5 reason code.
func TestV5Basics(t *testing.T) {
	b := startBroker(t, nil)
	v5 := dialRaw(t, b)
	ack := v5.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("five"), CleanStart: true})
	if ack.ReasonCode != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonSuccess)
	}
	v5.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{
		{Filter: []byte("mix/#"), QoS: 1}, {Filter: []byte("bad/#/x"), QoS: 0}}}))
	var sa codec.Suback
	_, err := codec.DecodeSuback(v5.mustRead(codec.TypeSuback), codec.V5, &sa)
	if err != nil {
		t.Fatal(err)
	}
	if sa.ReasonCodes[0] != codec.ReasonGrantedQoS1 {
		t.Fatalf("got %v, want %v", sa.ReasonCodes[0], codec.ReasonGrantedQoS1)
	}
	if sa.ReasonCodes[1] != codec.ReasonTopicFilterInvalid {
		t.Fatalf("got %v, want %v", sa.ReasonCodes[1], codec.ReasonTopicFilterInvalid)
	}

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
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Payload) != "3to5" {
			t.Fatalf("got %v, want %v", string(p.Payload), "3to5")
		}
	}
	v5.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("mix/b"), QoS: 1, PacketID: 5, Payload: []byte("5to3")}))
	var pa codec.Ack
	_, err = codec.DecodeAck(v5.mustRead(codec.TypePuback), codec.V5, &pa)
	if err != nil {
		t.Fatal(err)
	}
	if pa.PacketID != uint16(5) {
		t.Fatalf("got %v, want %v", pa.PacketID, uint16(5))
	}
	p := decodePublish(t, v3.mustRead(codec.TypePublish))
	if string(p.Payload) != "5to3" {
		t.Fatalf("got %v, want %v", string(p.Payload), "5to3")
	}
}
