package engine

import (
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// Gap-filling raw-socket tests for MQTT 5 protocol errors and flow control
// (engine/V5-COVERAGE.md).

// dialV5 connects a raw MQTT 5 client with id, adjusting the CONNECT with
// mod, and checks the first packet back is a CONNACK [MQTT-3.2.0-1] with
// reason 0x00 [MQTT-3.1.4-5].
func dialV5(t *testing.T, b *Broker, id string, mod func(*codec.Connect)) *rawConn {
	t.Helper()
	r := dialRaw(t, b)
	cp := &codec.Connect{Version: codec.V5, ClientID: []byte(id), CleanStart: true}
	if mod != nil {
		mod(cp)
	}
	equal(t, r.connect(cp).ReasonCode, codec.ReasonSuccess, "CONNACK")
	return r
}

// disconnect reads the broker's DISCONNECT and returns it.
func (r *rawConn) disconnect() *codec.Disconnect {
	r.t.Helper()
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(r.t, err)
	return &d
}

// readAck reads an acknowledgement of type want.
func (r *rawConn) readAck(want codec.Type) *codec.Ack {
	r.t.Helper()
	var a codec.Ack
	_, err := codec.DecodeAck(r.mustRead(want), codec.V5, &a)
	noErr(r.t, err)
	return &a
}

// TestV5RawProtocolErrorsMore: each v5 protocol error closes only the
// offending connection after a DISCONNECT with the reason [MQTT-4.13.1-1]
// [MQTT-3.14.4-2], with nothing after it [MQTT-3.14.4-1], and that
// DISCONNECT carries no Session Expiry Interval [MQTT-3.14.2-2].
func TestV5RawProtocolErrorsMore(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.TopicAliasMaximum = 4 })
	pub := func(mod func(*codec.Publish)) []byte {
		p := codec.Publish{Topic: []byte("err/x"), Payload: []byte("p")}
		mod(&p)
		return codec.AppendPublish(nil, codec.V5, &p)
	}
	sub := func(mod func(*codec.Subscribe)) []byte {
		s := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("err/#"), QoS: 1}}}
		mod(&s)
		return codec.AppendSubscribe(nil, codec.V5, &s)
	}
	malformed := []codec.ReasonCode{codec.ReasonMalformedPacket, codec.ReasonProtocolError}
	for _, tc := range []struct {
		name string
		pkt  []byte
		want []codec.ReasonCode // any of
	}{
		{name: "alias over maximum [MQTT-3.3.2-9]", want: []codec.ReasonCode{codec.ReasonTopicAliasInvalid},
			pkt: pub(func(p *codec.Publish) { p.Props.TopicAlias = 5; p.Props.Set(codec.PropTopicAlias) })},
		{name: "alias 0 [MQTT-3.3.2-8]", want: []codec.ReasonCode{codec.ReasonTopicAliasInvalid},
			pkt: pub(func(p *codec.Publish) { p.Props.TopicAlias = 0; p.Props.Set(codec.PropTopicAlias) })},
		{name: "subscription identifier on a client PUBLISH [MQTT-3.3.4-6]", want: malformed,
			pkt: pub(func(p *codec.Publish) { p.Props.SubscriptionIDs = []uint32{5} })},
		{name: "property not allowed on PUBLISH (Session Expiry Interval)", want: malformed,
			pkt: pub(func(p *codec.Publish) { p.Props.SessionExpiry = 5; p.Props.Set(codec.PropSessionExpiry) })},
		{name: "property not allowed on PUBLISH (Receive Maximum)", want: malformed,
			pkt: pub(func(p *codec.Publish) { p.Props.ReceiveMaximum = 5; p.Props.Set(codec.PropReceiveMaximum) })},
		{name: "QoS 3 [MQTT-3.3.1-4]", want: malformed,
			pkt: func() []byte { b := pub(func(*codec.Publish) {}); b[0] |= 0x06; return b }()},
		{name: "wildcard in Topic Name [MQTT-4.7.0-1]", want: append(malformed, codec.ReasonTopicNameInvalid),
			pkt: pub(func(p *codec.Publish) { p.Topic = []byte("err/+") })},
		{name: "Topic Name not UTF-8 [MQTT-3.3.2-1]", want: append(malformed, codec.ReasonTopicNameInvalid),
			pkt: pub(func(p *codec.Publish) { p.Topic = []byte{'e', 0xff, 'x'} })},
		{name: "Response Topic not UTF-8 [MQTT-3.3.2-13]", want: malformed,
			pkt: pub(func(p *codec.Publish) { p.Props.ResponseTopic = []byte{0xc3}; p.Props.Set(codec.PropResponseTopic) })},
		{name: "Content Type not UTF-8 [MQTT-3.3.2-19]", want: malformed,
			pkt: pub(func(p *codec.Publish) {
				p.Props.ContentType = []byte{0xed, 0xa0, 0x80}
				p.Props.Set(codec.PropContentType)
			})},
		{name: "wildcard in Response Topic [MQTT-3.3.2-14]", want: malformed,
			pkt: pub(func(p *codec.Publish) { p.Props.ResponseTopic = []byte("err/#"); p.Props.Set(codec.PropResponseTopic) })},
		{name: "SUBSCRIBE reserved flags [MQTT-3.8.1-1] [MQTT-2.1.3-1]", want: malformed,
			pkt: func() []byte { b := sub(func(*codec.Subscribe) {}); b[0] = byte(codec.TypeSubscribe) << 4; return b }()},
		{name: "SUBSCRIBE retain handling 3", want: malformed,
			pkt: func() []byte { b := sub(func(*codec.Subscribe) {}); b[len(b)-1] |= 0x30; return b }()},
		{name: "SUBSCRIBE subscription identifier 0", want: malformed,
			pkt: sub(func(s *codec.Subscribe) { s.Props.SubscriptionIDs = []uint32{0} })},
		{name: "SUBSCRIBE two subscription identifiers", want: malformed,
			pkt: sub(func(s *codec.Subscribe) { s.Props.SubscriptionIDs = []uint32{1, 2} })},
		{name: "No Local on a shared subscription [MQTT-3.8.3-4]", want: malformed,
			pkt: sub(func(s *codec.Subscribe) { s.Filters[0].Filter = []byte("$share/g/err/#"); s.Filters[0].NoLocal = true })},
		{name: "second CONNECT [MQTT-3.1.0-2] [MQTT-3.2.0-2]", want: malformed,
			pkt: codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, ClientID: []byte("again"), CleanStart: true})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialV5(t, b, "v5-raw-more", nil)
			r.write(tc.pkt)
			d := r.disconnect()
			ok := false
			for _, w := range tc.want {
				ok = ok || d.ReasonCode == w
			}
			check(t, ok, "DISCONNECT reason", d.ReasonCode, "want one of", tc.want)
			check(t, !d.Props.Has(codec.PropSessionExpiry), "server DISCONNECT with a Session Expiry Interval")
			r.expectEOF(3 * time.Second)
		})
	}
	dialV5(t, b, "v5-raw-more-ok", nil) // the broker still serves others
}

// TestV5RawTopicAliasPerConnection: a Topic Alias set on one connection is
// unknown on the next connection of the same session [MQTT-3.3.2-7].
func TestV5RawTopicAliasPerConnection(t *testing.T) {
	b := startBroker(t, nil)
	persistent := func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 60
		cp.Props.Set(codec.PropSessionExpiry)
	}
	r := dialV5(t, b, "v5-alias-conn", persistent)
	p := codec.Publish{Topic: []byte("ta/x"), QoS: 1, PacketID: 1, Payload: []byte("1")}
	p.Props.TopicAlias = 1
	p.Props.Set(codec.PropTopicAlias)
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	r.readAck(codec.TypePuback)
	p.Topic, p.PacketID = nil, 2
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	equal(t, r.readAck(codec.TypePuback).PacketID, uint16(2), "the alias works on its connection")
	_ = r.nc.Close()

	r = dialV5(t, b, "v5-alias-conn", persistent)
	p.PacketID = 3
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	equal(t, r.disconnect().ReasonCode, codec.ReasonProtocolError, "alias carried over to a new connection")
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
	check(t, len(pkt) <= 16, "SUBACK over the client's maximum:", len(pkt))
	var sa codec.Suback
	_, err := codec.DecodeSuback(pkt, codec.V5, &sa)
	noErr(t, err)
	equal(t, sa.ReasonCodes[0], codec.ReasonTopicFilterInvalid)

	p := codec.Publish{Topic: []byte("x"), QoS: 1, PacketID: 2, Payload: []byte{0xff}}
	p.Props.PayloadFormat = 1
	p.Props.Set(codec.PropPayloadFormat)
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	pkt = r.mustRead(codec.TypePuback)
	check(t, len(pkt) <= 16, "PUBACK over the client's maximum:", len(pkt))
	var a codec.Ack
	_, err = codec.DecodeAck(pkt, codec.V5, &a)
	noErr(t, err)
	equal(t, a.ReasonCode, codec.ReasonPayloadFormatInvalid)

	p.QoS, p.PacketID = 2, 3
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	pkt = r.mustRead(codec.TypePubrec)
	check(t, len(pkt) <= 16, "PUBREC over the client's maximum:", len(pkt))
	_, err = codec.DecodeAck(pkt, codec.V5, &a)
	noErr(t, err)
	equal(t, a.ReasonCode, codec.ReasonPayloadFormatInvalid)

	p.QoS, p.PacketID = 0, 0
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	pkt = r.mustRead(codec.TypeDisconnect)
	check(t, len(pkt) <= 16, "DISCONNECT over the client's maximum:", len(pkt))

	// A refused CONNACK too [MQTT-3.2.2-19].
	b2 := startBroker(t, func(c *Config) { c.RetainAvailable = false })
	r = dialRaw(t, b2)
	cp := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, ClientID: []byte("v5-rs-connack"), CleanStart: true,
		WillFlag: true, WillRetain: true, WillTopic: []byte("w"), WillPayload: []byte("w")}
	cp.Props.MaximumPacketSize = 16
	cp.Props.Set(codec.PropMaximumPacketSize)
	r.write(codec.AppendConnect(nil, &cp))
	pkt = r.mustRead(codec.TypeConnack)
	check(t, len(pkt) <= 16, "CONNACK over the client's maximum:", len(pkt))
	var ack codec.Connack
	_, err = codec.DecodeConnack(pkt, codec.V5, &ack)
	noErr(t, err)
	equal(t, ack.ReasonCode, codec.ReasonRetainNotSupported)
}

// TestV5RawConnectTooLarge: a CONNECT larger than the broker's Maximum
// Packet Size is refused, with at most a CONNACK 0x95 (never a DISCONNECT
// before CONNACK [MQTT-3.14.0-1]), and the connection is closed
// [MQTT-3.2.2-7].
func TestV5RawConnectTooLarge(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxPacketSize = 256 })
	r := dialRaw(t, b)
	r.write(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, ClientID: []byte("v5-big"),
		CleanStart: true, WillFlag: true, WillTopic: []byte("big/will"), WillPayload: make([]byte, 1000)}))
	pkt, err := r.read(3 * time.Second)
	if err == nil {
		equal(t, codec.Type(pkt[0]>>4), codec.TypeConnack, "the answer to a too-large CONNECT")
		var ack codec.Connack
		_, err := codec.DecodeConnack(pkt, codec.V5, &ack)
		noErr(t, err)
		equal(t, ack.ReasonCode, codec.ReasonPacketTooLarge)
		r.expectClosed(3 * time.Second)
	} else {
		check(t, isReset(err) || err.Error() == "EOF", "connection not closed:", err)
	}
	dialV5(t, b, "v5-small", nil)
}

// TestV5RawDisconnectSessionExpiryAfterZero: a DISCONNECT with a non-zero
// Session Expiry Interval after a CONNECT with 0 is not a valid DISCONNECT
// (MQTT 5 section 3.14.2.2.2): the broker answers DISCONNECT 0x82 and the
// will is published, as for any close without a valid DISCONNECT
// [MQTT-3.1.2-8].
func TestV5RawDisconnectSessionExpiryAfterZero(t *testing.T) {
	b := startBroker(t, nil)
	watch := dialV5(t, b, "v5-dse-watch", nil)
	watch.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("dse/#"), QoS: 0}}}))
	watch.mustRead(codec.TypeSuback)
	r := dialV5(t, b, "v5-dse", func(cp *codec.Connect) {
		cp.WillFlag, cp.WillTopic, cp.WillPayload = true, []byte("dse/will"), []byte("w")
	})
	d := codec.Disconnect{}
	d.Props.SessionExpiry = 60
	d.Props.Set(codec.PropSessionExpiry)
	r.write(codec.AppendDisconnect(nil, codec.V5, &d))
	equal(t, r.disconnect().ReasonCode, codec.ReasonProtocolError)
	r.expectClosed(3 * time.Second)
	var p codec.Publish
	_, err := codec.DecodePublish(watch.mustRead(codec.TypePublish), codec.V5, &p)
	noErr(t, err)
	equal(t, string(p.Topic), "dse/will", "will after an invalid DISCONNECT")
}
