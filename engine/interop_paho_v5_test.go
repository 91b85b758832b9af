package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
	"github.com/gust-mqtt/gust/engine/auth/authtest"
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
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err, "paho connect")
	}
	if pc.ack.ReasonCode != byte(0) {
		t.Fatalf("got %v, want %v", pc.ack.ReasonCode, byte(0))
	}
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
	if err != nil {
		t.Fatal(err, "paho subscribe")
	}
	if sa.Reasons[0] != qos {
		t.Fatalf("got %v, want %v", sa.Reasons[0], qos)
	}
}

func (pc *pahoV5) publish(t testing.TB, p *paho.Publish) *paho.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := pc.c.Publish(ctx, p)
	if err != nil {
		t.Fatal(err, "paho publish")
	}
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
	if pr == nil {
		t.Fatal("no CONNACK properties")
	}
	if !(pr.ReceiveMaximum != nil && *pr.ReceiveMaximum == 100) {
		t.Fatal("receive maximum", pr.ReceiveMaximum)
	}
	if !(pr.MaximumPacketSize != nil && *pr.MaximumPacketSize == 64<<10) {
		t.Fatal("maximum packet size", pr.MaximumPacketSize)
	}
	if !(pr.TopicAliasMaximum != nil && *pr.TopicAliasMaximum == 7) {
		t.Fatal("topic alias maximum", pr.TopicAliasMaximum)
	}
	if pr.RetainAvailable {
		t.Fatal("retain available with RetainAvailable=false")
	}
	if !pr.WildcardSubAvailable {
		t.Fatal("wildcard subscriptions available")
	}
	if !pr.SharedSubAvailable {
		t.Fatal("shared subscriptions available")
	}
	if !pr.SubIDAvailable {
		t.Fatal("subscription identifiers available")
	}
	if !(pr.ServerKeepAlive != nil && *pr.ServerKeepAlive == 20) {
		t.Fatal("server keep alive", pr.ServerKeepAlive)
	}

	b2 := startBroker(t, nil)
	pc2 := dialPahoV5(t, b2, "v5-connack-defaults", nil)
	pr = pc2.ack.Properties
	if pr.ReceiveMaximum != nil {
		t.Fatal("receive maximum 65535 is left out")
	}
	if !pr.RetainAvailable {
		t.Fatal("retain available by default")
	}
	if pr.ServerKeepAlive != nil {
		t.Fatal("no server keep alive when the client's is honoured")
	}
	if !(pr.TopicAliasMaximum != nil && *pr.TopicAliasMaximum == 10) {
		t.Fatal("default topic alias maximum")
	}
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
		if string(p.Payload) != "héllo" {
			t.Fatalf("got %v, want %v", string(p.Payload), "héllo")
		}
		pp := p.Properties
		if pp == nil {
			t.Fatal("no properties forwarded")
		}
		if !(pp.PayloadFormat != nil && *pp.PayloadFormat == 1) {
			t.Fatal("payload format", pp.PayloadFormat)
		}
		if !(pp.MessageExpiry != nil && *pp.MessageExpiry <= 3600 && *pp.MessageExpiry >= 3590) {
			t.Fatal("message expiry", pp.MessageExpiry)
		}
		if pp.ContentType != "text/plain" {
			t.Fatalf("got %v, want %v", pp.ContentType, "text/plain")
		}
		if pp.ResponseTopic != "props/reply" {
			t.Fatalf("got %v, want %v", pp.ResponseTopic, "props/reply")
		}
		if string(pp.CorrelationData) != "\x00\x01\x02" {
			t.Fatalf("got %v, want %v", string(pp.CorrelationData), "\x00\x01\x02")
		}
		if len(pp.User) != 3 {
			t.Fatalf("user properties: got %v, want %v", len(pp.User), 3)
		}
		for i := range user {
			if pp.User[i] != user[i] {
				t.Fatalf("user property order: got %v, want %v", pp.User[i], user[i])
			}
		}
		p3 := decodePublish(t, v3.mustRead(codec.TypePublish))
		if string(p3.Payload) != "héllo" {
			t.Fatalf("got %v, want %v", string(p3.Payload), "héllo")
		}
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
	if !(err != nil && r != nil) {
		t.Fatal("want a failed PUBACK, got", r, err)
	}
	if r.ReasonCode != byte(codec.ReasonPayloadFormatInvalid) {
		t.Fatalf("got %v, want %v", r.ReasonCode, byte(codec.ReasonPayloadFormatInvalid))
	}
	pub.publish(t, &paho.Publish{Topic: "pfi/x", QoS: 0, Payload: bad,
		Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}})
	select {
	case d := <-pub.discs:
		if d.ReasonCode != byte(codec.ReasonPayloadFormatInvalid) {
			t.Fatalf("got %v, want %v", d.ReasonCode, byte(codec.ReasonPayloadFormatInvalid))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECT 0x99")
	}
	// The same bytes without the indicator are fine.
	pub2 := dialPahoV5(t, b, "v5-pfi-pub2", nil)
	pub2.publish(t, &paho.Publish{Topic: "pfi/ok", QoS: 1, Payload: bad})
	p := sub.next(t, 5*time.Second)
	if p.Topic != "pfi/ok" {
		t.Fatalf("the invalid messages were not delivered: got %v, want %v", p.Topic, "pfi/ok")
	}
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
	if !back.ack.SessionPresent {
		t.Fatal("session present")
	}
	p := back.next(t, 5*time.Second)
	if p.Topic != "exp/long" {
		t.Fatalf("the expired message was delivered: got %v, want %v", p.Topic, "exp/long")
	}
	if !(p.Properties != nil && p.Properties.MessageExpiry != nil) {
		t.Fatal("expiry forwarded")
	}
	left := *p.Properties.MessageExpiry
	if !(left >= 56 && left <= 58) {
		t.Fatal("expiry not decreased by the wait:", left)
	}
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
		if p.Topic != "alias/one" {
			t.Fatalf("got %v, want %v", p.Topic, "alias/one")
		}
		if string(p.Payload) != want {
			t.Fatalf("got %v, want %v", string(p.Payload), want)
		}
		if !(p.Properties == nil || p.Properties.TopicAlias == nil) {
			t.Fatal("client's alias forwarded")
		}
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
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonTopicAliasInvalid {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonTopicAliasInvalid)
	}
	r.expectClosed(3 * time.Second)
	// An alias never set: protocol error.
	r2 := dialRaw(t, b)
	r2.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-alias-unset"), CleanStart: true})
	pp = codec.Publish{Payload: []byte("x")}
	pp.Props.TopicAlias = 2
	pp.Props.Set(codec.PropTopicAlias)
	r2.write(codec.AppendPublish(nil, codec.V5, &pp))
	_, err = codec.DecodeDisconnect(r2.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonProtocolError {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonProtocolError)
	}
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
	if p.Topic != "ret/x" {
		t.Fatalf("the expired retained message was delivered: got %v, want %v", p.Topic, "ret/x")
	}
	if !p.Retain {
		t.Fatal("retain flag")
	}
	pp := p.Properties
	if !(pp != nil && pp.MessageExpiry != nil) {
		t.Fatal("retained expiry forwarded")
	}
	if !(*pp.MessageExpiry >= 57 && *pp.MessageExpiry <= 58) {
		t.Fatal("retained expiry not decreased:", *pp.MessageExpiry)
	}
	if pp.ContentType != "text/plain" {
		t.Fatalf("got %v, want %v", pp.ContentType, "text/plain")
	}
	if len(pp.User) != 1 {
		t.Fatalf("got %v, want %v", len(pp.User), 1)
	}
	if pp.User[0] != (paho.UserProperty{Key: "k", Value: "v"}) {
		t.Fatalf("got %v, want %v", pp.User[0], paho.UserProperty{Key: "k", Value: "v"})
	}

	sub.subscribe(t, "will/#", 0)
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	wc := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = wc.Connect(ctx, &paho.Connect{ClientID: "v5-will", CleanStart: true, KeepAlive: 30,
		WillMessage: &paho.WillMessage{Topic: "will/x", QoS: 0, Payload: []byte("bye")},
		WillProperties: &paho.WillProperties{WillDelayInterval: ptr(uint32(0)), ContentType: "text/bye",
			ResponseTopic: "will/reply", CorrelationData: []byte("c"), User: paho.UserProperties{{Key: "w", Value: "1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Close() // not a DISCONNECT: the will goes out [MQTT-3.1.2-8]
	p = sub.next(t, 5*time.Second)
	if p.Topic != "will/x" {
		t.Fatalf("got %v, want %v", p.Topic, "will/x")
	}
	// paho.golang v0.23 writes only the Will Delay Interval and User
	// Properties of a will; the raw client below sends the others.
	if p.Properties == nil {
		t.Fatal("will properties")
	}
	if len(p.Properties.User) != 1 {
		t.Fatalf("got %v, want %v", len(p.Properties.User), 1)
	}
	if p.Properties.User[0] != (paho.UserProperty{Key: "w", Value: "1"}) {
		t.Fatalf("got %v, want %v", p.Properties.User[0], paho.UserProperty{Key: "w", Value: "1"})
	}

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
	if p.Topic != "will/raw" {
		t.Fatalf("got %v, want %v", p.Topic, "will/raw")
	}
	pp = p.Properties
	if pp == nil {
		t.Fatal("will properties")
	}
	if pp.ContentType != "text/bye" {
		t.Fatalf("got %v, want %v", pp.ContentType, "text/bye")
	}
	if pp.ResponseTopic != "will/reply" {
		t.Fatalf("got %v, want %v", pp.ResponseTopic, "will/reply")
	}
	if string(pp.CorrelationData) != "c" {
		t.Fatalf("got %v, want %v", string(pp.CorrelationData), "c")
	}
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
	if p.Topic != "mps/small" {
		t.Fatalf("a packet over the client's maximum was sent: got %v, want %v", p.Topic, "mps/small")
	}

	r := dialRaw(t, b)
	r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-mps-big"), CleanStart: true})
	r.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("mps/x"), Payload: make([]byte, 2000)}))
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonPacketTooLarge {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonPacketTooLarge)
	}
}

// TestInteropV5ReceiveMaximumExceeded: a client with more unacknowledged
// QoS 2 PUBLISHes than the broker's Receive Maximum gets DISCONNECT 0x93
// [MQTT-3.3.4-7].
func TestInteropV5ReceiveMaximumExceeded(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.ReceiveMaximum = 2 })
	pc := dialPahoV5(t, b, "v5-rm-probe", nil)
	if !(pc.ack.Properties.ReceiveMaximum != nil && *pc.ack.Properties.ReceiveMaximum == 2) {
		t.Fatal("CONNACK receive maximum")
	}
	r := dialRaw(t, b)
	r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-rm"), CleanStart: true})
	for pid := uint16(1); pid <= 3; pid++ { // no PUBREL: all three stay unacknowledged
		r.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("rm/x"), QoS: 2, PacketID: pid, Payload: []byte("x")}))
	}
	r.mustRead(codec.TypePubrec)
	r.mustRead(codec.TypePubrec)
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonReceiveMaximumExceeded {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonReceiveMaximumExceeded)
	}
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
	if err != nil {
		t.Fatal(err)
	}
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
		if !(p.Properties != nil && p.Properties.SubscriptionIdentifier != nil && *p.Properties.SubscriptionIdentifier == 7) {
			t.Fatal("subscription identifier at QoS", qos)
		}
		if len(p.Properties.User) != 1 {
			t.Fatalf("user properties kept beside the identifier: got %v, want %v", len(p.Properties.User), 1)
		}
		var rp codec.Publish
		_, err := codec.DecodePublish(raw.mustRead(codec.TypePublish), codec.V5, &rp)
		if err != nil {
			t.Fatal(err)
		}
		if len(rp.Props.SubscriptionIDs) != 2 {
			t.Fatalf("both matching identifiers: got %v, want %v", len(rp.Props.SubscriptionIDs), 2)
		}
		got := map[uint32]bool{rp.Props.SubscriptionIDs[0]: true, rp.Props.SubscriptionIDs[1]: true}
		if !(got[3] && got[4]) {
			t.Fatal("identifiers", rp.Props.SubscriptionIDs)
		}
		if rp.QoS == 1 {
			raw.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: rp.PacketID}))
		}
		pp := plain.next(t, 5*time.Second)
		if !(pp.Properties == nil || pp.Properties.SubscriptionIdentifier == nil) {
			t.Fatal("identifier without a subscription identifier")
		}
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
	if err != nil {
		t.Fatal(err)
	}
	plain := dialPahoV5(t, b, "v5-rap-plain", nil)
	plain.subscribe(t, "rap/#", 1)
	pub := dialPahoV5(t, b, "v5-rap-pub", nil)
	for _, qos := range []byte{0, 1} {
		for _, retain := range []bool{true, false} {
			pub.publish(t, &paho.Publish{Topic: "rap/x", QoS: qos, Retain: retain, Payload: []byte("m")})
			p := rap.next(t, 5*time.Second)
			if p.Retain != retain {
				t.Fatalf("%s: got %v, want %v", fmt.Sprint("retain as published, qos", qos), p.Retain, retain)
			}
			p = plain.next(t, 5*time.Second)
			if p.Retain {
				t.Fatal("retain forwarded without Retain As Published, qos", qos)
			}
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
		if err := pc.c.Disconnect(d); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the broker handles the close
	}

	// Short interval: gone after it passes.
	pc := dialPahoV5(t, b, "v5-se-short", withExpiry(1))
	if pc.ack.SessionPresent {
		t.Fatal("new session")
	}
	pc.subscribe(t, "se/#", 1)
	leave(pc, &paho.Disconnect{})
	pc = dialPahoV5(t, b, "v5-se-short", withExpiry(1))
	if !pc.ack.SessionPresent {
		t.Fatal("kept within its interval")
	}
	leave(pc, &paho.Disconnect{})
	time.Sleep(2 * time.Second) // interval 1 s, swept every 500 ms
	pc = dialPahoV5(t, b, "v5-se-short", withExpiry(1))
	if pc.ack.SessionPresent {
		t.Fatal("kept past its interval")
	}
	leave(pc, &paho.Disconnect{})

	// Resumed with interval 0: it ends with that connection.
	pc = dialPahoV5(t, b, "v5-se-zero", withExpiry(300))
	leave(pc, &paho.Disconnect{})
	pc = dialPahoV5(t, b, "v5-se-zero", withExpiry(0))
	if !pc.ack.SessionPresent {
		t.Fatal("resumed")
	}
	leave(pc, &paho.Disconnect{})
	pc = dialPahoV5(t, b, "v5-se-zero", withExpiry(300))
	if pc.ack.SessionPresent {
		t.Fatal("a session resumed with interval 0 outlived its connection")
	}
	leave(pc, &paho.Disconnect{})

	// DISCONNECT with interval 0 discards it.
	pc = dialPahoV5(t, b, "v5-se-disc", withExpiry(300))
	leave(pc, &paho.Disconnect{Properties: &paho.DisconnectProperties{SessionExpiryInterval: ptr(uint32(0))}})
	pc = dialPahoV5(t, b, "v5-se-disc", withExpiry(300))
	if pc.ack.SessionPresent {
		t.Fatal("DISCONNECT interval 0 ignored")
	}
	if pc.ack.Properties.SessionExpiryInterval != nil {
		t.Fatal("no cap announced under the maximum")
	}
	leave(pc, &paho.Disconnect{})

	// Above the broker's maximum: CONNACK says what applies.
	pc = dialPahoV5(t, b, "v5-se-cap", withExpiry(noExpiry))
	sei := pc.ack.Properties.SessionExpiryInterval
	if !(sei != nil && *sei == 3600) {
		t.Fatal("CONNACK session expiry cap", sei)
	}
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
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		wc := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = wc.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: false, KeepAlive: 30,
			Properties:     &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(60))},
			WillMessage:    &paho.WillMessage{Topic: "wd/" + id, Payload: []byte("gone")},
			WillProperties: &paho.WillProperties{WillDelayInterval: ptr(uint32(2))}})
		if err != nil {
			t.Fatal(err)
		}
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
	if p.Topic != "wd/away" {
		t.Fatalf("got %v, want %v", p.Topic, "wd/away")
	}
	if time.Since(start) < 1900*time.Millisecond {
		t.Fatal("will published after", time.Since(start))
	}
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
			if d.ReasonCode != byte(rc) {
				t.Fatalf("got %v, want %v", d.ReasonCode, byte(rc))
			}
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
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonKeepAliveTimeout {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonKeepAliveTimeout)
	}

	last := dialPahoV5(t, b, "v5-dr-shut", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	want(last, codec.ReasonServerShuttingDown)
}

// TestInteropPahoV5UnknownAuthMethod: a CONNECT naming an enhanced
// authentication method the broker does not know gets CONNACK 0x8C
// [MQTT-4.12.0-1].
func TestInteropPahoV5UnknownAuthMethod(t *testing.T) {
	b := startBroker(t, nil)
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: "v5-auth", CleanStart: true,
		Properties: &paho.ConnectProperties{AuthMethod: "NO-SUCH-METHOD", AuthData: []byte("x")}})
	if err == nil {
		t.Fatal("connect with an unknown method succeeded")
	}
	if ack == nil {
		t.Fatal("no CONNACK:", err)
	}
	if ack.ReasonCode != byte(codec.ReasonBadAuthenticationMethod) {
		t.Fatalf("got %v, want %v", ack.ReasonCode, byte(codec.ReasonBadAuthenticationMethod))
	}
}

// quiet fails the test if pc receives a PUBLISH within d.
func (pc *pahoV5) quiet(t testing.TB, d time.Duration, why string) {
	t.Helper()
	select {
	case p := <-pc.msgs:
		t.Fatal(why, p.Topic, string(p.Payload))
	case <-time.After(d):
	}
}

// subscribeOpts subscribes pc with full subscription options and returns
// the SUBACK reason codes.
func (pc *pahoV5) subscribeOpts(t testing.TB, opts ...paho.SubscribeOptions) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := pc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: opts})
	if err != nil {
		t.Fatal(err, "paho subscribe")
	}
	return sa.Reasons
}

// TestInteropPahoV5RetainHandling: Retain Handling 0 sends the retained
// message at every SUBSCRIBE, including one replacing the subscription
// [MQTT-3.3.1-9] [MQTT-3.8.4-4]; 1 only when the subscription is new
// [MQTT-3.3.1-10]; 2 never [MQTT-3.3.1-11]. A retained message sent
// because of a subscription has RETAIN 1.
func TestInteropPahoV5RetainHandling(t *testing.T) {
	b := startBroker(t, nil)
	pub := dialPahoV5(t, b, "v5-rh-pub", nil)
	pub.publish(t, &paho.Publish{Topic: "rh/x", QoS: 1, Retain: true, Payload: []byte("kept")})
	sub := dialPahoV5(t, b, "v5-rh-sub", nil)
	subRH := func(rh byte) {
		t.Helper()
		if got := sub.subscribeOpts(t, paho.SubscribeOptions{Topic: "rh/#", QoS: 1, RetainHandling: rh})[0]; got != byte(1) {
			t.Fatalf("got %v, want %v", got, byte(1))
		}
	}
	gotRetained := func(why string) {
		t.Helper()
		p := sub.next(t, 5*time.Second)
		if string(p.Payload) != "kept" {
			t.Fatalf("%v: got %v, want %v", why, string(p.Payload), "kept")
		}
		if !p.Retain {
			t.Fatal("RETAIN 0 on a retained message:", why)
		}
	}
	unsub := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := sub.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"rh/#"}})
		if err != nil {
			t.Fatal(err)
		}
	}

	subRH(0)
	gotRetained("retain handling 0, new subscription")
	subRH(0)
	gotRetained("retain handling 0, replaced subscription")
	unsub()
	subRH(1)
	gotRetained("retain handling 1, new subscription")
	subRH(1)
	sub.quiet(t, 400*time.Millisecond, "retain handling 1 re-sent the retained message on a replaced subscription:")
	unsub()
	subRH(2)
	sub.quiet(t, 400*time.Millisecond, "retain handling 2 sent a retained message:")
	pub.publish(t, &paho.Publish{Topic: "rh/x", QoS: 1, Payload: []byte("live")})
	p := sub.next(t, 5*time.Second)
	if string(p.Payload) != "live" {
		t.Fatalf("live messages flow with retain handling 2: got %v, want %v", string(p.Payload), "live")
	}

	// An empty retained payload clears it and is not stored [MQTT-3.3.1-7].
	pub.publish(t, &paho.Publish{Topic: "rh/x", QoS: 1, Retain: true})
	if got := len(sub.next(t, 5*time.Second).Payload); got != 0 {
		t.Fatalf("the clearing message is delivered live: got %v, want %v", got, 0)
	}
	subRH(0)
	sub.quiet(t, 400*time.Millisecond, "an empty retained message was stored:")
}

// TestInteropPahoV5OverlappingSubscriptions: a client whose subscriptions
// "ov/#" (QoS 0, identifier 1) and "ov/+" (QoS 2, identifier 2) both match
// gets the message once at the highest granted QoS [MQTT-3.3.4-2]
// [MQTT-3.8.4-8], carrying both identifiers [MQTT-3.3.4-4].
func TestInteropPahoV5OverlappingSubscriptions(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialPahoV5(t, b, "v5-ov-sub", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, f := range []struct {
		filter string
		qos    byte
	}{{filter: "ov/#", qos: 0}, {filter: "ov/+", qos: 2}} {
		_, err := sub.c.Subscribe(ctx, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: ptr(i + 1)},
			Subscriptions: []paho.SubscribeOptions{{Topic: f.filter, QoS: f.qos}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	pub := dialPahoV5(t, b, "v5-ov-pub", nil)
	for _, qos := range []byte{1, 2} {
		pub.publish(t, &paho.Publish{Topic: "ov/x", QoS: qos, Payload: []byte("m")})
		p := sub.next(t, 5*time.Second)
		if p.QoS != qos {
			t.Fatalf("delivered QoS: got %v, want %v", p.QoS, qos)
		}
		if p.Properties == nil {
			t.Fatal("no properties")
		}
		sub.quiet(t, 200*time.Millisecond, "a second copy:")
	}
	// paho.golang keeps one Subscription Identifier; the raw client sees all.
	r := dialV5(t, b, "v5-ov-raw", nil)
	for i, f := range []string{"ov/#", "ov/+"} {
		s := codec.Subscribe{PacketID: uint16(i + 1), Filters: []codec.Subscription{{Filter: []byte(f), QoS: byte(2 * i)}}}
		s.Props.SubscriptionIDs = []uint32{uint32(i + 1)}
		r.write(codec.AppendSubscribe(nil, codec.V5, &s))
		r.mustRead(codec.TypeSuback)
	}
	pub.publish(t, &paho.Publish{Topic: "ov/y", QoS: 1, Payload: []byte("m")})
	var rp codec.Publish
	_, err := codec.DecodePublish(r.mustRead(codec.TypePublish), codec.V5, &rp)
	if err != nil {
		t.Fatal(err)
	}
	if rp.QoS != byte(1) {
		t.Fatalf("got %v, want %v", rp.QoS, byte(1))
	}
	if len(rp.Props.SubscriptionIDs) != 2 {
		t.Fatalf("%s: got %v, want %v", fmt.Sprint("identifiers", rp.Props.SubscriptionIDs), len(rp.Props.SubscriptionIDs), 2)
	}
	if rp.Props.SubscriptionIDs[0]+rp.Props.SubscriptionIDs[1] != 3 {
		t.Fatal("identifiers", rp.Props.SubscriptionIDs)
	}
}

// TestInteropPahoV5NoLocal: a subscription with No Local never gets the
// subscriber's own messages [MQTT-3.8.3-3], but gets everyone else's; the
// same client without No Local gets its own.
func TestInteropPahoV5NoLocal(t *testing.T) {
	b := startBroker(t, nil)
	self := dialPahoV5(t, b, "v5-nl-self", nil)
	if got := self.subscribeOpts(t, paho.SubscribeOptions{Topic: "nl/#", QoS: 1, NoLocal: true})[0]; got != byte(1) {
		t.Fatalf("got %v, want %v", got, byte(1))
	}
	other := dialPahoV5(t, b, "v5-nl-other", nil)
	for _, qos := range []byte{0, 1} {
		self.publish(t, &paho.Publish{Topic: "nl/own", QoS: qos, Payload: []byte("own")})
		other.publish(t, &paho.Publish{Topic: "nl/theirs", QoS: qos, Payload: []byte("theirs")})
		p := self.next(t, 5*time.Second)
		if p.Topic != "nl/theirs" {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("No Local delivered the client's own message, qos", qos), p.Topic, "nl/theirs")
		}
	}
	self.quiet(t, 300*time.Millisecond, "No Local delivered the client's own message:")
	if got := self.subscribeOpts(t, paho.SubscribeOptions{Topic: "nl/#", QoS: 1})[0]; got != byte(1) { // replaced, No Local 0
		t.Fatalf("got %v, want %v", got, byte(1))
	}
	self.publish(t, &paho.Publish{Topic: "nl/own", QoS: 1, Payload: []byte("own")})
	if got := self.next(t, 5*time.Second).Topic; got != "nl/own" {
		t.Fatalf("without No Local a client gets its own message: got %v, want %v", got, "nl/own")
	}
}

// TestInteropPahoV5Unsuback: one UNSUBSCRIBE with three filters gets one
// UNSUBACK [MQTT-3.10.4-4] [MQTT-3.10.4-6] with its packet identifier
// [MQTT-2.2.1-6] and a reason per filter in order [MQTT-3.11.3-1]: 0x00
// for a filter that existed, 0x11 No subscription existed otherwise.
func TestInteropPahoV5Unsuback(t *testing.T) {
	b := startBroker(t, nil)
	pc := dialPahoV5(t, b, "v5-unsub", nil)
	pc.subscribe(t, "us/a", 1)
	pc.subscribe(t, "us/c/#", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ua, err := pc.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"us/a", "us/b", "us/c/#"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ua.Reasons) != 3 {
		t.Fatalf("got %v, want %v", len(ua.Reasons), 3)
	}
	if ua.Reasons[0] != byte(codec.ReasonSuccess) {
		t.Fatalf("got %v, want %v", ua.Reasons[0], byte(codec.ReasonSuccess))
	}
	if ua.Reasons[1] != byte(codec.ReasonNoSubscriptionExisted) {
		t.Fatalf("got %v, want %v", ua.Reasons[1], byte(codec.ReasonNoSubscriptionExisted))
	}
	if ua.Reasons[2] != byte(codec.ReasonSuccess) {
		t.Fatalf("got %v, want %v", ua.Reasons[2], byte(codec.ReasonSuccess))
	}

	// Raw, to see the packet identifier.
	r := dialRaw(t, b)
	r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-unsub-raw"), CleanStart: true})
	r.write(codec.AppendUnsubscribe(nil, codec.V5, &codec.Unsubscribe{PacketID: 4242, Filters: [][]byte{[]byte("none")}}))
	var u codec.Unsuback
	_, err = codec.DecodeUnsuback(r.mustRead(codec.TypeUnsuback), codec.V5, &u)
	if err != nil {
		t.Fatal(err)
	}
	if u.PacketID != uint16(4242) {
		t.Fatalf("got %v, want %v", u.PacketID, uint16(4242))
	}
	if len(u.ReasonCodes) != 1 {
		t.Fatalf("got %v, want %v", len(u.ReasonCodes), 1)
	}
	if u.ReasonCodes[0] != codec.ReasonNoSubscriptionExisted {
		t.Fatalf("got %v, want %v", u.ReasonCodes[0], codec.ReasonNoSubscriptionExisted)
	}
}

// TestInteropPahoV5DisconnectWill: the will is kept with the session
// [MQTT-3.1.2-7]; DISCONNECT 0x04 (with will) publishes it, with its User
// Properties in order [MQTT-3.1.3-10]; DISCONNECT 0x00 discards it
// [MQTT-3.14.4-3] [MQTT-3.1.2-10].
func TestInteropPahoV5DisconnectWill(t *testing.T) {
	b := startBroker(t, nil)
	watch := dialPahoV5(t, b, "v5-dw-watch", nil)
	watch.subscribe(t, "dw/#", 1)
	for _, tc := range []struct {
		id     string
		reason byte
		will   bool
	}{
		{id: "normal", reason: 0x00, will: false},
		{id: "with-will", reason: byte(codec.ReasonDisconnectWithWill), will: true},
	} {
		nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		c := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = c.Connect(ctx, &paho.Connect{ClientID: "v5-dw-" + tc.id, CleanStart: true, KeepAlive: 30,
			WillMessage:    &paho.WillMessage{Topic: "dw/" + tc.id, QoS: 1, Payload: []byte("bye")},
			WillProperties: &paho.WillProperties{User: paho.UserProperties{{Key: "why", Value: tc.id}, {Key: "a", Value: "1"}, {Key: "why", Value: "2"}}}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Disconnect(&paho.Disconnect{ReasonCode: tc.reason}); err != nil {
			t.Fatal(err)
		}
		if !tc.will {
			watch.quiet(t, 500*time.Millisecond, "will published after DISCONNECT 0x00:")
			continue
		}
		p := watch.next(t, 5*time.Second)
		if p.Topic != ("dw/" + tc.id) {
			t.Fatalf("got %v, want %v", p.Topic, "dw/"+tc.id)
		}
		if string(p.Payload) != "bye" {
			t.Fatalf("got %v, want %v", string(p.Payload), "bye")
		}
		if !(p.Properties != nil && len(p.Properties.User) == 3) {
			t.Fatal("will user properties", p.Properties)
		}
		for i, want := range []paho.UserProperty{{Key: "why", Value: tc.id}, {Key: "a", Value: "1"}, {Key: "why", Value: "2"}} {
			if p.Properties.User[i] != want {
				t.Fatalf("will user property order: got %v, want %v", p.Properties.User[i], want)
			}
		}
	}
}

// TestInteropPahoV5AssignedClientID: a v5 CONNECT with an empty client id
// gets an Assigned Client Identifier that no other session uses
// [MQTT-3.2.2-16] [MQTT-3.1.3-7], and no Response Information when it did
// not ask for it [MQTT-3.1.2-28].
func TestInteropPahoV5AssignedClientID(t *testing.T) {
	b := startBroker(t, nil)
	a := dialPahoV5(t, b, "", nil)
	c := dialPahoV5(t, b, "", nil)
	for _, pc := range []*pahoV5{a, c} {
		if !(pc.ack.Properties != nil && pc.ack.Properties.AssignedClientID != "") {
			t.Fatal("no Assigned Client Identifier")
		}
		if pc.ack.Properties.ResponseInfo != "" {
			t.Fatalf("Response Information without a request: got %v, want %v", pc.ack.Properties.ResponseInfo, "")
		}
		if pc.ack.Properties.AuthMethod != "" {
			t.Fatal("Authentication Method without one in CONNECT [MQTT-4.12.0-6]")
		}
	}
	if a.ack.Properties.AssignedClientID == c.ack.Properties.AssignedClientID {
		t.Fatal("the same identifier assigned twice")
	}
	// Both stay connected (neither took the other over) and work.
	a.subscribe(t, "aci/#", 0)
	c.publish(t, &paho.Publish{Topic: "aci/x", Payload: []byte("hi")})
	if got := string(a.next(t, 5*time.Second).Payload); got != "hi" {
		t.Fatalf("got %v, want %v", got, "hi")
	}
}

// TestInteropPahoV5ServerKeepAlive: with KeepAliveMax 1 s a client asking
// for 60 s is told Server Keep Alive 1 in CONNACK, and the broker applies
// it: silent for 1.5 s, the client gets DISCONNECT 0x8D
// [MQTT-3.1.2-22]. PINGREQ answered by PINGRESP [MQTT-3.12.4-1] keeps it
// alive meanwhile; the server's DISCONNECT carries no Session Expiry
// Interval [MQTT-3.14.2-2].
func TestInteropPahoV5ServerKeepAlive(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.KeepAliveMax = time.Second })
	pc := dialPahoV5(t, b, "v5-ska-paho", func(cp *paho.Connect) { cp.KeepAlive = 60 })
	if !(pc.ack.Properties.ServerKeepAlive != nil && *pc.ack.Properties.ServerKeepAlive == 1) {
		t.Fatal("server keep alive", pc.ack.Properties.ServerKeepAlive)
	}

	r := dialRaw(t, b)
	ack := r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-ska-raw"), CleanStart: true, KeepAlive: 60})
	if !(ack.Props.Has(codec.PropServerKeepAlive) && ack.Props.ServerKeepAlive == 1) {
		t.Fatal("raw server keep alive")
	}
	start := time.Now()
	for range 4 { // 1.8 s of pings: alive past 1.5 s
		time.Sleep(450 * time.Millisecond)
		r.write(codec.AppendPingreq(nil))
		r.mustRead(codec.TypePingresp)
	}
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonKeepAliveTimeout {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonKeepAliveTimeout)
	}
	if d.Props.Has(codec.PropSessionExpiry) {
		t.Fatal("server DISCONNECT with a Session Expiry Interval")
	}
	if time.Since(start) < 2*time.Second {
		t.Fatal("closed before 1.5x the server keep alive after the last ping")
	}
}

// TestInteropPahoV5ReceiveMaximumManualAck: a paho.golang client with
// Receive Maximum 3 that acknowledges by hand never has more than 3
// unacknowledged QoS 1 or QoS 2 messages from the broker [MQTT-3.3.4-9]
// [MQTT-4.9.0-2]; each acknowledgement lets the next one through, in the
// order published [MQTT-4.6.0-5].
func TestInteropPahoV5ReceiveMaximumManualAck(t *testing.T) {
	b := startBroker(t, nil)
	for _, qos := range []byte{1, 2} {
		nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		msgs := make(chan *paho.Publish, 64)
		c := paho.NewClient(paho.ClientConfig{Conn: nc, EnableManualAcknowledgment: true, SendAcksInterval: 10 * time.Millisecond,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				msgs <- pr.Packet
				return true, nil
			}},
			OnClientError: func(error) {}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = c.Connect(ctx, &paho.Connect{ClientID: "v5-rmack", CleanStart: true, KeepAlive: 30,
			Properties: &paho.ConnectProperties{ReceiveMaximum: ptr(uint16(3)), RequestProblemInfo: true}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "rmack", QoS: qos}}})
		if err != nil {
			t.Fatal(err)
		}
		pub := dialPahoV5(t, b, "v5-rmack-pub", nil)
		const n = 8
		for i := range n {
			pub.publish(t, &paho.Publish{Topic: "rmack", QoS: qos, Payload: []byte{byte('0' + i)}})
		}
		var held []*paho.Publish
		take := func() {
			t.Helper()
			select {
			case p := <-msgs:
				if string(p.Payload) != string(rune('0'+len(held))) {
					t.Fatalf("order: got %v, want %v", string(p.Payload), string(rune('0'+len(held))))
				}
				held = append(held, p)
			case <-time.After(5 * time.Second):
				t.Fatal("no PUBLISH, qos", qos, "after", len(held))
			}
		}
		for range 3 {
			take()
		}
		select {
		case p := <-msgs:
			t.Fatal("a 4th unacknowledged PUBLISH, qos", qos, string(p.Payload))
		case <-time.After(400 * time.Millisecond):
		}
		for i := 0; len(held) < n; i++ {
			if err := c.Ack(held[i]); err != nil {
				t.Fatal(err)
			}
			take()
		}
		for _, p := range held[n-3:] {
			if err := c.Ack(p); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		_ = c.Disconnect(&paho.Disconnect{})
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInteropPahoV5RetainNotAvailable: with RetainAvailable false, a
// CONNECT whose will has RETAIN 1 is refused with CONNACK 0x9A and closed
// [MQTT-3.2.2-13] [MQTT-3.2.2-7], and a PUBLISH with RETAIN 1 gets
// DISCONNECT 0x9A (MQTT 5 section 3.3.1.3); the message is not delivered.
func TestInteropPahoV5RetainNotAvailable(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.RetainAvailable = false })
	sub := dialPahoV5(t, b, "v5-rna-sub", nil)
	sub.subscribe(t, "rna/#", 1)

	r := dialRaw(t, b)
	ack := r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-rna-will"), CleanStart: true,
		WillFlag: true, WillRetain: true, WillTopic: []byte("rna/will"), WillPayload: []byte("w")})
	if ack.ReasonCode != codec.ReasonRetainNotSupported {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonRetainNotSupported)
	}
	r.expectClosed(3 * time.Second)

	// paho.golang refuses to send RETAIN to such a server: raw bytes.
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-rna-pub"), CleanStart: true})
	pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("rna/x"), Retain: true, Payload: []byte("r")}))
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(pub.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonRetainNotSupported {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonRetainNotSupported)
	}
	pub.expectClosed(3 * time.Second)
	sub.quiet(t, 300*time.Millisecond, "a refused retained PUBLISH was delivered:")
}

// TestInteropPahoV5WillDelayPastSession: a will whose delay outlasts its
// session (Session Expiry Interval 1 s, Will Delay Interval 60 s) is
// published when the session ends [MQTT-3.1.3-9] [MQTT-3.1.2-8].
func TestInteropPahoV5WillDelayPastSession(t *testing.T) {
	b := startBroker(t, nil)
	watch := dialPahoV5(t, b, "v5-wdp-watch", nil)
	watch.subscribe(t, "wdp/#", 0)
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	wc := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = wc.Connect(ctx, &paho.Connect{ClientID: "v5-wdp", CleanStart: true, KeepAlive: 30,
		Properties:     &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(1))},
		WillMessage:    &paho.WillMessage{Topic: "wdp/gone", Payload: []byte("gone")},
		WillProperties: &paho.WillProperties{WillDelayInterval: ptr(uint32(60))}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_ = nc.Close()
	p := watch.next(t, 5*time.Second)
	if p.Topic != "wdp/gone" {
		t.Fatalf("got %v, want %v", p.Topic, "wdp/gone")
	}
	if time.Since(start) < 900*time.Millisecond {
		t.Fatal("will published before the session ended:", time.Since(start))
	}
}

// TestInteropSharedMixedVersions: a $share group with a paho.golang v5
// member and a paho.mqtt.golang 3.1.1 member gets each message of a v5
// publisher exactly once, at one live member [MQTT-4.8.2-3], both members
// taking part; a plain subscriber beside the group gets every message.
func TestInteropSharedMixedVersions(t *testing.T) {
	b := startBroker(t, nil)
	m5 := dialPahoV5(t, b, "share-v5", nil)
	m5.subscribe(t, "$share/g/shm/#", 1)
	col := newCollector()
	m3 := pahoClient(t, b, "share-v3", nil)
	subscribe(t, m3, "$share/g/shm/#", 1, col)
	plain := dialPahoV5(t, b, "share-plain", nil)
	plain.subscribe(t, "shm/#", 1)
	pub := dialPahoV5(t, b, "share-pub", nil)
	const n = 20
	for i := range n {
		pub.publish(t, &paho.Publish{Topic: "shm/x", QoS: byte(i % 2), Payload: []byte{byte(i)},
			Properties: &paho.PublishProperties{User: paho.UserProperties{{Key: "i", Value: "x"}}}})
	}
	for range n {
		plain.next(t, 5*time.Second)
	}
	seen := map[byte]int{}
	deadline := time.After(5 * time.Second)
	v5n := 0
	for v5n+col.count() < n {
		select {
		case p := <-m5.msgs:
			seen[p.Payload[0]]++
			v5n++
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("group got %d+%d messages, want %d", v5n, col.count(), n)
		}
	}
	for _, m := range col.wait(t, n-v5n, time.Second) {
		seen[m.Payload()[0]]++
	}
	m5.quiet(t, 200*time.Millisecond, "a message went to the group twice:")
	if got := v5n + col.count(); got != n {
		t.Fatalf("messages at the group: got %v, want %v", got, n)
	}
	if len(seen) != n {
		t.Fatalf("distinct messages at the group: got %v, want %v", len(seen), n)
	}
	for i, k := range seen {
		if k != 1 {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("deliveries of message", i), k, 1)
		}
	}
	if !(v5n > 0 && col.count() > 0) {
		t.Fatal("one member got nothing: v5", v5n, "v3", col.count())
	}
}

// TestInteropPahoV5BrokerTopicAlias: a subscriber whose CONNECT allows 2
// Topic Aliases gets aliases 1..2 only [MQTT-3.3.2-11] [MQTT-3.1.2-26]
// (which the client must accept [MQTT-3.3.2-10]), each sent with its topic first and then
// with an empty topic; the third topic always goes in full. QoS 0 and QoS
// 1, from publishers on either loop. A subscriber without a Topic Alias
// Maximum gets no alias [MQTT-3.1.2-27].
func TestInteropPahoV5BrokerTopicAlias(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialPahoV5(t, b, "v5-bta-sub", func(cp *paho.Connect) {
		cp.Properties = &paho.ConnectProperties{TopicAliasMaximum: ptr(uint16(2)), RequestProblemInfo: true}
	})
	sub.subscribe(t, "bta/#", 1)
	plain := dialPahoV5(t, b, "v5-bta-plain", nil)
	plain.subscribe(t, "bta/#", 1)
	pubs := []*pahoV5{dialPahoV5(t, b, "v5-bta-pub1", nil), dialPahoV5(t, b, "v5-bta-pub2", nil)}
	topics := []string{"bta/a", "bta/b", "bta/c"}
	const rounds = 4
	n := 0
	for r := range rounds {
		for qos := byte(0); qos <= 1; qos++ {
			for _, tp := range topics {
				pubs[(r+int(qos))%2].publish(t, &paho.Publish{Topic: tp, QoS: qos, Payload: []byte(tp)})
				n++
			}
		}
	}
	known := map[uint16]string{}
	aliased := 0
	for i := range n {
		p := sub.next(t, 5*time.Second)
		want := string(p.Payload)
		var alias uint16
		if p.Properties != nil && p.Properties.TopicAlias != nil {
			alias = *p.Properties.TopicAlias
		}
		switch {
		case alias == 0:
			if p.Topic != want {
				t.Fatalf("%v: got %v, want %v", fmt.Sprint("message ", i, " without an alias"), p.Topic, want)
			}
		case alias > 2:
			t.Fatalf("alias %d above the client's maximum 2 [MQTT-3.3.2-11]", alias)
		case p.Topic != "":
			if p.Topic != want {
				t.Fatalf("got %v, want %v", p.Topic, want)
			}
			if old, ok := known[alias]; ok {
				if old != want {
					t.Fatalf("alias remapped: got %v, want %v", old, want)
				}
			}
			known[alias] = p.Topic
		default:
			got, ok := known[alias]
			if !ok {
				t.Fatal("alias", alias, "used before it was sent with its topic")
			}
			if got != want {
				t.Fatalf("alias resolves to the wrong topic: got %v, want %v", got, want)
			}
			aliased++
		}
	}
	if len(known) != 2 {
		t.Fatalf("aliases assigned: got %v, want %v", len(known), 2)
	}
	if aliased < n-3-rounds*2 {
		t.Fatal("too few messages sent by alias alone:", aliased, "of", n)
	}
	for range n {
		p := plain.next(t, 5*time.Second)
		if p.Topic != string(p.Payload) {
			t.Fatalf("got %v, want %v", p.Topic, string(p.Payload))
		}
		if !(p.Properties == nil || p.Properties.TopicAlias == nil) {
			t.Fatal("alias sent to a client that allows none")
		}
	}
}

// TestInteropPahoV5MaximumQoS: with MaximumQoS 1 the CONNACK says so
// [MQTT-3.2.2-9]; a SUBSCRIBE asking QoS 2 is accepted and granted QoS 1
// [MQTT-3.2.2-10]; QoS 1 flows; a PUBLISH at QoS 2 (which a client must not
// send [MQTT-3.2.2-11]) gets DISCONNECT 0x9B and only that connection
// closes; a will at QoS 2 is refused with CONNACK 0x9B [MQTT-3.2.2-12].
func TestInteropPahoV5MaximumQoS(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaximumQoS = 1 })
	sub := dialPahoV5(t, b, "v5-mq-sub", nil)
	mq := sub.ack.Properties.MaximumQoS
	if !(mq != nil && *mq == 1) {
		t.Fatal("CONNACK Maximum QoS", mq)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := sub.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "mq/#", QoS: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if sa.Reasons[0] != byte(1) {
		t.Fatalf("granted QoS: got %v, want %v", sa.Reasons[0], byte(1))
	}
	pub := dialPahoV5(t, b, "v5-mq-pub", nil)
	pub.publish(t, &paho.Publish{Topic: "mq/a", QoS: 1, Payload: []byte("one")})
	p := sub.next(t, 5*time.Second)
	if p.QoS != byte(1) {
		t.Fatalf("got %v, want %v", p.QoS, byte(1))
	}
	if string(p.Payload) != "one" {
		t.Fatalf("got %v, want %v", string(p.Payload), "one")
	}

	// paho itself refuses QoS 2 here, so raw bytes.
	r := dialRaw(t, b)
	ack := r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-mq-raw"), CleanStart: true})
	if ack.Props.MaximumQoS != byte(1) {
		t.Fatalf("got %v, want %v", ack.Props.MaximumQoS, byte(1))
	}
	r.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("mq/b"), QoS: 2, PacketID: 1, Payload: []byte("two")}))
	var d codec.Disconnect
	_, err = codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonQoSNotSupported {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonQoSNotSupported)
	}
	r.expectClosed(3 * time.Second)

	w := dialRaw(t, b)
	ack = w.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-mq-will"), CleanStart: true,
		WillFlag: true, WillQoS: 2, WillTopic: []byte("mq/will"), WillPayload: []byte("w")})
	if ack.ReasonCode != codec.ReasonQoSNotSupported {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonQoSNotSupported)
	}
	w.expectClosed(3 * time.Second)

	// The others keep working.
	pub.publish(t, &paho.Publish{Topic: "mq/c", QoS: 0, Payload: []byte("after")})
	p = sub.next(t, 5*time.Second)
	if string(p.Payload) != "after" {
		t.Fatalf("QoS 2 PUBLISH delivered: got %v, want %v", string(p.Payload), "after")
	}
}

// problemAcks sends a QoS 1 PUBLISH the broker refuses (payload format
// invalid) and a SUBSCRIBE with an invalid filter, and returns the Reason
// Strings of the PUBACK and the SUBACK.
func problemAcks(t *testing.T, pc *pahoV5) (puback, suback string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, _ := pc.c.Publish(ctx, &paho.Publish{Topic: "prob/x", QoS: 1, Payload: []byte{0xff},
		Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}})
	if r == nil {
		t.Fatal("no PUBACK")
	}
	if r.ReasonCode != byte(codec.ReasonPayloadFormatInvalid) {
		t.Fatalf("got %v, want %v", r.ReasonCode, byte(codec.ReasonPayloadFormatInvalid))
	}
	if r.Properties != nil {
		puback = r.Properties.ReasonString
	}
	sa, _ := pc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "prob/#/x", QoS: 1}}})
	if sa == nil {
		t.Fatal("no SUBACK")
	}
	if sa.Reasons[0] != byte(codec.ReasonTopicFilterInvalid) {
		t.Fatalf("got %v, want %v", sa.Reasons[0], byte(codec.ReasonTopicFilterInvalid))
	}
	if sa.Properties != nil {
		suback = sa.Properties.ReasonString
	}
	return puback, suback
}

// TestInteropPahoV5ProblemInformation: failed acknowledgements carry a
// Reason String by default; with Request Problem Information 0 they carry
// none, while a DISCONNECT still does [MQTT-3.1.2-29].
func TestInteropPahoV5ProblemInformation(t *testing.T) {
	b := startBroker(t, nil)
	def := dialPahoV5(t, b, "v5-prob-default", nil)
	pa, sa := problemAcks(t, def)
	if pa == "" {
		t.Fatal("PUBACK 0x99 without a Reason String")
	}
	if sa == "" {
		t.Fatal("SUBACK 0x8F without a Reason String")
	}

	quiet := dialPahoV5(t, b, "v5-prob-quiet", func(cp *paho.Connect) {
		cp.Properties = &paho.ConnectProperties{RequestProblemInfo: false} // sent as 0
	})
	pa, sa = problemAcks(t, quiet)
	if pa != "" {
		t.Fatalf("PUBACK Reason String despite Request Problem Information 0: got %v, want %v", pa, "")
	}
	if sa != "" {
		t.Fatalf("SUBACK Reason String despite Request Problem Information 0: got %v, want %v", sa, "")
	}
	// A DISCONNECT may carry one anyway [MQTT-3.1.2-29].
	quiet.publish(t, &paho.Publish{Topic: "prob/x", QoS: 0, Payload: []byte{0xff},
		Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}})
	select {
	case d := <-quiet.discs:
		if d.ReasonCode != byte(codec.ReasonPayloadFormatInvalid) {
			t.Fatalf("got %v, want %v", d.ReasonCode, byte(codec.ReasonPayloadFormatInvalid))
		}
		if !(d.Properties != nil && d.Properties.ReasonString != "") {
			t.Fatal("DISCONNECT without a Reason String")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECT 0x99")
	}
}

// TestInteropPahoV5ConnackReasonString: a refused CONNACK carries a Reason
// String even with Request Problem Information 0 [MQTT-3.1.2-29].
func TestInteropPahoV5ConnackReasonString(t *testing.T) {
	b := startBroker(t, nil)
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: "v5-prob-connack", CleanStart: true,
		Properties: &paho.ConnectProperties{AuthMethod: "NO-SUCH-METHOD", RequestProblemInfo: false}})
	if !(err != nil && ack != nil) {
		t.Fatal("want a refused CONNACK, got", ack, err)
	}
	if ack.ReasonCode != byte(codec.ReasonBadAuthenticationMethod) {
		t.Fatalf("got %v, want %v", ack.ReasonCode, byte(codec.ReasonBadAuthenticationMethod))
	}
	if !(ack.Properties != nil && ack.Properties.ReasonString != "") {
		t.Fatal("CONNACK 0x8C without a Reason String")
	}
}

// TestInteropMixedV3ToV5: a paho.mqtt.golang 3.1.1 publisher reaches a
// paho.golang v5 subscriber at QoS 0, 1 and 2, with the QoS the
// subscription grants [MQTT-3.8.4-8], and its retained message reaches a
// later v5 subscriber with RETAIN 1; the v5 subscriber sees no properties
// the publisher could not have sent.
func TestInteropMixedV3ToV5(t *testing.T) {
	b := startBroker(t, nil)
	sub := dialPahoV5(t, b, "mix35-sub", nil)
	sub.subscribe(t, "mix35/#", 2)
	pub := pahoClient(t, b, "mix35-pub", nil)
	for qos := byte(0); qos <= 2; qos++ {
		payload := fmt.Sprint("q", qos)
		publish(t, pub, "mix35/x", qos, false, payload)
		p := sub.next(t, 5*time.Second)
		if p.Topic != "mix35/x" {
			t.Fatalf("got %v, want %v", p.Topic, "mix35/x")
		}
		if string(p.Payload) != payload {
			t.Fatalf("got %v, want %v", string(p.Payload), payload)
		}
		if p.QoS != qos {
			t.Fatalf("delivered QoS: got %v, want %v", p.QoS, qos)
		}
		if p.Retain {
			t.Fatal("RETAIN on a live message")
		}
		if !(p.Properties == nil || (len(p.Properties.User) == 0 && p.Properties.ContentType == "")) {
			t.Fatal("properties invented for a 3.1.1 message", p.Properties)
		}
	}
	publish(t, pub, "mix35/ret", 1, true, "kept")
	if got := string(sub.next(t, 5*time.Second).Payload); got != "kept" {
		t.Fatalf("got %v, want %v", got, "kept")
	}
	late := dialPahoV5(t, b, "mix35-late", nil)
	late.subscribe(t, "mix35/ret", 1)
	p := late.next(t, 5*time.Second)
	if string(p.Payload) != "kept" {
		t.Fatalf("got %v, want %v", string(p.Payload), "kept")
	}
	if !p.Retain {
		t.Fatal("retained message without RETAIN")
	}
	if p.QoS != byte(1) {
		t.Fatalf("got %v, want %v", p.QoS, byte(1))
	}
}

// TestInteropMixedV5ToV3: a paho.golang v5 publisher sending every message
// property reaches a paho.mqtt.golang 3.1.1 subscriber at QoS 0, 1 and 2
// (the properties dropped, topic and payload unchanged, including a topic
// set through a Topic Alias); its retained message, stored with
// properties, reaches a later 3.1.1 subscriber with RETAIN 1.
func TestInteropMixedV5ToV3(t *testing.T) {
	b := startBroker(t, nil)
	col := newCollector()
	sub := pahoClient(t, b, "mix53-sub", nil)
	subscribe(t, sub, "mix53/#", 2, col)
	pub := dialPahoV5(t, b, "mix53-pub", nil)
	props := func() *paho.PublishProperties {
		return &paho.PublishProperties{PayloadFormat: ptr(byte(1)), MessageExpiry: ptr(uint32(600)),
			ContentType: "text/plain", ResponseTopic: "mix53/reply", CorrelationData: []byte{1, 2},
			User: paho.UserProperties{{Key: "k", Value: "v"}, {Key: "k", Value: "w"}}}
	}
	for qos := byte(0); qos <= 2; qos++ {
		pub.publish(t, &paho.Publish{Topic: "mix53/x", QoS: qos, Payload: []byte(fmt.Sprint("q", qos)), Properties: props()})
	}
	pr := props()
	pr.TopicAlias = ptr(uint16(1))
	pub.publish(t, &paho.Publish{Topic: "mix53/aliased", QoS: 1, Payload: []byte("a1"), Properties: pr})
	pub.publish(t, &paho.Publish{QoS: 1, Payload: []byte("a2"), Properties: &paho.PublishProperties{TopicAlias: ptr(uint16(1))}})
	msgs := col.wait(t, 5, 5*time.Second)
	want := []struct {
		topic, payload string
		qos            byte
	}{
		{topic: "mix53/x", payload: "q0", qos: 0}, {topic: "mix53/x", payload: "q1", qos: 1}, {topic: "mix53/x", payload: "q2", qos: 2},
		{topic: "mix53/aliased", payload: "a1", qos: 1}, {topic: "mix53/aliased", payload: "a2", qos: 1},
	}
	for i, w := range want {
		if got := msgs[i].Topic(); got != w.topic {
			t.Fatalf("%v: got %v, want %v", i, got, w.topic)
		}
		if got := string(msgs[i].Payload()); got != w.payload {
			t.Fatalf("%v: got %v, want %v", i, got, w.payload)
		}
		if got := msgs[i].Qos(); got != w.qos {
			t.Fatalf("%v: got %v, want %v", i, got, w.qos)
		}
		if msgs[i].Retained() {
			t.Fatal("RETAIN on a live message")
		}
	}

	pub.publish(t, &paho.Publish{Topic: "mix53/ret", QoS: 2, Retain: true, Payload: []byte("kept"), Properties: props()})
	col.wait(t, 6, 5*time.Second)
	late := newCollector()
	lc := pahoClient(t, b, "mix53-late", func(o *mqtt.ClientOptions) { o.SetCleanSession(true) })
	subscribe(t, lc, "mix53/ret", 2, late)
	m := late.wait(t, 1, 5*time.Second)[0]
	if got := string(m.Payload()); got != "kept" {
		t.Fatalf("got %v, want %v", got, "kept")
	}
	if !m.Retained() {
		t.Fatal("retained message without RETAIN")
	}
	if got := m.Qos(); got != byte(2) {
		t.Fatalf("got %v, want %v", got, byte(2))
	}
}

// dialPahoV5NoAck connects a paho.golang v5 client that acknowledges
// nothing (manual acknowledgement, never given), for a shared member that
// dies with messages in flight. Its net.Conn is returned so the test can
// cut the connection without a DISCONNECT.
func dialPahoV5NoAck(t testing.TB, b *Broker, id string, cp *paho.Connect) (*pahoV5, net.Conn) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	pc := &pahoV5{msgs: make(chan *paho.Publish, 1024)}
	pc.c = paho.NewClient(paho.ClientConfig{
		Conn:                       nc,
		EnableManualAcknowledgment: true,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			pc.msgs <- pr.Packet
			return true, nil
		}},
		OnClientError: func(error) {},
	})
	cp.ClientID = id
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pc.ack, err = pc.c.Connect(ctx, cp)
	if err != nil {
		t.Fatal(err, "paho connect")
	}
	return pc, nc
}

// subscribeID subscribes pc to filter at qos with Subscription Identifier
// id (0: none) and checks the grant.
func (pc *pahoV5) subscribeID(t testing.TB, filter string, qos byte, id int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}}
	if id != 0 {
		s.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: ptr(id)}
	}
	sa, err := pc.c.Subscribe(ctx, s)
	if err != nil {
		t.Fatal(err, "paho subscribe")
	}
	if sa.Reasons[0] != qos {
		t.Fatalf("got %v, want %v", sa.Reasons[0], qos)
	}
}

// collect reads n PUBLISHes from pc within d and returns them.
func (pc *pahoV5) collect(t testing.TB, n int, d time.Duration) []*paho.Publish {
	t.Helper()
	out := make([]*paho.Publish, 0, n)
	deadline := time.After(d)
	for len(out) < n {
		select {
		case p := <-pc.msgs:
			out = append(out, p)
		case <-deadline:
			t.Fatalf("got %d PUBLISHes, want %d", len(out), n)
		}
	}
	return out
}

// TestInteropPahoV5SharedRedelivery: two paho.golang members share
// $share/g/sr/#; A never acknowledges its QoS 1 messages and its connection
// drops. B then receives every one of A's messages, once, with its own
// Subscription Identifier [MQTT-3.3.4-3] and at its granted QoS
// [MQTT-4.8.2-3]; nothing is lost and nothing else is duplicated. A's
// persistent session, resumed, gets none of them again.
func TestInteropPahoV5SharedRedelivery(t *testing.T) {
	b := startBroker(t, nil)
	const n = 16 // within MaxInflight: all of A's are in flight
	a, anc := dialPahoV5NoAck(t, b, "sr-a", &paho.Connect{CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(60))}})
	a.subscribeID(t, "$share/g/sr/#", 1, 5)
	bm := dialPahoV5(t, b, "sr-b", nil) // the other loop
	bm.subscribeID(t, "$share/g/sr/#", 1, 9)
	pub := dialPahoV5(t, b, "sr-pub", nil)
	for i := range n {
		pub.publish(t, &paho.Publish{Topic: "sr/x", QoS: 1, Payload: []byte(strconv.Itoa(i))})
	}
	gotA := a.collect(t, n/2, 5*time.Second) // round robin: one each in turn
	gotB := bm.collect(t, n/2, 5*time.Second)
	for _, p := range gotA {
		if !(p.Properties != nil && p.Properties.SubscriptionIdentifier != nil && *p.Properties.SubscriptionIdentifier == 5) {
			t.Fatal("A's identifier on its shared delivery")
		}
	}
	_ = anc.Close() // no PUBACK, no DISCONNECT
	gotB = append(gotB, bm.collect(t, n/2, 5*time.Second)...)
	seen := map[string]int{}
	for _, p := range gotB {
		seen[string(p.Payload)]++
		if p.QoS != byte(1) {
			t.Fatalf("got %v, want %v", p.QoS, byte(1))
		}
		if !(p.Properties != nil && p.Properties.SubscriptionIdentifier != nil && *p.Properties.SubscriptionIdentifier == 9) {
			t.Fatal("B's own identifier", p.Payload)
		}
	}
	for i := range n {
		if got := seen[strconv.Itoa(i)]; got != 1 {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("message", i, "received once by B"), got, 1)
		}
	}
	for _, p := range gotA {
		if seen[string(p.Payload)] != 1 {
			t.Fatalf("A's unacknowledged message handed to B: got %v, want %v", seen[string(p.Payload)], 1)
		}
	}
	bm.quiet(t, 200*time.Millisecond, "B got more than the published messages:")

	raw := dialRaw(t, b)
	ack := raw.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("sr-a")})
	if !ack.SessionPresent {
		t.Fatal("A's session kept")
	}
	if pkt, err := raw.read(300 * time.Millisecond); err == nil {
		t.Fatalf("A got a handed-over message again: %x", pkt)
	}
}

// TestInteropPahoV5RetainedSubscriptionID: retained messages sent because
// of a SUBSCRIBE carry that SUBSCRIBE's Subscription Identifier
// [MQTT-3.3.4-3], at QoS 0 and 1; a SUBSCRIBE without one gets none.
func TestInteropPahoV5RetainedSubscriptionID(t *testing.T) {
	b := startBroker(t, nil)
	pub := dialPahoV5(t, b, "rsid-pub", nil)
	for i, qos := range []byte{0, 1} {
		pub.publish(t, &paho.Publish{Topic: fmt.Sprintf("rsid/%d", i), QoS: qos, Retain: true, Payload: []byte("r")})
	}
	for _, sc := range []struct {
		name string
		qos  byte
		id   int
	}{
		{name: "qos0", qos: 0, id: 41},
		{name: "qos1", qos: 1, id: 42},
		{name: "none", qos: 1, id: 0},
	} {
		t.Run(sc.name, func(t *testing.T) {
			s := dialPahoV5(t, b, "rsid-"+sc.name, nil)
			s.subscribeID(t, "rsid/#", sc.qos, sc.id)
			for _, p := range s.collect(t, 2, 5*time.Second) {
				if !p.Retain {
					t.Fatal("retained flag")
				}
				if sc.id == 0 {
					if !(p.Properties == nil || p.Properties.SubscriptionIdentifier == nil) {
						t.Fatal("no identifier")
					}
					continue
				}
				if !(p.Properties != nil && p.Properties.SubscriptionIdentifier != nil &&
					*p.Properties.SubscriptionIdentifier == sc.id) {
					t.Fatal("identifier of the SUBSCRIBE", p.Topic)
				}
			}
		})
	}
}

// TestInteropPahoV5SharedSubscriptionIDQoS0: a QoS 0 shared delivery
// carries the chosen member's own Subscription Identifier [MQTT-3.3.4-3].
func TestInteropPahoV5SharedSubscriptionIDQoS0(t *testing.T) {
	b := startBroker(t, nil)
	m1 := dialPahoV5(t, b, "ssid-1", nil)
	m1.subscribeID(t, "$share/g/ssid", 0, 11)
	m2 := dialPahoV5(t, b, "ssid-2", nil)
	m2.subscribeID(t, "$share/g/ssid", 0, 12)
	pub := dialPahoV5(t, b, "ssid-pub", nil)
	for range 4 {
		pub.publish(t, &paho.Publish{Topic: "ssid", Payload: []byte("m")})
	}
	for _, m := range []struct {
		c  *pahoV5
		id int
	}{{c: m1, id: 11}, {c: m2, id: 12}} {
		for _, p := range m.c.collect(t, 2, 5*time.Second) {
			if !(p.Properties != nil && p.Properties.SubscriptionIdentifier != nil &&
				*p.Properties.SubscriptionIdentifier == m.id) {
				t.Fatal("member's own identifier")
			}
		}
	}
}

// TestInteropPahoV5FeaturesUnavailable: with wildcard, shared and
// Subscription Identifier support switched off, MQTT 5 CONNACK says so
// (MQTT 5 3.2.2.3.11-13), a wildcard filter gets SUBACK 0xA2, a shared one
// 0x9E (3.1.1: 0x80 for both [MQTT-3.8.3-2] [MQTT-3.9.3-2]), a plain one is
// granted, and a SUBSCRIBE with a Subscription Identifier closes the
// connection with DISCONNECT 0xA1.
func TestInteropPahoV5FeaturesUnavailable(t *testing.T) {
	b := startBroker(t, func(c *Config) {
		c.WildcardSubAvailable = false
		c.SubIDAvailable = false
		c.SharedSubAvailable = false
	})
	pc := dialPahoV5(t, b, "fu-v5", nil)
	pr := pc.ack.Properties
	if !(pr != nil && !pr.WildcardSubAvailable && !pr.SharedSubAvailable && !pr.SubIDAvailable) {
		t.Fatal("CONNACK availability flags", pr)
	}
	// paho.golang itself refuses to send what CONNACK ruled out, so the
	// broker's side is checked with a raw v5 client.
	raw := dialRaw(t, b)
	raw.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("fu-raw"), CleanStart: true})
	sub := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("fu/+"), QoS: 1},
		{Filter: []byte("$share/g/fu"), QoS: 1}, {Filter: []byte("fu/#")}, {Filter: []byte("fu/a"), QoS: 1}}}
	raw.write(codec.AppendSubscribe(nil, codec.V5, &sub))
	var sa codec.Suback
	_, err := codec.DecodeSuback(raw.mustRead(codec.TypeSuback), codec.V5, &sa)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.ReasonCodes) != 4 {
		t.Fatalf("got %v, want %v", len(sa.ReasonCodes), 4)
	}
	if sa.ReasonCodes[0] != codec.ReasonWildcardSubscriptionsNotSupported {
		t.Fatalf("got %v, want %v", sa.ReasonCodes[0], codec.ReasonWildcardSubscriptionsNotSupported)
	}
	if sa.ReasonCodes[1] != codec.ReasonSharedSubscriptionsNotSupported {
		t.Fatalf("got %v, want %v", sa.ReasonCodes[1], codec.ReasonSharedSubscriptionsNotSupported)
	}
	if sa.ReasonCodes[2] != codec.ReasonWildcardSubscriptionsNotSupported {
		t.Fatalf("got %v, want %v", sa.ReasonCodes[2], codec.ReasonWildcardSubscriptionsNotSupported)
	}
	if sa.ReasonCodes[3] != codec.ReasonCode(1) {
		t.Fatalf("got %v, want %v", sa.ReasonCodes[3], codec.ReasonCode(1))
	}

	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("fu-v3"), CleanStart: true})
	for i, f := range []string{"fu/#", "$share/g/fu"} {
		ack := v3.subscribe(uint16(i+1), f, 1)
		if ack.ReasonCodes[0] != codec.ReasonCode(codec.SubackFailureV3) {
			t.Fatalf("%v: got %v, want %v", f, ack.ReasonCodes[0], codec.ReasonCode(codec.SubackFailureV3))
		}
	}
	if got := v3.subscribe(3, "fu/a", 1).ReasonCodes[0]; got != codec.ReasonCode(1) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(1))
	}

	raw = dialRaw(t, b)
	raw.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("fu-sid"), CleanStart: true})
	s := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("fu/a"), QoS: 1}}}
	s.Props.SubscriptionIDs = []uint32{3}
	raw.write(codec.AppendSubscribe(nil, codec.V5, &s))
	var d codec.Disconnect
	_, err = codec.DecodeDisconnect(raw.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		t.Fatal(err)
	}
	if d.ReasonCode != codec.ReasonSubscriptionIDsNotSupported {
		t.Fatalf("got %v, want %v", d.ReasonCode, codec.ReasonSubscriptionIDsNotSupported)
	}
	raw.expectClosed(5 * time.Second)

	// The defaults announce all three.
	b2 := startBroker(t, nil)
	pr = dialPahoV5(t, b2, "fu-default", nil).ack.Properties
	if !(pr.WildcardSubAvailable && pr.SharedSubAvailable && pr.SubIDAvailable) {
		t.Fatal("available by default")
	}
}

// pahoSCRAM is a paho.Auther answering the broker's AUTH 0x18 with the
// current SCRAM client's client-final-message.
type pahoSCRAM struct {
	mu  sync.Mutex
	sc  *authtest.SCRAMClient
	err error
}

func (a *pahoSCRAM) set(sc *authtest.SCRAMClient) {
	a.mu.Lock()
	a.sc, a.err = sc, nil
	a.mu.Unlock()
}

func (a *pahoSCRAM) Authenticate(in *paho.Auth) *paho.Auth {
	a.mu.Lock()
	defer a.mu.Unlock()
	var data []byte
	if in.Properties == nil || in.Properties.AuthMethod != auth.SCRAMSHA256 || in.ReasonCode != byte(codec.ReasonContinueAuthentication) {
		a.err = errors.New("unexpected AUTH from the broker") // [MQTT-4.12.0-2] [MQTT-4.12.0-5]
	} else {
		data, a.err = a.sc.Final(in.Properties.AuthData)
	}
	// [MQTT-4.12.0-3] the client's reply is 0x18 with the same method.
	return &paho.Auth{ReasonCode: byte(codec.ReasonContinueAuthentication),
		Properties: &paho.AuthProperties{AuthMethod: auth.SCRAMSHA256, AuthData: data}}
}

func (a *pahoSCRAM) Authenticated() {}

// dialPahoSCRAM connects a paho.golang client with SCRAM-SHA-256 as user
// and pass; it returns the CONNACK and the Connect error.
func dialPahoSCRAM(t *testing.T, b *Broker, id, user, pass string) (*paho.Client, *paho.Connack, *pahoSCRAM, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	a := &pahoSCRAM{}
	sc := &authtest.SCRAMClient{User: user, Pass: pass, Nonce: "paho-" + id}
	a.set(sc)
	c := paho.NewClient(paho.ClientConfig{Conn: nc, AuthHandler: a, OnClientError: func(error) {},
		OnServerDisconnect: func(*paho.Disconnect) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{AuthMethod: auth.SCRAMSHA256, AuthData: sc.First()}})
	if err == nil {
		// [MQTT-4.12.0-5] the CONNACK repeats the method, with server-final.
		if ack.Properties.AuthMethod != auth.SCRAMSHA256 {
			t.Fatalf("got %v, want %v", ack.Properties.AuthMethod, auth.SCRAMSHA256)
		}
		if !sc.Verify(ack.Properties.AuthData) {
			t.Fatal("server-final does not prove the server knows the key")
		}
		t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	}
	return c, ack, a, err
}

// reauth re-authenticates c as user/pass and returns the response.
func reauth(t *testing.T, c *paho.Client, a *pahoSCRAM, user, pass string) (*paho.AuthResponse, *authtest.SCRAMClient) {
	t.Helper()
	sc := &authtest.SCRAMClient{User: user, Pass: pass, Nonce: "re-" + user + pass}
	a.set(sc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Authenticate(ctx, &paho.Auth{ReasonCode: byte(codec.ReasonReAuthenticate),
		Properties: &paho.AuthProperties{AuthMethod: auth.SCRAMSHA256, AuthData: sc.First()}}) // [MQTT-4.12.1-1]
	if err != nil {
		t.Fatal(err, "re-authentication")
	}
	return resp, sc
}

// TestInteropPahoV5SCRAM: a full SCRAM-SHA-256 login through paho.golang's
// Auther, a wrong password, and re-authentication (MQTT 5 4.12, 4.12.1)
// that succeeds, fails on a wrong password and fails for another user.
func TestInteropPahoV5SCRAM(t *testing.T) {
	b := startAuthBroker(t, nil)

	c, _, a, err := dialPahoSCRAM(t, b, "scram-ok", "alice", "s3cret")
	if err != nil {
		t.Fatal(err, "SCRAM login")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Publish(ctx, &paho.Publish{Topic: "auth/t", QoS: 1, Payload: []byte("x")})
	if err != nil {
		t.Fatal(err, "publish after SCRAM login")
	}

	// paho's AuthResponse drops the AUTH's data: TestAuthRawReauth checks
	// the server-final of a re-authentication.
	resp, _ := reauth(t, c, a, "alice", "s3cret")
	if !resp.Success {
		t.Fatal("re-authentication refused", resp.ReasonCode)
	}
	if resp.ReasonCode != byte(codec.ReasonSuccess) {
		t.Fatalf("got %v, want %v", resp.ReasonCode, byte(codec.ReasonSuccess))
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	_, err = c.Publish(ctx, &paho.Publish{Topic: "auth/t", QoS: 1, Payload: []byte("y")})
	if err != nil {
		t.Fatal(err, "publish after re-authentication")
	}

	// Wrong password at CONNECT: CONNACK 0x86 [MQTT-4.12.0-4].
	_, ack, _, err := dialPahoSCRAM(t, b, "scram-bad", "alice", "wrong")
	if !(err != nil && ack != nil) {
		t.Fatal("wrong password accepted or no CONNACK", err)
	}
	if ack.ReasonCode != byte(codec.ReasonBadUsernameOrPassword) {
		t.Fatalf("got %v, want %v", ack.ReasonCode, byte(codec.ReasonBadUsernameOrPassword))
	}
	if ack.Properties.ReasonString != "bad user name or password" {
		t.Fatalf("got %v, want %v", ack.Properties.ReasonString, "bad user name or password")
	}
	_, ack, _, err = dialPahoSCRAM(t, b, "scram-ghost", "ghost", "x")
	if !(err != nil && ack != nil) {
		t.Fatal("unknown user accepted", err)
	}
	if ack.ReasonCode != byte(codec.ReasonBadUsernameOrPassword) {
		t.Fatalf("got %v, want %v", ack.ReasonCode, byte(codec.ReasonBadUsernameOrPassword))
	}

	// Re-authentication failures: DISCONNECT with the reason, then close
	// [MQTT-4.12.1-2].
	for _, tc := range []struct {
		user, pass string
		want       codec.ReasonCode
	}{
		{"alice", "wrong", codec.ReasonBadUsernameOrPassword},
		{"bob", "hunter2", codec.ReasonNotAuthorized}, // valid, but not who connected
	} {
		c, _, a, err := dialPahoSCRAM(t, b, "scram-re-"+tc.user, "alice", "s3cret")
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := reauth(t, c, a, tc.user, tc.pass)
		if resp.Success {
			t.Fatal("re-authentication as", tc.user, "accepted")
		}
		if resp.ReasonCode != byte(tc.want) {
			t.Fatalf("%v: got %v, want %v", tc.user, resp.ReasonCode, byte(tc.want))
		}
	}
	waitConnected(t, b, 1) // only the first client is left
}
