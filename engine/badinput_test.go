package engine

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestBadInputClosesOnlyThatConnection sends each kind of bad input on its
// own connection and checks that connection is closed (with a CONNACK code
// where one exists) while a healthy client keeps working.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	b := startBroker(t, func(c *Config) {
		c.ConnectTimeout = time.Second
		c.MaxPacketSize = 1024
	})
	healthy := dialRaw(t, b)
	healthy.connect(&codec.Connect{ClientID: []byte("healthy"), CleanStart: true})
	healthy.subscribe(1, "ok", 0)

	pubOK := func() {
		pubOK := &codec.Publish{Topic: []byte("ok"), Payload: []byte("still here")}
		healthy.publish(pubOK)
		p := decodePublish(t, healthy.mustRead(codec.TypePublish))
		if string(p.Payload) != "still here" {
			t.Fatalf("got %v, want %v", string(p.Payload), "still here")
		}
	}
	connected := func(id string) []byte { return connectBytes(id, 0) }
	cases := []struct {
		name    string
		send    []byte
		connack int // expected CONNACK code, -1 for none
		wait    time.Duration
	}{
		{name: "garbage [MQTT-2.2.2-2]", send: []byte{0x00, 0x05, 1, 2, 3, 4, 5}, connack: -1},
		{name: "garbage high type", send: []byte{0xF3, 0x00}, connack: -1},
		{name: "publish before connect [MQTT-3.1.0-1]", send: codec.AppendPublish(nil, codec.V311,
			&codec.Publish{Topic: []byte("ok"), Payload: []byte("x")}), connack: -1},
		{name: "remaining length over maximum [MQTT-1.5.5-1]", send: []byte{0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, connack: -1},
		{name: "packet over max packet size", send: append(connected("big"), 0x30, 0xFF, 0x7F), connack: 0},
		{name: "half packet then silence", send: connected("half")[:7], connack: -1, wait: 4 * time.Second},
		{name: "reserved flags on SUBSCRIBE [MQTT-3.8.1-1]", send: append(connected("rf"),
			0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00), connack: 0},
		{name: "reserved CONNECT flag [MQTT-3.1.2-3]", send: func() []byte {
			p := connected("rcf")
			p[9] |= 0x01
			return p
		}(), connack: -1},
		{name: "wildcard in topic name [MQTT-3.3.2-2]", send: append(connected("wc"), codec.AppendPublish(nil, codec.V311,
			&codec.Publish{Topic: []byte("a/+"), Payload: []byte("x")})...), connack: 0},
		{name: "invalid UTF-8 topic [MQTT-1.5.3-1]", send: append(connected("utf"), codec.AppendPublish(nil, codec.V311,
			&codec.Publish{Topic: []byte{'a', 0xC0, 0xAF}, Payload: []byte("x")})...), connack: 0},
		{name: "QoS 3 [MQTT-3.3.1-4]", send: append(connected("q3"), 0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01), connack: 0},
		{name: "second CONNECT [MQTT-3.1.0-2]", send: append(connected("twice"), connected("twice")...), connack: 0},
		{name: "unsupported protocol level [MQTT-3.1.2-2]", send: func() []byte {
			p := connected("lvl")
			p[8] = 9
			return p
		}(), connack: int(codec.ConnackUnacceptableProtocol)},
		{name: "empty id with clean session 0 [MQTT-3.1.3-8]", send: codec.AppendConnect(nil, &codec.Connect{
			ProtocolName: []byte("MQTT"), Version: codec.V311}), connack: int(codec.ConnackIdentifierRejected)},
		{name: "client sends CONNACK", send: append(connected("ca"), 0x20, 0x02, 0x00, 0x00), connack: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, b)
			r.write(tc.send)
			if tc.connack >= 0 {
				pkt := r.mustRead(codec.TypeConnack)
				if int(pkt[3]) != tc.connack {
					t.Fatalf("CONNACK code: got %v, want %v", int(pkt[3]), tc.connack)
				}
			}
			wait := tc.wait
			if wait == 0 {
				wait = 3 * time.Second
			}
			r.expectClosed(wait)
			pubOK()
		})
	}
}

// TestBadFilterGetsFailureCode answers an invalid filter with 0x80 and
// keeps the connection [MQTT-3.8.4-5] [MQTT-3.9.3-2].
func TestBadFilterGetsFailureCode(t *testing.T) {
	b := startBroker(t, nil)
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("bf"), CleanStart: true})
	r.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 3, Filters: []codec.Subscription{
		{Filter: []byte("a/#/b"), QoS: 1}, {Filter: []byte("a/b+"), QoS: 0}, {Filter: []byte("ok/+"), QoS: 2},
		{Filter: []byte("$share/g/x"), QoS: 1}}}))
	var ack codec.Suback
	_, err := codec.DecodeSuback(r.mustRead(codec.TypeSuback), codec.V311, &ack)
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.ReasonCodes) != 4 {
		t.Fatalf("got %v, want %v", len(ack.ReasonCodes), 4)
	}
	if ack.ReasonCodes[0] != codec.ReasonCode(0x80) {
		t.Fatalf("got %v, want %v", ack.ReasonCodes[0], codec.ReasonCode(0x80))
	}
	if ack.ReasonCodes[1] != codec.ReasonCode(0x80) {
		t.Fatalf("got %v, want %v", ack.ReasonCodes[1], codec.ReasonCode(0x80))
	}
	if ack.ReasonCodes[2] != codec.ReasonCode(2) {
		t.Fatalf("got %v, want %v", ack.ReasonCodes[2], codec.ReasonCode(2))
	}
	if ack.ReasonCodes[3] != codec.ReasonCode(1) {
		t.Fatalf("got %v, want %v", ack.ReasonCodes[3], codec.ReasonCode(1))
	}
	r.write(codec.AppendPingreq(nil))
	r.mustRead(codec.TypePingresp)
}

type testAuth struct{}

func (testAuth) Authenticate(info *ConnectInfo) error {
	switch string(info.Username) {
	case "good":
		return nil
	case "banned":
		return ErrNotAuthorized
	}
	return ErrBadCredentials
}

// TestAuthenticatorCodes checks CONNACK 0x04 and 0x05 from the hook and
// from AllowAnonymous=false.
func TestAuthenticatorCodes(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.Authenticator = testAuth{}; c.AllowAnonymous = false })
	for _, tc := range []struct {
		user string
		flag bool
		want byte
	}{
		{user: "good", flag: true, want: codec.ConnackAccepted},
		{user: "bad", flag: true, want: codec.ConnackBadUsernameOrPassword},
		{user: "banned", flag: true, want: codec.ConnackNotAuthorized},
		{user: "", flag: false, want: codec.ConnackNotAuthorized},
	} {
		r := dialRaw(t, b)
		ack := r.connect(&codec.Connect{ClientID: []byte("au"), CleanStart: true, UsernameFlag: tc.flag, Username: []byte(tc.user)})
		if byte(ack.ReasonCode) != tc.want {
			t.Fatalf("%v: got %v, want %v", tc.user, byte(ack.ReasonCode), tc.want)
		}
		if ack.SessionPresent {
			t.Fatal("[MQTT-3.2.2-4]")
		}
		if tc.want != 0 {
			r.expectClosed(3 * time.Second) // [MQTT-3.2.2-5]
		}
	}
}

// TestRandomInputNoPanic feeds random bytes, and random mutations of valid
// packets, after a valid CONNECT on many connections; the broker must
// survive and keep serving.
func TestRandomInputNoPanic(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.ConnectTimeout = time.Second })
	rng := rand.New(rand.NewPCG(1, 2))
	valid := [][]byte{
		codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/b"), QoS: 1, PacketID: 1, Payload: []byte("x")}),
		codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 2, Filters: []codec.Subscription{{Filter: []byte("a/#"), QoS: 2}}}),
		codec.AppendUnsubscribe(nil, codec.V311, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{[]byte("a/#")}}),
		codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePubrel, PacketID: 1}),
		codec.AppendPingreq(nil),
	}
	for i := 0; i < 200; i++ {
		nc, err := net.Dial("tcp", b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		buf := connectBytes(fmt.Sprint("rnd", i), 0)
		for j := 0; j < 8; j++ {
			p := append([]byte(nil), valid[rng.IntN(len(valid))]...)
			if rng.IntN(2) == 0 {
				p[rng.IntN(len(p))] ^= byte(1 + rng.IntN(255))
			}
			buf = append(buf, p...)
		}
		junk := make([]byte, rng.IntN(64))
		for k := range junk {
			junk[k] = byte(rng.UintN(256))
		}
		buf = append(buf, junk...)
		_, _ = nc.Write(buf)
		_ = nc.Close()
	}
	ok := dialRaw(t, b)
	ok.connect(&codec.Connect{ClientID: []byte("after"), CleanStart: true})
	ok.write(codec.AppendPingreq(nil))
	ok.mustRead(codec.TypePingresp)
}
