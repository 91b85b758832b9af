package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/gust-mqtt/gust/codec"
)

// Gap-filling paho.golang tests for issue 5 (engine/V5-COVERAGE.md lists
// which feature each test proves).

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
	noErr(t, err, "paho subscribe")
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
		equal(t, sub.subscribeOpts(t, paho.SubscribeOptions{Topic: "rh/#", QoS: 1, RetainHandling: rh})[0], byte(1))
	}
	gotRetained := func(why string) {
		t.Helper()
		p := sub.next(t, 5*time.Second)
		equal(t, string(p.Payload), "kept", why)
		check(t, p.Retain, "RETAIN 0 on a retained message:", why)
	}
	unsub := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := sub.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"rh/#"}})
		noErr(t, err)
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
	equal(t, string(p.Payload), "live", "live messages flow with retain handling 2")

	// An empty retained payload clears it and is not stored [MQTT-3.3.1-7].
	pub.publish(t, &paho.Publish{Topic: "rh/x", QoS: 1, Retain: true})
	equal(t, len(sub.next(t, 5*time.Second).Payload), 0, "the clearing message is delivered live")
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
		noErr(t, err)
	}
	pub := dialPahoV5(t, b, "v5-ov-pub", nil)
	for _, qos := range []byte{1, 2} {
		pub.publish(t, &paho.Publish{Topic: "ov/x", QoS: qos, Payload: []byte("m")})
		p := sub.next(t, 5*time.Second)
		equal(t, p.QoS, qos, "delivered QoS")
		check(t, p.Properties != nil, "no properties")
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
	noErr(t, err)
	equal(t, rp.QoS, byte(1))
	equal(t, len(rp.Props.SubscriptionIDs), 2, "identifiers", rp.Props.SubscriptionIDs)
	check(t, rp.Props.SubscriptionIDs[0]+rp.Props.SubscriptionIDs[1] == 3, "identifiers", rp.Props.SubscriptionIDs)
}

// TestInteropPahoV5NoLocal: a subscription with No Local never gets the
// subscriber's own messages [MQTT-3.8.3-3], but gets everyone else's; the
// same client without No Local gets its own.
func TestInteropPahoV5NoLocal(t *testing.T) {
	b := startBroker(t, nil)
	self := dialPahoV5(t, b, "v5-nl-self", nil)
	equal(t, self.subscribeOpts(t, paho.SubscribeOptions{Topic: "nl/#", QoS: 1, NoLocal: true})[0], byte(1))
	other := dialPahoV5(t, b, "v5-nl-other", nil)
	for _, qos := range []byte{0, 1} {
		self.publish(t, &paho.Publish{Topic: "nl/own", QoS: qos, Payload: []byte("own")})
		other.publish(t, &paho.Publish{Topic: "nl/theirs", QoS: qos, Payload: []byte("theirs")})
		p := self.next(t, 5*time.Second)
		equal(t, p.Topic, "nl/theirs", "No Local delivered the client's own message, qos", qos)
	}
	self.quiet(t, 300*time.Millisecond, "No Local delivered the client's own message:")
	equal(t, self.subscribeOpts(t, paho.SubscribeOptions{Topic: "nl/#", QoS: 1})[0], byte(1)) // replaced, No Local 0
	self.publish(t, &paho.Publish{Topic: "nl/own", QoS: 1, Payload: []byte("own")})
	equal(t, self.next(t, 5*time.Second).Topic, "nl/own", "without No Local a client gets its own message")
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
	noErr(t, err)
	equal(t, len(ua.Reasons), 3)
	equal(t, ua.Reasons[0], byte(codec.ReasonSuccess))
	equal(t, ua.Reasons[1], byte(codec.ReasonNoSubscriptionExisted))
	equal(t, ua.Reasons[2], byte(codec.ReasonSuccess))

	// Raw, to see the packet identifier.
	r := dialRaw(t, b)
	r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-unsub-raw"), CleanStart: true})
	r.write(codec.AppendUnsubscribe(nil, codec.V5, &codec.Unsubscribe{PacketID: 4242, Filters: [][]byte{[]byte("none")}}))
	var u codec.Unsuback
	_, err = codec.DecodeUnsuback(r.mustRead(codec.TypeUnsuback), codec.V5, &u)
	noErr(t, err)
	equal(t, u.PacketID, uint16(4242))
	equal(t, len(u.ReasonCodes), 1)
	equal(t, u.ReasonCodes[0], codec.ReasonNoSubscriptionExisted)
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
		noErr(t, err)
		t.Cleanup(func() { _ = nc.Close() })
		c := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = c.Connect(ctx, &paho.Connect{ClientID: "v5-dw-" + tc.id, CleanStart: true, KeepAlive: 30,
			WillMessage:    &paho.WillMessage{Topic: "dw/" + tc.id, QoS: 1, Payload: []byte("bye")},
			WillProperties: &paho.WillProperties{User: paho.UserProperties{{Key: "why", Value: tc.id}, {Key: "a", Value: "1"}, {Key: "why", Value: "2"}}}})
		cancel()
		noErr(t, err)
		noErr(t, c.Disconnect(&paho.Disconnect{ReasonCode: tc.reason}))
		if !tc.will {
			watch.quiet(t, 500*time.Millisecond, "will published after DISCONNECT 0x00:")
			continue
		}
		p := watch.next(t, 5*time.Second)
		equal(t, p.Topic, "dw/"+tc.id)
		equal(t, string(p.Payload), "bye")
		check(t, p.Properties != nil && len(p.Properties.User) == 3, "will user properties", p.Properties)
		for i, want := range []paho.UserProperty{{Key: "why", Value: tc.id}, {Key: "a", Value: "1"}, {Key: "why", Value: "2"}} {
			equal(t, p.Properties.User[i], want, "will user property order")
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
		check(t, pc.ack.Properties != nil && pc.ack.Properties.AssignedClientID != "", "no Assigned Client Identifier")
		equal(t, pc.ack.Properties.ResponseInfo, "", "Response Information without a request")
		check(t, pc.ack.Properties.AuthMethod == "", "Authentication Method without one in CONNECT [MQTT-4.12.0-6]")
	}
	check(t, a.ack.Properties.AssignedClientID != c.ack.Properties.AssignedClientID, "the same identifier assigned twice")
	// Both stay connected (neither took the other over) and work.
	a.subscribe(t, "aci/#", 0)
	c.publish(t, &paho.Publish{Topic: "aci/x", Payload: []byte("hi")})
	equal(t, string(a.next(t, 5*time.Second).Payload), "hi")
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
	check(t, pc.ack.Properties.ServerKeepAlive != nil && *pc.ack.Properties.ServerKeepAlive == 1,
		"server keep alive", pc.ack.Properties.ServerKeepAlive)

	r := dialRaw(t, b)
	ack := r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-ska-raw"), CleanStart: true, KeepAlive: 60})
	check(t, ack.Props.Has(codec.PropServerKeepAlive) && ack.Props.ServerKeepAlive == 1, "raw server keep alive")
	start := time.Now()
	for range 4 { // 1.8 s of pings: alive past 1.5 s
		time.Sleep(450 * time.Millisecond)
		r.write(codec.AppendPingreq(nil))
		r.mustRead(codec.TypePingresp)
	}
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonKeepAliveTimeout)
	check(t, !d.Props.Has(codec.PropSessionExpiry), "server DISCONNECT with a Session Expiry Interval")
	check(t, time.Since(start) >= 2*time.Second, "closed before 1.5x the server keep alive after the last ping")
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
		noErr(t, err)
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
		noErr(t, err)
		_, err = c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "rmack", QoS: qos}}})
		noErr(t, err)
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
				equal(t, string(p.Payload), string(rune('0'+len(held))), "order")
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
			noErr(t, c.Ack(held[i]))
			take()
		}
		for _, p := range held[n-3:] {
			noErr(t, c.Ack(p))
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
	equal(t, ack.ReasonCode, codec.ReasonRetainNotSupported)
	r.expectClosed(3 * time.Second)

	// paho.golang refuses to send RETAIN to such a server: raw bytes.
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-rna-pub"), CleanStart: true})
	pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("rna/x"), Retain: true, Payload: []byte("r")}))
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(pub.mustRead(codec.TypeDisconnect), codec.V5, &d)
	noErr(t, err)
	equal(t, d.ReasonCode, codec.ReasonRetainNotSupported)
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
	noErr(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	wc := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = wc.Connect(ctx, &paho.Connect{ClientID: "v5-wdp", CleanStart: true, KeepAlive: 30,
		Properties:     &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(1))},
		WillMessage:    &paho.WillMessage{Topic: "wdp/gone", Payload: []byte("gone")},
		WillProperties: &paho.WillProperties{WillDelayInterval: ptr(uint32(60))}})
	noErr(t, err)
	start := time.Now()
	_ = nc.Close()
	p := watch.next(t, 5*time.Second)
	equal(t, p.Topic, "wdp/gone")
	check(t, time.Since(start) >= 900*time.Millisecond, "will published before the session ended:", time.Since(start))
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
	equal(t, v5n+col.count(), n, "messages at the group")
	equal(t, len(seen), n, "distinct messages at the group")
	for i, k := range seen {
		equal(t, k, 1, "deliveries of message", i)
	}
	check(t, v5n > 0 && col.count() > 0, "one member got nothing: v5", v5n, "v3", col.count())
}
