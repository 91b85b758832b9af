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

// TestZeroLengthClientID assigns an id with clean session 1
// [MQTT-3.1.3-6] and two such clients do not take each other over.
func TestZeroLengthClientID(t *testing.T) {
	b := startBroker(t, nil)
	r1 := dialRaw(t, b)
	equal(t, r1.connect(&codec.Connect{CleanStart: true}).ReasonCode, codec.ReasonCode(0))
	r2 := dialRaw(t, b)
	equal(t, r2.connect(&codec.Connect{CleanStart: true}).ReasonCode, codec.ReasonCode(0))
	r1.write(codec.AppendPingreq(nil))
	r1.mustRead(codec.TypePingresp)
	equal(t, b.connected.Load(), int64(2))
}

// TestShutdownPublishesWills checks graceful shutdown closes every client
// and publishes wills (a server-side close is not a DISCONNECT).
func TestShutdownPublishesWills(t *testing.T) {
	b := startBroker(t, nil)
	watchers := make([]*rawConn, 2) // on both loops
	for i := range watchers {
		watchers[i] = dialRaw(t, b)
		watchers[i].connect(&codec.Connect{ClientID: []byte(fmt.Sprint("sdw", i)), CleanStart: true})
		watchers[i].subscribe(1, "sd/#", 0)
	}
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("sd"), CleanStart: true, WillFlag: true, WillRetain: true,
		WillTopic: []byte("sd/will"), WillPayload: []byte("x")})
	noErr(t, b.Shutdown(t.Context()))
	r.expectClosed(3 * time.Second)
	for _, w := range watchers {
		p := decodePublish(t, w.mustRead(codec.TypePublish))
		equal(t, string(p.Topic), "sd/will")
		w.expectClosed(3 * time.Second)
	}
	_, ok := b.retained.Get("sd/will")
	check(t, ok, "retained will stored at shutdown")
}

// TestSharedSubscription delivers each message to exactly one member of a
// $share group [MQTT-4.8.2-3] while plain subscribers get all of them.
func TestSharedSubscription(t *testing.T) {
	b := startBroker(t, nil)
	members := make([]*rawConn, 3)
	for i := range members {
		members[i] = dialRaw(t, b)
		members[i].connect(&codec.Connect{ClientID: []byte(fmt.Sprint("m", i)), CleanStart: true})
		members[i].subscribe(1, "$share/g/s/+", 0)
	}
	plain := dialRaw(t, b)
	plain.connect(&codec.Connect{ClientID: []byte("plain"), CleanStart: true})
	plain.subscribe(1, "s/+", 0)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("spub"), CleanStart: true})
	const n = 30
	for i := 0; i < n; i++ {
		pub.publish(&codec.Publish{Topic: []byte("s/x"), Payload: []byte(fmt.Sprint(i))})
	}
	for i := 0; i < n; i++ {
		plain.mustRead(codec.TypePublish)
	}
	total := 0
	for _, m := range members {
		for {
			if _, err := m.read(300 * time.Millisecond); err != nil {
				break
			}
			total++
		}
	}
	equal(t, total, n, "each message to one member")
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

// TestMaxConnections closes connections past the limit.
func TestMaxConnections(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxConnections = 2 })
	for i := 0; i < 2; i++ {
		dialRaw(t, b).connect(&codec.Connect{ClientID: []byte(fmt.Sprint("mc", i)), CleanStart: true})
	}
	r := dialRaw(t, b)
	r.write(connectBytes("mc2", 0))
	r.expectClosed(3 * time.Second)
}

// TestKeepAliveBounds holds a client asking for keep alive 0 to
// KeepAliveMax: silent past 1.5x of it, it is disconnected.
func TestKeepAliveBounds(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.KeepAliveMax = time.Second })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("ka0"), CleanStart: true, KeepAlive: 0})
	r.expectClosed(5 * time.Second)
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
