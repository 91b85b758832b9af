package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestInflightWindow checks that at most MaxInflight QoS 1 messages are
// unacknowledged at once and that an ack releases the next queued one in
// order [MQTT-4.6.0-6] (v5 flow-control shape [MQTT-3.3.4-9]).
func TestInflightWindow(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxInflight = 5 })
	sub := dialRaw(t, b)
	sub.connect(&codec.Connect{ClientID: []byte("win"), CleanStart: true})
	sub.subscribe(1, "w", 1)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("wpub"), CleanStart: true})
	for i := 0; i < 8; i++ {
		pub.publish(&codec.Publish{Topic: []byte("w"), QoS: 1, PacketID: uint16(i + 1), Payload: []byte(fmt.Sprint(i))})
		pub.mustRead(codec.TypePuback)
	}
	var ids []uint16
	for i := 0; i < 5; i++ {
		p := decodePublish(t, sub.mustRead(codec.TypePublish))
		equal(t, string(p.Payload), fmt.Sprint(i))
		ids = append(ids, p.PacketID)
	}
	if pkt, err := sub.read(300 * time.Millisecond); err == nil {
		t.Fatalf("window exceeded: %x", pkt)
	}
	sub.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: ids[0]}))
	p := decodePublish(t, sub.mustRead(codec.TypePublish))
	equal(t, string(p.Payload), "5")
	for _, id := range ids[1:] {
		sub.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: id}))
	}
	for i := 6; i < 8; i++ {
		p := decodePublish(t, sub.mustRead(codec.TypePublish))
		equal(t, string(p.Payload), fmt.Sprint(i))
	}
}

// TestOfflineQueueBound queues at most MaxQueuedMessages for an offline
// session and counts the rest as dropped [MQTT-3.1.2-5].
func TestOfflineQueueBound(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxQueuedMessages = 10 })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("q"), CleanStart: false})
	r.subscribe(1, "q/#", 2)
	r.write(codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
	r.expectClosed(3 * time.Second)

	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("qpub"), CleanStart: true})
	for i := 0; i < 25; i++ {
		pub.publish(&codec.Publish{Topic: []byte("q/a"), QoS: 1, PacketID: uint16(i + 1), Payload: []byte(fmt.Sprint(i))})
		pub.mustRead(codec.TypePuback)
	}
	r2 := dialRaw(t, b)
	ack := r2.connect(&codec.Connect{ClientID: []byte("q"), CleanStart: false})
	check(t, ack.SessionPresent)
	for i := 0; i < 10; i++ {
		p := decodePublish(t, r2.mustRead(codec.TypePublish))
		equal(t, string(p.Payload), fmt.Sprint(i), "oldest kept")
		r2.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
	}
	if pkt, err := r2.read(300 * time.Millisecond); err == nil {
		t.Fatalf("more than the queue bound: %x", pkt)
	}
	check(t, b.Stats().PublishDropped >= 15, "drops counted", b.Stats().PublishDropped)
}

// TestUnsubscribe stops delivery for exactly the removed filter and always
// answers UNSUBACK [MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-5].
func TestUnsubscribe(t *testing.T) {
	b := startBroker(t, nil)
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("u"), CleanStart: true})
	r.subscribe(1, "u/+", 0)
	r.subscribe(2, "u/x", 0)
	r.write(codec.AppendUnsubscribe(nil, codec.V311, &codec.Unsubscribe{PacketID: 9, Filters: [][]byte{[]byte("u/+"), []byte("none")}}))
	var ua codec.Unsuback
	_, err := codec.DecodeUnsuback(r.mustRead(codec.TypeUnsuback), codec.V311, &ua)
	noErr(t, err)
	equal(t, ua.PacketID, uint16(9))
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("upub"), CleanStart: true})
	pub.publish(&codec.Publish{Topic: []byte("u/y"), Payload: []byte("gone")})
	pub.publish(&codec.Publish{Topic: []byte("u/x"), Payload: []byte("kept")})
	p := decodePublish(t, r.mustRead(codec.TypePublish))
	equal(t, string(p.Payload), "kept")
}

type denyAuthoriser struct{}

func (denyAuthoriser) CanPublish(_ *ClientInfo, topic []byte, _ byte, _ bool) bool {
	return string(topic) != "secret"
}

func (denyAuthoriser) CanSubscribe(_ *ClientInfo, filter []byte, _ byte) bool {
	return string(filter) != "forbidden/#"
}

// TestAuthoriser checks a refused PUBLISH is acknowledged but not delivered
// [MQTT-3.3.5-2] and a refused SUBSCRIBE gets 0x80 [MQTT-3.9.3-2].
func TestAuthoriser(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.Authoriser = denyAuthoriser{} })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("az"), CleanStart: true})
	equal(t, r.subscribe(1, "forbidden/#", 0).ReasonCodes[0], codec.ReasonCode(0x80))
	equal(t, r.subscribe(2, "#", 1).ReasonCodes[0], codec.ReasonCode(1))
	r.publish(&codec.Publish{Topic: []byte("secret"), QoS: 1, PacketID: 3, Payload: []byte("x")})
	r.mustRead(codec.TypePuback)
	r.publish(&codec.Publish{Topic: []byte("open"), QoS: 0, Payload: []byte("y")})
	p := decodePublish(t, r.mustRead(codec.TypePublish))
	equal(t, string(p.Topic), "open")
}

// TestSessionExpiry drops an offline persistent session after
// MaxSessionExpiry.
func TestSessionExpiry(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxSessionExpiry = 500 * time.Millisecond })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("exp"), CleanStart: false})
	r.subscribe(1, "e", 1)
	r.write(codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
	r.expectClosed(3 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for b.sessions.len() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	r2 := dialRaw(t, b)
	check(t, !r2.connect(&codec.Connect{ClientID: []byte("exp"), CleanStart: false}).SessionPresent, "session expired")
	equal(t, b.subCount.Load(), int64(0))
}

// TestV5RawFailedPubackNotResent: a QoS 1 PUBLISH the subscriber answers
// with PUBACK 0x80 counts as acknowledged and is not sent again when the
// session resumes [MQTT-4.4.0-2]; one left unacknowledged is, with DUP 1
// [MQTT-4.4.0-1] [MQTT-4.3.2-3]. First sends have DUP 0 [MQTT-4.3.2-2]; the
// publisher's PUBACK echoes its packet identifier [MQTT-4.3.2-4].
func TestV5RawFailedPubackNotResent(t *testing.T) {
	b := startBroker(t, nil)
	persistent := func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 60
		cp.Props.Set(codec.PropSessionExpiry)
	}
	sub := dialV5(t, b, "v5-fp-sub", persistent)
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("fp/#"), QoS: 1}}}))
	sub.mustRead(codec.TypeSuback)
	pub := dialV5(t, b, "v5-fp-pub", nil)
	for i, payload := range []string{"refused", "unacked"} {
		pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("fp/x"), QoS: 1, PacketID: uint16(i + 1), Payload: []byte(payload)}))
		equal(t, pub.readAck(codec.TypePuback).PacketID, uint16(i+1))
		var p codec.Publish
		_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &p)
		noErr(t, err)
		equal(t, string(p.Payload), payload)
		check(t, !p.Dup, "DUP 1 on a first send")
		if i == 0 {
			sub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID, ReasonCode: codec.ReasonUnspecifiedError}))
		}
	}
	sub.write(codec.AppendPingreq(nil)) // the PUBACK is handled before the close
	sub.mustRead(codec.TypePingresp)
	_ = sub.nc.Close()
	time.Sleep(100 * time.Millisecond)

	back := dialRaw(t, b)
	cp := codec.Connect{Version: codec.V5, ClientID: []byte("v5-fp-sub")}
	persistent(&cp)
	check(t, back.connect(&cp).SessionPresent, "session present")
	var p codec.Publish
	_, err := codec.DecodePublish(back.mustRead(codec.TypePublish), codec.V5, &p)
	noErr(t, err)
	equal(t, string(p.Payload), "unacked", "resent message")
	check(t, p.Dup, "a resent PUBLISH has DUP 1")
	if pkt, err := back.read(300 * time.Millisecond); err == nil {
		t.Fatalf("more than the unacknowledged message resent: %x", pkt)
	}
}

// TestV5RawQoS2AfterExpiry: a QoS 2 message whose Message Expiry passes
// while it waits for the subscriber's PUBREC is still sent again on resume
// [MQTT-4.3.3-7], and its exchange completes: PUBREC gets PUBREL, PUBCOMP
// ends it [MQTT-4.3.3-13].
func TestV5RawQoS2AfterExpiry(t *testing.T) {
	b := startBroker(t, nil)
	persistent := func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 60
		cp.Props.Set(codec.PropSessionExpiry)
	}
	sub := dialV5(t, b, "v5-q2exp-sub", persistent)
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("q2exp"), QoS: 2}}}))
	sub.mustRead(codec.TypeSuback)
	pub := dialV5(t, b, "v5-q2exp-pub", nil)
	m := codec.Publish{Topic: []byte("q2exp"), QoS: 2, PacketID: 1, Payload: []byte("soon gone")}
	m.Props.MessageExpiry = 1
	m.Props.Set(codec.PropMessageExpiry)
	pub.write(codec.AppendPublish(nil, codec.V5, &m))
	pub.readAck(codec.TypePubrec)
	pub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrel, PacketID: 1}))
	pub.readAck(codec.TypePubcomp)
	var first codec.Publish
	_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &first)
	noErr(t, err)
	equal(t, first.QoS, byte(2))
	_ = sub.nc.Close()
	time.Sleep(1500 * time.Millisecond) // past the expiry

	back := dialRaw(t, b)
	cp := codec.Connect{Version: codec.V5, ClientID: []byte("v5-q2exp-sub")}
	persistent(&cp)
	check(t, back.connect(&cp).SessionPresent, "session present")
	var p codec.Publish
	_, err = codec.DecodePublish(back.mustRead(codec.TypePublish), codec.V5, &p)
	noErr(t, err)
	equal(t, string(p.Payload), "soon gone", "an expired in-flight message was not sent again")
	equal(t, p.QoS, byte(2))
	check(t, p.Dup, "DUP 1 on the resent PUBLISH")
	back.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrec, PacketID: p.PacketID}))
	equal(t, back.readAck(codec.TypePubrel).PacketID, p.PacketID)
	back.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubcomp, PacketID: p.PacketID}))
	back.write(codec.AppendPingreq(nil))
	back.mustRead(codec.TypePingresp) // nothing else in between
}

// TestV5RawReceiveMaximumQoS2: with Receive Maximum 2 the broker sends two
// QoS 2 messages [MQTT-4.9.0-1] with distinct non-zero packet identifiers
// [MQTT-2.2.1-4], and a QoS 2 message counts against the quota until its
// PUBCOMP, not its PUBREC [MQTT-4.9.0-2] [MQTT-3.3.4-9] [MQTT-4.3.3-5]; at
// zero quota the broker still answers PINGREQ and SUBSCRIBE [MQTT-4.9.0-3]
// [MQTT-3.3.4-10]. Both directions of the QoS 2 exchange echo the packet
// identifier [MQTT-2.2.1-5] [MQTT-4.3.3-8] [MQTT-4.3.3-4] [MQTT-4.3.3-11]
// with reason 0x00 [MQTT-3.6.2-1] [MQTT-3.7.2-1].
func TestV5RawReceiveMaximumQoS2(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialV5(t, b, "v5-rm2", func(cp *codec.Connect) {
		cp.Props.ReceiveMaximum = 2
		cp.Props.Set(codec.PropReceiveMaximum)
	})
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("rm2"), QoS: 2}}}))
	sub.mustRead(codec.TypeSuback)
	pub := dialV5(t, b, "v5-rm2-pub", nil)
	for i := range 4 {
		pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("rm2"), QoS: 2, PacketID: uint16(i + 1), Payload: []byte{byte('0' + i)}}))
		rec := pub.readAck(codec.TypePubrec)
		equal(t, rec.ReasonCode, codec.ReasonSuccess)
		equal(t, rec.PacketID, uint16(i+1), "PUBREC packet identifier")
		pub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrel, PacketID: uint16(i + 1)}))
		comp := pub.readAck(codec.TypePubcomp)
		equal(t, comp.ReasonCode, codec.ReasonSuccess, "PUBCOMP for a known id")
		equal(t, comp.PacketID, uint16(i+1), "PUBCOMP packet identifier")
	}
	var got []codec.Publish
	for range 2 {
		var p codec.Publish
		_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &p)
		noErr(t, err)
		check(t, p.PacketID != 0 && (len(got) == 0 || got[0].PacketID != p.PacketID), "packet identifiers", p.PacketID)
		got = append(got, p)
	}
	// Quota zero: other packets are still answered.
	sub.write(codec.AppendPingreq(nil))
	sub.mustRead(codec.TypePingresp)
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 9, Filters: []codec.Subscription{{Filter: []byte("other"), QoS: 1}}}))
	sub.mustRead(codec.TypeSuback)

	sub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrec, PacketID: got[0].PacketID}))
	rel := sub.readAck(codec.TypePubrel)
	equal(t, rel.PacketID, got[0].PacketID)
	equal(t, rel.ReasonCode, codec.ReasonSuccess)
	if pkt, err := sub.read(300 * time.Millisecond); err == nil {
		t.Fatalf("a PUBLISH past Receive Maximum before PUBCOMP: %x", pkt)
	}
	sub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubcomp, PacketID: got[0].PacketID}))
	var p codec.Publish
	_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &p)
	noErr(t, err)
	equal(t, string(p.Payload), "2", "the next message after PUBCOMP")
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
