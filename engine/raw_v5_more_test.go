package engine

import (
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestV5RawSuback: one SUBSCRIBE with four filters gets one SUBACK with
// its packet identifier [MQTT-3.8.4-2] and a reason per filter, in order
// [MQTT-3.9.3-1]: the granted QoS or a failure [MQTT-3.8.4-7] ("#" not
// last is invalid [MQTT-4.7.1-1]).
func TestV5RawSuback(t *testing.T) {
	b := startBroker(t, nil)
	r := dialV5(t, b, "v5-suback", nil)
	r.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 321, Filters: []codec.Subscription{
		{Filter: []byte("sa/#"), QoS: 1}, {Filter: []byte("sa/#/x"), QoS: 0}, {Filter: []byte("sb"), QoS: 2}, {Filter: []byte("sc/+"), QoS: 0}}}))
	var sa codec.Suback
	_, err := codec.DecodeSuback(r.mustRead(codec.TypeSuback), codec.V5, &sa)
	noErr(t, err)
	equal(t, sa.PacketID, uint16(321))
	want := []codec.ReasonCode{codec.ReasonGrantedQoS1, codec.ReasonTopicFilterInvalid, codec.ReasonGrantedQoS2, codec.ReasonGrantedQoS0}
	equal(t, len(sa.ReasonCodes), len(want))
	for i, w := range want {
		equal(t, sa.ReasonCodes[i], w, "reason code", i)
	}
}

// TestV5RawNoDataAfterRefusedConnect: bytes a client sends after a CONNECT
// the broker refuses are not processed [MQTT-3.1.4-6]: a PUBLISH written
// in the same segment as a CONNECT refused with 0x9A reaches nobody, and
// the connection is closed [MQTT-3.2.2-7] [MQTT-4.13.2-1].
func TestV5RawNoDataAfterRefusedConnect(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.RetainAvailable = false })
	watch := dialV5(t, b, "v5-nda-watch", nil)
	watch.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("nda/#"), QoS: 0}}}))
	watch.mustRead(codec.TypeSuback)
	r := dialRaw(t, b)
	pkt := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, ClientID: []byte("v5-nda"),
		CleanStart: true, WillFlag: true, WillRetain: true, WillTopic: []byte("nda/will"), WillPayload: []byte("w")})
	pkt = codec.AppendPublish(pkt, codec.V5, &codec.Publish{Topic: []byte("nda/x"), Payload: []byte("after")})
	r.write(pkt)
	var ack codec.Connack
	_, err := codec.DecodeConnack(r.mustRead(codec.TypeConnack), codec.V5, &ack)
	noErr(t, err)
	equal(t, ack.ReasonCode, codec.ReasonRetainNotSupported)
	r.expectClosed(3 * time.Second)
	if p, err := watch.read(300 * time.Millisecond); err == nil {
		t.Fatalf("data after a refused CONNECT was processed: %x", p)
	}
}

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

// TestV5RawBadConnect: a malformed or invalid v5 CONNECT is refused with a
// CONNACK of 0x80 or more or closed without one [MQTT-3.1.4-1]
// [MQTT-3.2.2-7], never answered with a success or a DISCONNECT
// [MQTT-3.14.0-1]; a 23-character alphanumeric client id is accepted
// [MQTT-3.1.3-5].
func TestV5RawBadConnect(t *testing.T) {
	b := startBroker(t, nil)
	conn := func(mod func(*codec.Connect), patch func([]byte)) []byte {
		cp := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, ClientID: []byte("v5-badc"), CleanStart: true}
		if mod != nil {
			mod(&cp)
		}
		pkt := codec.AppendConnect(nil, &cp)
		if patch != nil {
			patch(pkt[9:]) // pkt[9] is the Connect Flags byte (2-byte fixed header)
		}
		return pkt
	}
	will := func(cp *codec.Connect) { cp.WillFlag, cp.WillTopic, cp.WillPayload = true, []byte("w"), []byte("w") }
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{name: "will QoS 3 [MQTT-3.1.2-12]", pkt: conn(will, func(f []byte) { f[0] |= 0x18 })},
		{name: "will retain without will flag [MQTT-3.1.2-13]", pkt: conn(nil, func(f []byte) { f[0] |= 0x20 })},
		{name: "password flag without password [MQTT-3.1.2-19]", pkt: conn(nil, func(f []byte) { f[0] |= 0x40 })},
		{name: "user name without its flag [MQTT-3.1.2-16]", pkt: conn(func(cp *codec.Connect) {
			cp.UsernameFlag, cp.Username = true, []byte("u")
		}, func(f []byte) { f[0] &^= 0x80 })},
		{name: "password without its flag [MQTT-3.1.2-18]", pkt: conn(func(cp *codec.Connect) {
			cp.PasswordFlag, cp.Password = true, []byte("p")
		}, func(f []byte) { f[0] &^= 0x40 })},
		{name: "client id not UTF-8 [MQTT-3.1.3-4]", pkt: conn(func(cp *codec.Connect) { cp.ClientID = []byte{'a', 0xff} }, nil)},
		{name: "will topic not UTF-8 [MQTT-3.1.3-11]", pkt: conn(func(cp *codec.Connect) { will(cp); cp.WillTopic = []byte{0xc0, 0x80} }, nil)},
		{name: "user name not UTF-8 [MQTT-3.1.3-12]", pkt: conn(func(cp *codec.Connect) {
			cp.UsernameFlag, cp.Username = true, []byte{0xff}
		}, nil)},
		{name: "receive maximum 0", pkt: conn(func(cp *codec.Connect) {
			cp.Props.ReceiveMaximum = 0
			cp.Props.Set(codec.PropReceiveMaximum)
		}, nil)},
		{name: "maximum packet size 0", pkt: conn(func(cp *codec.Connect) {
			cp.Props.MaximumPacketSize = 0
			cp.Props.Set(codec.PropMaximumPacketSize)
		}, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, b)
			r.write(tc.pkt)
			pkt, err := r.read(3 * time.Second)
			if err != nil {
				check(t, isReset(err) || err.Error() == "EOF", "connection not closed:", err)
				return
			}
			equal(t, codec.Type(pkt[0]>>4), codec.TypeConnack, "the answer to a bad CONNECT")
			var ack codec.Connack
			_, err = codec.DecodeConnack(pkt, codec.V5, &ack)
			noErr(t, err)
			check(t, ack.ReasonCode >= 0x80, "CONNACK", ack.ReasonCode, "to a bad CONNECT")
			r.expectClosed(3 * time.Second)
		})
	}
	dialV5(t, b, "abcXYZ0123456789abcdefg", nil)
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

// expectEOF checks that the broker closes the connection within d without
// sending anything more [MQTT-3.14.4-1].
func (r *rawConn) expectEOF(d time.Duration) {
	r.t.Helper()
	pkt, err := r.read(d)
	if err == nil {
		r.t.Fatalf("a packet after the broker's DISCONNECT: %x", pkt)
	}
	check(r.t, isReset(err) || err.Error() == "EOF", "connection not closed:", err)
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

// TestV5RawUnsubscribeFinishesInflight: a QoS 1 delivery already sent for a
// filter the client then removes is still completed: it is sent again on
// resume [MQTT-3.10.4-3], while new messages on that topic no longer come
// [MQTT-3.10.4-2].
func TestV5RawUnsubscribeFinishesInflight(t *testing.T) {
	b := startBroker(t, nil)
	persistent := func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 60
		cp.Props.Set(codec.PropSessionExpiry)
	}
	sub := dialV5(t, b, "v5-unfin-sub", persistent)
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("unfin"), QoS: 1}}}))
	sub.mustRead(codec.TypeSuback)
	pub := dialV5(t, b, "v5-unfin-pub", nil)
	pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("unfin"), QoS: 1, PacketID: 1, Payload: []byte("started")}))
	pub.readAck(codec.TypePuback)
	sub.mustRead(codec.TypePublish) // not acknowledged
	sub.write(codec.AppendUnsubscribe(nil, codec.V5, &codec.Unsubscribe{PacketID: 2, Filters: [][]byte{[]byte("unfin")}}))
	sub.mustRead(codec.TypeUnsuback)
	pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("unfin"), QoS: 1, PacketID: 2, Payload: []byte("after")}))
	pub.readAck(codec.TypePuback)
	_ = sub.nc.Close()
	time.Sleep(100 * time.Millisecond)

	back := dialRaw(t, b)
	cp := codec.Connect{Version: codec.V5, ClientID: []byte("v5-unfin-sub")}
	persistent(&cp)
	check(t, back.connect(&cp).SessionPresent, "session present")
	var p codec.Publish
	_, err := codec.DecodePublish(back.mustRead(codec.TypePublish), codec.V5, &p)
	noErr(t, err)
	equal(t, string(p.Payload), "started", "the started delivery was not completed")
	back.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
	if pkt, err := back.read(300 * time.Millisecond); err == nil {
		t.Fatalf("a message after UNSUBSCRIBE was delivered: %x", pkt)
	}
}
