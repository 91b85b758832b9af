package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/gust-mqtt/gust/codec"
)

// pahoV5 is a connected github.com/eclipse/paho.golang client whose
// received PUBLISH packets arrive on msgs.
type pahoV5 struct {
	c     *paho.Client
	ack   *paho.Connack
	msgs  chan *paho.Publish
	discs chan *paho.Disconnect
}

// dialPahoV5 connects a paho.golang v5 client (plain paho.Client over a
// net.Conn) with client id id; mod may adjust the CONNECT.
func dialPahoV5(t testing.TB, b *Broker, id string, mod func(*paho.Connect)) *pahoV5 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	noErr(t, err)
	pc := &pahoV5{msgs: make(chan *paho.Publish, 1024), discs: make(chan *paho.Disconnect, 1)}
	pc.c = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			pc.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case pc.discs <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	})
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if mod != nil {
		mod(cp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pc.ack, err = pc.c.Connect(ctx, cp)
	noErr(t, err, "paho connect")
	equal(t, pc.ack.ReasonCode, byte(0))
	t.Cleanup(func() {
		_ = pc.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
		_ = nc.Close()
	})
	return pc
}

func (pc *pahoV5) subscribe(t testing.TB, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := pc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	noErr(t, err, "paho subscribe")
	equal(t, sa.Reasons[0], qos)
}

func (pc *pahoV5) publish(t testing.TB, p *paho.Publish) *paho.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := pc.c.Publish(ctx, p)
	noErr(t, err, "paho publish")
	return r
}

// next returns the next received PUBLISH or fails after d.
func (pc *pahoV5) next(t testing.TB, d time.Duration) *paho.Publish {
	t.Helper()
	select {
	case p := <-pc.msgs:
		return p
	case <-time.After(d):
		t.Fatal("no PUBLISH received")
		return nil
	}
}

func ptr[T any](v T) *T { return &v }

// TestInteropPahoV5ConnackProperties checks that CONNACK announces the
// configured limits and features [MQTT-3.2.2-14] [MQTT-3.2.2-15]
// [MQTT-3.2.2-17], and a Server Keep Alive when the configured maximum
// overrides the client's [MQTT-3.2.2-21] [MQTT-3.2.2-22].
func TestInteropPahoV5ConnackProperties(t *testing.T) {
	b := startBroker(t, func(c *Config) {
		c.ReceiveMaximum = 100
		c.MaxPacketSize = 64 << 10
		c.TopicAliasMaximum = 7
		c.RetainAvailable = false
		c.KeepAliveMax = 20 * time.Second
	})
	pc := dialPahoV5(t, b, "v5-connack", nil) // asks for keep alive 30
	pr := pc.ack.Properties
	check(t, pr != nil, "no CONNACK properties")
	check(t, pr.ReceiveMaximum != nil && *pr.ReceiveMaximum == 100, "receive maximum", pr.ReceiveMaximum)
	check(t, pr.MaximumPacketSize != nil && *pr.MaximumPacketSize == 64<<10, "maximum packet size", pr.MaximumPacketSize)
	check(t, pr.TopicAliasMaximum != nil && *pr.TopicAliasMaximum == 7, "topic alias maximum", pr.TopicAliasMaximum)
	check(t, !pr.RetainAvailable, "retain available with RetainAvailable=false")
	check(t, pr.WildcardSubAvailable, "wildcard subscriptions available")
	check(t, pr.SharedSubAvailable, "shared subscriptions available")
	check(t, pr.SubIDAvailable, "subscription identifiers available")
	check(t, pr.ServerKeepAlive != nil && *pr.ServerKeepAlive == 20, "server keep alive", pr.ServerKeepAlive)

	b2 := startBroker(t, nil)
	pc2 := dialPahoV5(t, b2, "v5-connack-defaults", nil)
	pr = pc2.ack.Properties
	check(t, pr.ReceiveMaximum == nil, "receive maximum 65535 is left out")
	check(t, pr.RetainAvailable, "retain available by default")
	check(t, pr.ServerKeepAlive == nil, "no server keep alive when the client's is honoured")
	check(t, pr.TopicAliasMaximum != nil && *pr.TopicAliasMaximum == 10, "default topic alias maximum")
}

// TestInteropPahoV5PropertiesForwarded sends a PUBLISH with every message
// property from a paho.golang client at QoS 0 and 1: a v5 subscriber gets
// them unchanged, user properties in order [MQTT-3.3.2-4] [MQTT-3.3.2-15]
// [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] [MQTT-3.3.2-20], and a
// 3.1.1 subscriber gets the message without them.
func TestInteropPahoV5PropertiesForwarded(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialPahoV5(t, b, "v5-props-sub", nil)
	sub.subscribe(t, "props/#", 1)
	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("v3-props-sub"), CleanStart: true})
	v3.subscribe(1, "props/#", 0)
	pub := dialPahoV5(t, b, "v5-props-pub", nil)
	user := paho.UserProperties{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}, {Key: "b", Value: "3"}}
	for _, qos := range []byte{0, 1} {
		pub.publish(t, &paho.Publish{Topic: "props/x", QoS: qos, Payload: []byte("héllo"), Properties: &paho.PublishProperties{
			PayloadFormat: ptr(byte(1)), MessageExpiry: ptr(uint32(3600)), ContentType: "text/plain",
			ResponseTopic: "props/reply", CorrelationData: []byte{0, 1, 2}, User: user}})
		p := sub.next(t, 5*time.Second)
		equal(t, string(p.Payload), "héllo")
		pp := p.Properties
		check(t, pp != nil, "no properties forwarded")
		check(t, pp.PayloadFormat != nil && *pp.PayloadFormat == 1, "payload format", pp.PayloadFormat)
		check(t, pp.MessageExpiry != nil && *pp.MessageExpiry <= 3600 && *pp.MessageExpiry >= 3590, "message expiry", pp.MessageExpiry)
		equal(t, pp.ContentType, "text/plain")
		equal(t, pp.ResponseTopic, "props/reply")
		equal(t, string(pp.CorrelationData), "\x00\x01\x02")
		equal(t, len(pp.User), 3, "user properties")
		for i := range user {
			equal(t, pp.User[i], user[i], "user property order")
		}
		p3 := decodePublish(t, v3.mustRead(codec.TypePublish))
		equal(t, string(p3.Payload), "héllo")
	}
}

// TestInteropPahoV5PayloadFormatInvalid: a payload that is not UTF-8 with
// Payload Format Indicator 1 gets PUBACK 0x99 at QoS 1 and DISCONNECT 0x99
// at QoS 0, and is delivered to nobody.
func TestInteropPahoV5PayloadFormatInvalid(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialPahoV5(t, b, "v5-pfi-sub", nil)
	sub.subscribe(t, "pfi/#", 1)
	pub := dialPahoV5(t, b, "v5-pfi-pub", nil)
	bad := []byte{0xff, 0xfe, 'x'}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := pub.c.Publish(ctx, &paho.Publish{Topic: "pfi/x", QoS: 1, Payload: bad,
		Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}})
	check(t, err != nil && r != nil, "want a failed PUBACK, got", r, err)
	equal(t, r.ReasonCode, byte(codec.ReasonPayloadFormatInvalid))
	pub.publish(t, &paho.Publish{Topic: "pfi/x", QoS: 0, Payload: bad,
		Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}})
	select {
	case d := <-pub.discs:
		equal(t, d.ReasonCode, byte(codec.ReasonPayloadFormatInvalid))
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECT 0x99")
	}
	// The same bytes without the indicator are fine.
	pub2 := dialPahoV5(t, b, "v5-pfi-pub2", nil)
	pub2.publish(t, &paho.Publish{Topic: "pfi/ok", QoS: 1, Payload: bad})
	p := sub.next(t, 5*time.Second)
	equal(t, p.Topic, "pfi/ok", "the invalid messages were not delivered")
}

// TestInteropPahoV5MessageExpiry: a message queued for an offline session
// is forwarded with its expiry decreased by the time it waited
// [MQTT-3.3.2-6], and one that expired while queued is not delivered
// [MQTT-3.3.2-5].
func TestInteropPahoV5MessageExpiry(t *testing.T) {
	b := startBroker(t, nil)
	persistent := func(cp *paho.Connect) {
		cp.CleanStart = false
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(300))}
	}
	sub := dialPahoV5(t, b, "v5-exp-sub", persistent)
	sub.subscribe(t, "exp/#", 1)
	_ = sub.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	pub := dialPahoV5(t, b, "v5-exp-pub", nil)
	pub.publish(t, &paho.Publish{Topic: "exp/short", QoS: 1, Payload: []byte("short"),
		Properties: &paho.PublishProperties{MessageExpiry: ptr(uint32(1))}})
	pub.publish(t, &paho.Publish{Topic: "exp/long", QoS: 1, Payload: []byte("long"),
		Properties: &paho.PublishProperties{MessageExpiry: ptr(uint32(60))}})
	time.Sleep(2500 * time.Millisecond) // the short one expires, the long one waits 2-3 s
	back := dialPahoV5(t, b, "v5-exp-sub", persistent)
	check(t, back.ack.SessionPresent, "session present")
	p := back.next(t, 5*time.Second)
	equal(t, p.Topic, "exp/long", "the expired message was delivered")
	check(t, p.Properties != nil && p.Properties.MessageExpiry != nil, "expiry forwarded")
	left := *p.Properties.MessageExpiry
	check(t, left >= 56 && left <= 58, "expiry not decreased by the wait:", left)
	select {
	case p := <-back.msgs:
		t.Fatal("unexpected message", p.Topic)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestInteropPahoV5TopicAlias: a paho.golang client sets a Topic Alias and
// then publishes with an empty topic; subscribers get the full topic
// [MQTT-3.3.2-12]. An alias above the maximum gets DISCONNECT 0x94
// [MQTT-3.3.2-9].
func TestInteropPahoV5TopicAlias(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.TopicAliasMaximum = 5 })
	sub := dialPahoV5(t, b, "v5-alias-sub", nil)
	sub.subscribe(t, "alias/#", 1)
	pub := dialPahoV5(t, b, "v5-alias-pub", nil)
	pub.publish(t, &paho.Publish{Topic: "alias/one", QoS: 1, Payload: []byte("1"),
		Properties: &paho.PublishProperties{TopicAlias: ptr(uint16(3))}})
	pub.publish(t, &paho.Publish{QoS: 1, Payload: []byte("2"),
		Properties: &paho.PublishProperties{TopicAlias: ptr(uint16(3))}})
	pub.publish(t, &paho.Publish{QoS: 0, Payload: []byte("3"),
		Properties: &paho.PublishProperties{TopicAlias: ptr(uint16(3))}})
	for _, want := range []string{"1", "2", "3"} {
		p := sub.next(t, 5*time.Second)
		equal(t, p.Topic, "alias/one")
		equal(t, string(p.Payload), want)
		check(t, p.Properties == nil || p.Properties.TopicAlias == nil, "client's alias forwarded")
	}
	// Over the maximum: raw bytes, since paho refuses to send it.
	r := dialRaw(t, b)
	r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-alias-bad"), CleanStart: true})
	pp := codec.Publish{Topic: []byte("alias/x"), Payload: []byte("x")}
	pp.Props.TopicAlias = 6
	pp.Props.Set(codec.PropTopicAlias)
	r.write(codec.AppendPublish(nil, codec.V5, &pp))
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonTopicAliasInvalid)
	r.expectClosed(3 * time.Second)
	// An alias never set: protocol error.
	r2 := dialRaw(t, b)
	r2.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-alias-unset"), CleanStart: true})
	pp = codec.Publish{Payload: []byte("x")}
	pp.Props.TopicAlias = 2
	pp.Props.Set(codec.PropTopicAlias)
	r2.write(codec.AppendPublish(nil, codec.V5, &pp))
	_, err = codec.DecodeDisconnect(r2.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonProtocolError)
}

// TestInteropPahoV5RetainedAndWillProperties: a retained message keeps its
// properties for later v5 subscribers, with the expiry decreased by the
// time it was kept [MQTT-3.3.2-6]; a will is published with its properties
// [MQTT-3.3.2-17] [MQTT-3.3.2-20], without the Will Delay Interval.
func TestInteropPahoV5RetainedAndWillProperties(t *testing.T) {
	b := startBroker(t, nil)
	pub := dialPahoV5(t, b, "v5-ret-pub", nil)
	pub.publish(t, &paho.Publish{Topic: "ret/x", QoS: 1, Retain: true, Payload: []byte("kept"),
		Properties: &paho.PublishProperties{MessageExpiry: ptr(uint32(60)), ContentType: "text/plain",
			User: paho.UserProperties{{Key: "k", Value: "v"}}}})
	pub.publish(t, &paho.Publish{Topic: "ret/gone", QoS: 1, Retain: true, Payload: []byte("gone"),
		Properties: &paho.PublishProperties{MessageExpiry: ptr(uint32(1))}})
	time.Sleep(2200 * time.Millisecond)
	sub := dialPahoV5(t, b, "v5-ret-sub", nil)
	sub.subscribe(t, "ret/#", 1)
	p := sub.next(t, 5*time.Second)
	equal(t, p.Topic, "ret/x", "the expired retained message was delivered")
	check(t, p.Retain, "retain flag")
	pp := p.Properties
	check(t, pp != nil && pp.MessageExpiry != nil, "retained expiry forwarded")
	check(t, *pp.MessageExpiry >= 57 && *pp.MessageExpiry <= 58, "retained expiry not decreased:", *pp.MessageExpiry)
	equal(t, pp.ContentType, "text/plain")
	equal(t, len(pp.User), 1)
	equal(t, pp.User[0], paho.UserProperty{Key: "k", Value: "v"})

	sub.subscribe(t, "will/#", 0)
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	noErr(t, err)
	wc := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = wc.Connect(ctx, &paho.Connect{ClientID: "v5-will", CleanStart: true, KeepAlive: 30,
		WillMessage: &paho.WillMessage{Topic: "will/x", QoS: 0, Payload: []byte("bye")},
		WillProperties: &paho.WillProperties{WillDelayInterval: ptr(uint32(0)), ContentType: "text/bye",
			ResponseTopic: "will/reply", CorrelationData: []byte("c"), User: paho.UserProperties{{Key: "w", Value: "1"}}}})
	noErr(t, err)
	_ = nc.Close() // not a DISCONNECT: the will goes out [MQTT-3.1.2-8]
	p = sub.next(t, 5*time.Second)
	equal(t, p.Topic, "will/x")
	// paho.golang v0.23 writes only the Will Delay Interval and User
	// Properties of a will; the raw client below sends the others.
	check(t, p.Properties != nil, "will properties")
	equal(t, len(p.Properties.User), 1)
	equal(t, p.Properties.User[0], paho.UserProperty{Key: "w", Value: "1"})

	r := dialRaw(t, b)
	cp := codec.Connect{Version: codec.V5, ClientID: []byte("v5-will-raw"), CleanStart: true,
		WillFlag: true, WillTopic: []byte("will/raw"), WillPayload: []byte("bye")}
	cp.WillProps.ContentType = []byte("text/bye")
	cp.WillProps.ResponseTopic = []byte("will/reply")
	cp.WillProps.CorrelationData = []byte("c")
	cp.WillProps.Set(codec.PropContentType)
	cp.WillProps.Set(codec.PropResponseTopic)
	cp.WillProps.Set(codec.PropCorrelationData)
	cp.WillProps.Set(codec.PropWillDelay) // 0: published at once, and not forwarded
	r.connect(&cp)
	_ = r.nc.Close()
	p = sub.next(t, 5*time.Second)
	equal(t, p.Topic, "will/raw")
	pp = p.Properties
	check(t, pp != nil, "will properties")
	equal(t, pp.ContentType, "text/bye")
	equal(t, pp.ResponseTopic, "will/reply")
	equal(t, string(pp.CorrelationData), "c")
}

// TestInteropPahoV5MaximumPacketSize: a message larger than the client's
// Maximum Packet Size is not sent to it, at QoS 0 or 1 [MQTT-3.1.2-24]; a
// packet larger than the broker's gets DISCONNECT 0x95.
func TestInteropPahoV5MaximumPacketSize(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxPacketSize = 1024 })
	sub := dialPahoV5(t, b, "v5-mps-sub", func(cp *paho.Connect) {
		cp.Properties = &paho.ConnectProperties{MaximumPacketSize: ptr(uint32(100))}
	})
	sub.subscribe(t, "mps/#", 1)
	pub := dialPahoV5(t, b, "v5-mps-pub", nil)
	big := make([]byte, 200)
	pub.publish(t, &paho.Publish{Topic: "mps/big0", QoS: 0, Payload: big})
	pub.publish(t, &paho.Publish{Topic: "mps/big1", QoS: 1, Payload: big})
	pub.publish(t, &paho.Publish{Topic: "mps/small", QoS: 1, Payload: []byte("ok")})
	p := sub.next(t, 5*time.Second)
	equal(t, p.Topic, "mps/small", "a packet over the client's maximum was sent")

	r := dialRaw(t, b)
	r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-mps-big"), CleanStart: true})
	r.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("mps/x"), Payload: make([]byte, 2000)}))
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonPacketTooLarge)
}

// TestInteropV5ReceiveMaximumExceeded: a client with more unacknowledged
// QoS 2 PUBLISHes than the broker's Receive Maximum gets DISCONNECT 0x93
// [MQTT-3.3.4-7].
func TestInteropV5ReceiveMaximumExceeded(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.ReceiveMaximum = 2 })
	pc := dialPahoV5(t, b, "v5-rm-probe", nil)
	check(t, pc.ack.Properties.ReceiveMaximum != nil && *pc.ack.Properties.ReceiveMaximum == 2, "CONNACK receive maximum")
	r := dialRaw(t, b)
	r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-rm"), CleanStart: true})
	for pid := uint16(1); pid <= 3; pid++ { // no PUBREL: all three stay unacknowledged
		r.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("rm/x"), QoS: 2, PacketID: pid, Payload: []byte("x")}))
	}
	r.mustRead(codec.TypePubrec)
	r.mustRead(codec.TypePubrec)
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonReceiveMaximumExceeded)
}

// TestInteropPahoV5SubscriptionIdentifiers: a PUBLISH carries the
// Subscription Identifiers of every matching subscription [MQTT-3.3.4-3]
// [MQTT-3.3.4-4],
// at QoS 0 and 1, whether the subscriber is on the publisher's loop or not;
// a subscription without one gets none.
func TestInteropPahoV5SubscriptionIdentifiers(t *testing.T) {
	b := startBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub := dialPahoV5(t, b, "v5-sid-sub", nil)
	_, err := sub.c.Subscribe(ctx, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: ptr(7)},
		Subscriptions: []paho.SubscribeOptions{{Topic: "sid/#", QoS: 1}}})
	noErr(t, err)
	raw := dialRaw(t, b) // the other loop
	raw.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-sid-raw"), CleanStart: true})
	for i, f := range []string{"sid/+", "sid/#"} {
		s := codec.Subscribe{PacketID: uint16(i + 1), Filters: []codec.Subscription{{Filter: []byte(f), QoS: 1}}}
		s.Props.SubscriptionIDs = []uint32{uint32(3 + i)}
		raw.write(codec.AppendSubscribe(nil, codec.V5, &s))
		raw.mustRead(codec.TypeSuback)
	}
	plain := dialPahoV5(t, b, "v5-sid-plain", nil)
	plain.subscribe(t, "sid/#", 1)
	pub := dialPahoV5(t, b, "v5-sid-pub", nil)
	for _, qos := range []byte{0, 1} {
		pub.publish(t, &paho.Publish{Topic: "sid/x", QoS: qos, Payload: []byte("m"),
			Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "u", Value: "1"}}}})
		p := sub.next(t, 5*time.Second)
		check(t, p.Properties != nil && p.Properties.SubscriptionIdentifier != nil && *p.Properties.SubscriptionIdentifier == 7,
			"subscription identifier at QoS", qos)
		equal(t, len(p.Properties.User), 1, "user properties kept beside the identifier")
		var rp codec.Publish
		_, err := codec.DecodePublish(raw.mustRead(codec.TypePublish), codec.V5, &rp)
		noErr(t, err)
		equal(t, len(rp.Props.SubscriptionIDs), 2, "both matching identifiers")
		got := map[uint32]bool{rp.Props.SubscriptionIDs[0]: true, rp.Props.SubscriptionIDs[1]: true}
		check(t, got[3] && got[4], "identifiers", rp.Props.SubscriptionIDs)
		if rp.QoS == 1 {
			raw.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: rp.PacketID}))
		}
		pp := plain.next(t, 5*time.Second)
		check(t, pp.Properties == nil || pp.Properties.SubscriptionIdentifier == nil, "identifier without a subscription identifier")
	}
}

// TestInteropPahoV5RetainAsPublished: a subscription with Retain As
// Published gets live messages with RETAIN as published [MQTT-3.3.1-13],
// one without gets RETAIN 0 [MQTT-3.3.1-12], at QoS 0 and 1.
func TestInteropPahoV5RetainAsPublished(t *testing.T) {
	b := startBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rap := dialPahoV5(t, b, "v5-rap", nil)
	_, err := rap.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "rap/#", QoS: 1, RetainAsPublished: true, RetainHandling: 2}}})
	noErr(t, err)
	plain := dialPahoV5(t, b, "v5-rap-plain", nil)
	plain.subscribe(t, "rap/#", 1)
	pub := dialPahoV5(t, b, "v5-rap-pub", nil)
	for _, qos := range []byte{0, 1} {
		for _, retain := range []bool{true, false} {
			pub.publish(t, &paho.Publish{Topic: "rap/x", QoS: qos, Retain: retain, Payload: []byte("m")})
			p := rap.next(t, 5*time.Second)
			equal(t, p.Retain, retain, "retain as published, qos", qos)
			p = plain.next(t, 5*time.Second)
			check(t, !p.Retain, "retain forwarded without Retain As Published, qos", qos)
		}
	}
}

// TestInteropPahoV5SessionExpiry: a session is kept while its Session
// Expiry Interval runs [MQTT-3.1.2-23] and discarded after it
// [MQTT-4.1.0-2], CONNACK Session Present saying which [MQTT-3.2.2-3]; a
// reconnect with interval 0 makes it end with that
// connection; a DISCONNECT's interval replaces the CONNECT's; CONNACK
// announces the broker's cap.
func TestInteropPahoV5SessionExpiry(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxSessionExpiry = time.Hour })
	withExpiry := func(secs uint32) func(*paho.Connect) {
		return func(cp *paho.Connect) {
			cp.CleanStart = false
			cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: ptr(secs)}
		}
	}
	leave := func(pc *pahoV5, d *paho.Disconnect) {
		noErr(t, pc.c.Disconnect(d))
		time.Sleep(100 * time.Millisecond) // the broker handles the close
	}

	// Short interval: gone after it passes.
	pc := dialPahoV5(t, b, "v5-se-short", withExpiry(1))
	check(t, !pc.ack.SessionPresent, "new session")
	pc.subscribe(t, "se/#", 1)
	leave(pc, &paho.Disconnect{})
	pc = dialPahoV5(t, b, "v5-se-short", withExpiry(1))
	check(t, pc.ack.SessionPresent, "kept within its interval")
	leave(pc, &paho.Disconnect{})
	time.Sleep(2 * time.Second) // interval 1 s, swept every 500 ms
	pc = dialPahoV5(t, b, "v5-se-short", withExpiry(1))
	check(t, !pc.ack.SessionPresent, "kept past its interval")
	leave(pc, &paho.Disconnect{})

	// Resumed with interval 0: it ends with that connection.
	pc = dialPahoV5(t, b, "v5-se-zero", withExpiry(300))
	leave(pc, &paho.Disconnect{})
	pc = dialPahoV5(t, b, "v5-se-zero", withExpiry(0))
	check(t, pc.ack.SessionPresent, "resumed")
	leave(pc, &paho.Disconnect{})
	pc = dialPahoV5(t, b, "v5-se-zero", withExpiry(300))
	check(t, !pc.ack.SessionPresent, "a session resumed with interval 0 outlived its connection")
	leave(pc, &paho.Disconnect{})

	// DISCONNECT with interval 0 discards it.
	pc = dialPahoV5(t, b, "v5-se-disc", withExpiry(300))
	leave(pc, &paho.Disconnect{Properties: &paho.DisconnectProperties{SessionExpiryInterval: ptr(uint32(0))}})
	pc = dialPahoV5(t, b, "v5-se-disc", withExpiry(300))
	check(t, !pc.ack.SessionPresent, "DISCONNECT interval 0 ignored")
	check(t, pc.ack.Properties.SessionExpiryInterval == nil, "no cap announced under the maximum")
	leave(pc, &paho.Disconnect{})

	// Above the broker's maximum: CONNACK says what applies.
	pc = dialPahoV5(t, b, "v5-se-cap", withExpiry(noExpiry))
	sei := pc.ack.Properties.SessionExpiryInterval
	check(t, sei != nil && *sei == 3600, "CONNACK session expiry cap", sei)
}

// TestInteropPahoV5WillDelay: a will with a Will Delay Interval waits; the
// client resuming its session in time cancels it, otherwise it is published
// once the delay has passed [MQTT-3.1.3-9].
func TestInteropPahoV5WillDelay(t *testing.T) {
	b := startBroker(t, nil)
	watch := dialPahoV5(t, b, "v5-wd-watch", nil)
	watch.subscribe(t, "wd/#", 0)
	connectWill := func(id string) net.Conn {
		nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
		noErr(t, err)
		t.Cleanup(func() { _ = nc.Close() })
		wc := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = wc.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: false, KeepAlive: 30,
			Properties:     &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(60))},
			WillMessage:    &paho.WillMessage{Topic: "wd/" + id, Payload: []byte("gone")},
			WillProperties: &paho.WillProperties{WillDelayInterval: ptr(uint32(2))}})
		noErr(t, err)
		return nc
	}
	noWill := func(d time.Duration, why string) {
		select {
		case p := <-watch.msgs:
			t.Fatal(why, p.Topic)
		case <-time.After(d):
		}
	}

	// Back in time: cancelled.
	nc := connectWill("back")
	_ = nc.Close()
	noWill(700*time.Millisecond, "will published before its delay:")
	nc = connectWill("back")
	noWill(2500*time.Millisecond, "will published although the client came back:")
	_ = nc.Close() // its will waits again; the broker's shutdown publishes it

	// Away: published after the delay.
	start := time.Now()
	_ = connectWill("away").Close()
	p := watch.next(t, 5*time.Second)
	for p.Topic == "wd/back" { // from the first part, if its delay ran out meanwhile
		p = watch.next(t, 5*time.Second)
	}
	equal(t, p.Topic, "wd/away")
	check(t, time.Since(start) >= 1900*time.Millisecond, "will published after", time.Since(start))
}

// TestInteropPahoV5ServerDisconnectReasons: the broker tells a v5 client
// why it closes it: session taken over 0x8E [MQTT-3.1.4-3], keep alive
// timeout 0x8D, server shutting down 0x8B.
func TestInteropPahoV5ServerDisconnectReasons(t *testing.T) {
	b := startBroker(t, nil)
	want := func(pc *pahoV5, rc codec.ReasonCode) {
		t.Helper()
		select {
		case d := <-pc.discs:
			equal(t, d.ReasonCode, byte(rc))
		case <-time.After(5 * time.Second):
			t.Fatalf("no DISCONNECT 0x%02x", byte(rc))
		}
	}
	old := dialPahoV5(t, b, "v5-dr-take", nil)
	_ = dialPahoV5(t, b, "v5-dr-take", nil)
	want(old, codec.ReasonSessionTakenOver)

	r := dialRaw(t, b)
	r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-dr-ka"), CleanStart: true, KeepAlive: 1})
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonKeepAliveTimeout)

	last := dialPahoV5(t, b, "v5-dr-shut", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	noErr(t, b.Shutdown(ctx))
	want(last, codec.ReasonServerShuttingDown)
}

// TestInteropPahoV5UnknownAuthMethod: a CONNECT naming an enhanced
// authentication method the broker does not know gets CONNACK 0x8C
// [MQTT-4.12.0-1].
func TestInteropPahoV5UnknownAuthMethod(t *testing.T) {
	b := startBroker(t, nil)
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	noErr(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	c := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: "v5-auth", CleanStart: true,
		Properties: &paho.ConnectProperties{AuthMethod: "NO-SUCH-METHOD", AuthData: []byte("x")}})
	check(t, err != nil, "connect with an unknown method succeeded")
	check(t, ack != nil, "no CONNACK:", err)
	equal(t, ack.ReasonCode, byte(codec.ReasonBadAuthenticationMethod))
}

// TestV5RawProtocolErrors: v5 protocol errors close only the offending
// connection, after a DISCONNECT with the reason: a property given twice,
// and Topic Alias 0 [MQTT-3.3.2-8].
func TestV5RawProtocolErrors(t *testing.T) {
	b := startBroker(t, nil)
	for _, tc := range []struct {
		name string
		pkt  []byte
		want codec.ReasonCode
	}{
		// PUBLISH "a", properties: Content Type "x" twice, payload "p".
		{"duplicate property", []byte{0x30, 13, 0, 1, 'a', 8, 0x03, 0, 1, 'x', 0x03, 0, 1, 'x', 'p'}, 0},
		// PUBLISH "a" with Topic Alias 0.
		{"topic alias 0", []byte{0x30, 8, 0, 1, 'a', 3, 0x23, 0, 0, 'p'}, codec.ReasonTopicAliasInvalid},
	} {
		r := dialRaw(t, b)
		r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-raw-err"), CleanStart: true})
		r.write(tc.pkt)
		var d codec.Disconnect
		_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
		noErr(t, err, tc.name)
		if tc.want != 0 {
			equal(t, d.ReasonCode, tc.want, tc.name)
		} else {
			check(t, d.ReasonCode == codec.ReasonMalformedPacket || d.ReasonCode == codec.ReasonProtocolError,
				tc.name, "reason", d.ReasonCode)
		}
		r.expectClosed(3 * time.Second)
	}
	ok := dialRaw(t, b) // the broker still serves others
	equal(t, ok.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-raw-ok"), CleanStart: true}).ReasonCode, codec.ReasonSuccess)
}
