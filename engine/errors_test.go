package engine

import (
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

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
			if !ok {
				t.Fatal("DISCONNECT reason", d.ReasonCode, "want one of", tc.want)
			}
			if d.Props.Has(codec.PropSessionExpiry) {
				t.Fatal("server DISCONNECT with a Session Expiry Interval")
			}
			r.expectEOF(3 * time.Second)
		})
	}
	dialV5(t, b, "v5-raw-more-ok", nil) // the broker still serves others
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
		if err != nil {
			t.Fatal(err, tc.name)
		}
		if tc.want != 0 {
			if d.ReasonCode != tc.want {
				t.Fatalf("%v: got %v, want %v", tc.name, d.ReasonCode, tc.want)
			}
		} else {
			if !(d.ReasonCode == codec.ReasonMalformedPacket || d.ReasonCode == codec.ReasonProtocolError) {
				t.Fatal(tc.name, "reason", d.ReasonCode)
			}
		}
		r.expectClosed(3 * time.Second)
	}
	ok := dialRaw(t, b) // the broker still serves others
	if got := ok.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("v5-raw-ok"), CleanStart: true}).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", got, codec.ReasonSuccess)
	}
}
