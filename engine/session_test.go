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
		if want := fmt.Sprint(i); string(p.Payload) != want {
			t.Fatalf("got %v, want %v", string(p.Payload), want)
		}
		ids = append(ids, p.PacketID)
	}
	if pkt, err := sub.read(300 * time.Millisecond); err == nil {
		t.Fatalf("window exceeded: %x", pkt)
	}
	sub.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: ids[0]}))
	p := decodePublish(t, sub.mustRead(codec.TypePublish))
	if string(p.Payload) != "5" {
		t.Fatalf("got %v, want %v", string(p.Payload), "5")
	}
	for _, id := range ids[1:] {
		sub.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: id}))
	}
	for i := 6; i < 8; i++ {
		p := decodePublish(t, sub.mustRead(codec.TypePublish))
		if want := fmt.Sprint(i); string(p.Payload) != want {
			t.Fatalf("got %v, want %v", string(p.Payload), want)
		}
	}
}

// TestOfflineQueueBound queues at most MaxQueuedMessages for an offline
// session and counts the rest as dropped [MQTT-3.1.2-5], with a warning
// naming the setting and the session.
func TestOfflineQueueBound(t *testing.T) {
	logs := &syncBuffer{}
	b := startBroker(t, func(c *Config) { c.MaxQueuedMessages = 10; c.Logger = logTo(logs) })
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
	if !ack.SessionPresent {
		t.Fatal("ack.SessionPresent is false")
	}
	for i := 0; i < 10; i++ {
		p := decodePublish(t, r2.mustRead(codec.TypePublish))
		if want := fmt.Sprint(i); string(p.Payload) != want {
			t.Fatalf("oldest kept: got %v, want %v", string(p.Payload), want)
		}
		r2.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
	}
	if pkt, err := r2.read(300 * time.Millisecond); err == nil {
		t.Fatalf("more than the queue bound: %x", pkt)
	}
	if b.Stats().PublishDropped < 15 {
		t.Fatal("drops counted", b.Stats().PublishDropped)
	}
	hasLog(t, logs, "level=WARN", "queue limit: QoS 1/2 messages dropped", "limit=max_queued_messages", "value=10", "hits=", "client=q")
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
	if err != nil {
		t.Fatal(err)
	}
	if ua.PacketID != uint16(9) {
		t.Fatalf("got %v, want %v", ua.PacketID, uint16(9))
	}
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("upub"), CleanStart: true})
	pub.publish(&codec.Publish{Topic: []byte("u/y"), Payload: []byte("gone")})
	pub.publish(&codec.Publish{Topic: []byte("u/x"), Payload: []byte("kept")})
	p := decodePublish(t, r.mustRead(codec.TypePublish))
	if string(p.Payload) != "kept" {
		t.Fatalf("got %v, want %v", string(p.Payload), "kept")
	}
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
	if got := r.subscribe(1, "forbidden/#", 0).ReasonCodes[0]; got != codec.ReasonCode(0x80) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0x80))
	}
	if got := r.subscribe(2, "#", 1).ReasonCodes[0]; got != codec.ReasonCode(1) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(1))
	}
	r.publish(&codec.Publish{Topic: []byte("secret"), QoS: 1, PacketID: 3, Payload: []byte("x")})
	r.mustRead(codec.TypePuback)
	r.publish(&codec.Publish{Topic: []byte("open"), QoS: 0, Payload: []byte("y")})
	p := decodePublish(t, r.mustRead(codec.TypePublish))
	if string(p.Topic) != "open" {
		t.Fatalf("got %v, want %v", string(p.Topic), "open")
	}
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
	if r2.connect(&codec.Connect{ClientID: []byte("exp"), CleanStart: false}).SessionPresent {
		t.Fatal("session expired")
	}
	if got := b.subCount.Load(); got != int64(0) {
		t.Fatalf("got %v, want %v", got, int64(0))
	}
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
		if got := pub.readAck(codec.TypePuback).PacketID; got != uint16(i+1) {
			t.Fatalf("got %v, want %v", got, uint16(i+1))
		}
		var p codec.Publish
		_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &p)
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Payload) != payload {
			t.Fatalf("got %v, want %v", string(p.Payload), payload)
		}
		if p.Dup {
			t.Fatal("DUP 1 on a first send")
		}
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
	if !back.connect(&cp).SessionPresent {
		t.Fatal("session present")
	}
	var p codec.Publish
	_, err := codec.DecodePublish(back.mustRead(codec.TypePublish), codec.V5, &p)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Payload) != "unacked" {
		t.Fatalf("resent message: got %v, want %v", string(p.Payload), "unacked")
	}
	if !p.Dup {
		t.Fatal("a resent PUBLISH has DUP 1")
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if first.QoS != byte(2) {
		t.Fatalf("got %v, want %v", first.QoS, byte(2))
	}
	_ = sub.nc.Close()
	time.Sleep(1500 * time.Millisecond) // past the expiry

	back := dialRaw(t, b)
	cp := codec.Connect{Version: codec.V5, ClientID: []byte("v5-q2exp-sub")}
	persistent(&cp)
	if !back.connect(&cp).SessionPresent {
		t.Fatal("session present")
	}
	var p codec.Publish
	_, err = codec.DecodePublish(back.mustRead(codec.TypePublish), codec.V5, &p)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Payload) != "soon gone" {
		t.Fatalf("an expired in-flight message was not sent again: got %v, want %v", string(p.Payload), "soon gone")
	}
	if p.QoS != byte(2) {
		t.Fatalf("got %v, want %v", p.QoS, byte(2))
	}
	if !p.Dup {
		t.Fatal("DUP 1 on the resent PUBLISH")
	}
	back.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrec, PacketID: p.PacketID}))
	if got := back.readAck(codec.TypePubrel).PacketID; got != p.PacketID {
		t.Fatalf("got %v, want %v", got, p.PacketID)
	}
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
		if rec.ReasonCode != codec.ReasonSuccess {
			t.Fatalf("got %v, want %v", rec.ReasonCode, codec.ReasonSuccess)
		}
		if rec.PacketID != uint16(i+1) {
			t.Fatalf("PUBREC packet identifier: got %v, want %v", rec.PacketID, uint16(i+1))
		}
		pub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrel, PacketID: uint16(i + 1)}))
		comp := pub.readAck(codec.TypePubcomp)
		if comp.ReasonCode != codec.ReasonSuccess {
			t.Fatalf("PUBCOMP for a known id: got %v, want %v", comp.ReasonCode, codec.ReasonSuccess)
		}
		if comp.PacketID != uint16(i+1) {
			t.Fatalf("PUBCOMP packet identifier: got %v, want %v", comp.PacketID, uint16(i+1))
		}
	}
	var got []codec.Publish
	for range 2 {
		var p codec.Publish
		_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &p)
		if err != nil {
			t.Fatal(err)
		}
		if !(p.PacketID != 0 && (len(got) == 0 || got[0].PacketID != p.PacketID)) {
			t.Fatal("packet identifiers", p.PacketID)
		}
		got = append(got, p)
	}
	// Quota zero: other packets are still answered.
	sub.write(codec.AppendPingreq(nil))
	sub.mustRead(codec.TypePingresp)
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 9, Filters: []codec.Subscription{{Filter: []byte("other"), QoS: 1}}}))
	sub.mustRead(codec.TypeSuback)

	sub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubrec, PacketID: got[0].PacketID}))
	rel := sub.readAck(codec.TypePubrel)
	if rel.PacketID != got[0].PacketID {
		t.Fatalf("got %v, want %v", rel.PacketID, got[0].PacketID)
	}
	if rel.ReasonCode != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", rel.ReasonCode, codec.ReasonSuccess)
	}
	if pkt, err := sub.read(300 * time.Millisecond); err == nil {
		t.Fatalf("a PUBLISH past Receive Maximum before PUBCOMP: %x", pkt)
	}
	sub.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePubcomp, PacketID: got[0].PacketID}))
	var p codec.Publish
	_, err := codec.DecodePublish(sub.mustRead(codec.TypePublish), codec.V5, &p)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Payload) != "2" {
		t.Fatalf("the next message after PUBCOMP: got %v, want %v", string(p.Payload), "2")
	}
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
		if err != nil {
			t.Fatal(err)
		}
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
