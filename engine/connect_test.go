package engine

import (
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

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
	if err != nil {
		t.Fatal(err)
	}
	if ack.ReasonCode != codec.ReasonRetainNotSupported {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonRetainNotSupported)
	}
	r.expectClosed(3 * time.Second)
	if p, err := watch.read(300 * time.Millisecond); err == nil {
		t.Fatalf("data after a refused CONNECT was processed: %x", p)
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
				if !(isReset(err) || err.Error() == "EOF") {
					t.Fatal("connection not closed:", err)
				}
				return
			}
			if codec.Type(pkt[0]>>4) != codec.TypeConnack {
				t.Fatalf("the answer to a bad CONNECT: got %v, want %v", codec.Type(pkt[0]>>4), codec.TypeConnack)
			}
			var ack codec.Connack
			_, err = codec.DecodeConnack(pkt, codec.V5, &ack)
			if err != nil {
				t.Fatal(err)
			}
			if ack.ReasonCode < 0x80 {
				t.Fatal("CONNACK", ack.ReasonCode, "to a bad CONNECT")
			}
			r.expectClosed(3 * time.Second)
		})
	}
	dialV5(t, b, "abcXYZ0123456789abcdefg", nil)
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
		if codec.Type(pkt[0]>>4) != codec.TypeConnack {
			t.Fatalf("the answer to a too-large CONNECT: got %v, want %v", codec.Type(pkt[0]>>4), codec.TypeConnack)
		}
		var ack codec.Connack
		_, err := codec.DecodeConnack(pkt, codec.V5, &ack)
		if err != nil {
			t.Fatal(err)
		}
		if ack.ReasonCode != codec.ReasonPacketTooLarge {
			t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonPacketTooLarge)
		}
		r.expectClosed(3 * time.Second)
	} else {
		if !(isReset(err) || err.Error() == "EOF") {
			t.Fatal("connection not closed:", err)
		}
	}
	dialV5(t, b, "v5-small", nil)
}

// TestMQTT31NoSessionPresent: a resumed MQTT 3.1 session gets a CONNACK
// whose first byte, reserved in 3.1, is 0 (MQTT.js with protocolVersion 3
// showed the broker setting Session Present there).
func TestMQTT31NoSessionPresent(t *testing.T) {
	b := startBroker(t, nil)
	for i := range 2 {
		r := dialRaw(t, b)
		ack := r.connect(&codec.Connect{Version: codec.V31, ClientID: []byte("v31-sp"), KeepAlive: 30})
		if byte(ack.ReasonCode) != codec.ConnackAccepted {
			t.Fatalf("got %v, want %v", byte(ack.ReasonCode), codec.ConnackAccepted)
		}
		if ack.SessionPresent {
			t.Fatal("connect", i, "3.1 CONNACK byte 1 is not 0")
		}
		r.write(codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
		r.expectClosed(3 * time.Second)
	}
}

// TestZeroLengthClientID assigns an id with clean session 1
// [MQTT-3.1.3-6] and two such clients do not take each other over.
func TestZeroLengthClientID(t *testing.T) {
	b := startBroker(t, nil)
	r1 := dialRaw(t, b)
	if got := r1.connect(&codec.Connect{CleanStart: true}).ReasonCode; got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	r2 := dialRaw(t, b)
	if got := r2.connect(&codec.Connect{CleanStart: true}).ReasonCode; got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	r1.write(codec.AppendPingreq(nil))
	r1.mustRead(codec.TypePingresp)
	if got := b.connected.Load(); got != int64(2) {
		t.Fatalf("got %v, want %v", got, int64(2))
	}
}

// TestKeepAliveBounds holds a client asking for keep alive 0 to
// KeepAliveMax: silent past 1.5x of it, it is disconnected.
func TestKeepAliveBounds(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.KeepAliveMax = time.Second })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("ka0"), CleanStart: true, KeepAlive: 0})
	r.expectClosed(5 * time.Second)
}
