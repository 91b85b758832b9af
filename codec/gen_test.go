package codec

import (
	"math/rand"
	"testing"
)

// gen generates random valid packets for property-based tests.
type gen struct {
	r *rand.Rand
	// oneSubID limits PUBLISH to one Subscription Identifier (paho.golang
	// models a single one).
	oneSubID bool
	// noEmptyTopic avoids the 5.0 empty topic + alias form.
	noEmptyTopic bool
	// noEmptyProps makes string and binary properties non-empty (paho.golang
	// treats "" as absent).
	noEmptyProps bool
}

func newGen(seed int64) *gen { return &gen{r: rand.New(rand.NewSource(seed))} }

var genRunes = []rune("abcxyzABC019/ -_.é日本😀\ufeff$")

// str returns a valid UTF-8 string of rune length in [lo, hi].
func (g *gen) str(lo, hi int) []byte {
	n := lo + g.r.Intn(hi-lo+1)
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, string(genRunes[g.r.Intn(len(genRunes))])...)
	}
	return b
}

func (g *gen) bin(hi int) []byte {
	b := make([]byte, g.r.Intn(hi+1))
	g.r.Read(b)
	return b
}

func (g *gen) topic() []byte { return g.str(1, 12) }

// filter returns a valid topic filter, wildcards included.
func (g *gen) filter() []byte {
	switch g.r.Intn(5) {
	case 0:
		return []byte("#")
	case 1:
		return append(g.str(1, 6), "/+/x/#"...)
	}
	return g.topic()
}

func (g *gen) coin() bool { return g.r.Intn(2) == 0 }

func (g *gen) bool01() byte { return byte(g.r.Intn(2)) }

// props returns random valid properties among allowed (Present bits).
func (g *gen) props(allowed uint64, subIDs int) Properties {
	var p Properties
	if g.r.Intn(4) == 0 {
		return p
	}
	for id := PropID(1); id <= PropSharedSubAvailable; id++ {
		if allowed&bit(id) == 0 || id == PropUserProperty || id == PropSubscriptionID || g.r.Intn(3) != 0 {
			continue
		}
		g.setProp(&p, id)
	}
	if allowed&bit(PropSubscriptionID) != 0 {
		for n := g.r.Intn(subIDs + 1); n > 0; n-- {
			p.SubscriptionIDs = append(p.SubscriptionIDs, uint32(1+g.r.Intn(MaxRemainingLength)))
		}
	}
	for n := g.r.Intn(3); n > 0; n-- {
		p.User = append(p.User, UserProperty{Key: g.str(0, 5), Value: g.str(0, 8)})
	}
	return p
}

func (g *gen) setProp(p *Properties, id PropID) {
	p.Set(id)
	switch id {
	case PropPayloadFormat:
		p.PayloadFormat = g.bool01()
	case PropRequestProblemInfo:
		p.RequestProblemInfo = g.bool01()
	case PropRequestResponseInfo:
		p.RequestResponseInfo = g.bool01()
	case PropMaximumQoS:
		p.MaximumQoS = g.bool01()
	case PropRetainAvailable:
		p.RetainAvailable = g.bool01()
	case PropWildcardSubAvailable:
		p.WildcardSubAvailable = g.bool01()
	case PropSubIDAvailable:
		p.SubIDAvailable = g.bool01()
	case PropSharedSubAvailable:
		p.SharedSubAvailable = g.bool01()
	case PropMessageExpiry:
		p.MessageExpiry = g.r.Uint32()
	case PropSessionExpiry:
		p.SessionExpiry = g.r.Uint32()
	case PropWillDelay:
		p.WillDelay = g.r.Uint32()
	case PropMaximumPacketSize:
		p.MaximumPacketSize = 1 + g.r.Uint32()%0xFFFFFFFE
	case PropServerKeepAlive:
		p.ServerKeepAlive = uint16(g.r.Intn(65536))
	case PropReceiveMaximum:
		p.ReceiveMaximum = uint16(1 + g.r.Intn(65535))
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = uint16(g.r.Intn(65536))
	case PropTopicAlias:
		p.TopicAlias = uint16(1 + g.r.Intn(65535))
	case PropCorrelationData, PropAuthData:
		b := g.bin(8)
		if g.noEmptyProps && len(b) == 0 {
			b = []byte{0}
		}
		*bytesField(p, id) = b
	case PropResponseTopic:
		*bytesField(p, id) = g.topic()
	default:
		lo := 0
		if g.noEmptyProps {
			lo = 1
		}
		*bytesField(p, id) = g.str(lo, 8)
	}
}

func (g *gen) pid() uint16 { return uint16(1 + g.r.Intn(65535)) }

func (g *gen) reason(set *reasonSet) ReasonCode {
	for {
		if rc := ReasonCode(g.r.Intn(256)); set.has(rc) {
			return rc
		}
	}
}

func (g *gen) connect(v Version) *Connect {
	p := &Connect{Version: v, CleanStart: g.coin(), KeepAlive: uint16(g.r.Intn(65536)), ClientID: g.str(0, 10)}
	p.ProtocolName = []byte("MQTT")
	if v == V31 {
		p.ProtocolName = []byte("MQIsdp")
	}
	if v != V5 && len(p.ClientID) == 0 {
		p.CleanStart = true
	}
	if v == V5 {
		p.Props = g.props(propsConnect, 0)
		if p.Props.Has(PropAuthData) && !p.Props.Has(PropAuthMethod) {
			p.Props.Clear(PropAuthData)
			p.Props.AuthData = nil
		}
	}
	if g.coin() {
		p.WillFlag, p.WillQoS, p.WillRetain = true, byte(g.r.Intn(3)), g.coin()
		p.WillTopic, p.WillPayload = g.topic(), g.bin(10)
		if v == V5 {
			p.WillProps = g.props(propsWill, 0)
		}
	}
	p.UsernameFlag = g.coin()
	if p.UsernameFlag {
		p.Username = g.str(0, 8)
	}
	p.PasswordFlag = g.coin() && (p.UsernameFlag || v == V5)
	if p.PasswordFlag {
		p.Password = g.bin(8)
	}
	return p
}

func (g *gen) publish(v Version) *Publish {
	p := &Publish{QoS: byte(g.r.Intn(3)), Retain: g.coin(), Topic: g.topic(), Payload: g.bin(40)}
	if p.QoS > 0 {
		p.Dup, p.PacketID = g.coin(), g.pid()
	}
	if v == V5 {
		n := 3
		if g.oneSubID {
			n = 1
		}
		p.Props = g.props(propsPublish, n)
		if !g.noEmptyTopic && p.Props.Has(PropTopicAlias) && g.coin() {
			p.Topic = nil
		}
	}
	return p
}

func (g *gen) subscribe(v Version) *Subscribe {
	p := &Subscribe{PacketID: g.pid()}
	if v == V5 {
		p.Props = g.props(propsSubscribe, 1)
	}
	for n := 1 + g.r.Intn(4); n > 0; n-- {
		s := Subscription{Filter: g.filter(), QoS: byte(g.r.Intn(3))}
		if v == V5 {
			s.NoLocal, s.RetainAsPublished, s.RetainHandling = g.coin(), g.coin(), byte(g.r.Intn(3))
		}
		p.Filters = append(p.Filters, s)
	}
	return p
}

func (g *gen) codes(set *reasonSet) []ReasonCode {
	codes := make([]ReasonCode, 1+g.r.Intn(4))
	for i := range codes {
		codes[i] = g.reason(set)
	}
	return codes
}

// packet returns a random valid packet of version v and its type.
func (g *gen) packet(v Version) any {
	hi := int(TypeAuth)
	if v != V5 {
		hi = int(TypeDisconnect)
	}
	switch t := Type(1 + g.r.Intn(hi)); t {
	case TypeConnect:
		return g.connect(v)
	case TypeConnack:
		p := &Connack{SessionPresent: g.coin(), ReasonCode: ReasonCode(g.r.Intn(6))}
		if v == V5 {
			p.ReasonCode, p.Props = g.reason(&connackReasons), g.props(propsConnack, 0)
		}
		if p.ReasonCode != ReasonSuccess {
			p.SessionPresent = false // [MQTT-3.2.2-4] v311, [MQTT-3.2.2-6] v5
		}
		return p
	case TypePublish:
		return g.publish(v)
	case TypePuback, TypePubrec, TypePubrel, TypePubcomp:
		p := &Ack{Type: t, PacketID: g.pid()}
		if v == V5 {
			set := &pubackReasons
			if t == TypePubrel || t == TypePubcomp {
				set = &pubrelReasons
			}
			p.ReasonCode, p.Props = g.reason(set), g.props(propsAck, 0)
		}
		return p
	case TypeSubscribe:
		return g.subscribe(v)
	case TypeSuback:
		p := &Suback{PacketID: g.pid(), ReasonCodes: g.codes(&subackReasonsV3)}
		if v == V5 {
			p.Props, p.ReasonCodes = g.props(propsAck, 0), g.codes(&subackReasons)
		}
		return p
	case TypeUnsubscribe:
		p := &Unsubscribe{PacketID: g.pid()}
		if v == V5 {
			p.Props = g.props(propsUnsubscribe, 0)
		}
		for n := 1 + g.r.Intn(4); n > 0; n-- {
			p.Filters = append(p.Filters, g.filter())
		}
		return p
	case TypeUnsuback:
		p := &Unsuback{PacketID: g.pid()}
		if v == V5 {
			p.Props, p.ReasonCodes = g.props(propsAck, 0), g.codes(&unsubackReasons)
		}
		return p
	case TypePingreq, TypePingresp:
		return &t
	case TypeDisconnect:
		p := &Disconnect{}
		if v == V5 {
			p.ReasonCode, p.Props = g.reason(&disconnectReasons), g.props(propsDisconnect, 0)
		}
		return p
	default:
		return &Auth{ReasonCode: g.reason(&authReasons), Props: g.props(propsAuth, 0)}
	}
}

var versions = []Version{V31, V311, V5}

// TestGeneratedRoundTrip encodes thousands of generated valid packets of
// every type and version, and checks Size, decode(encode(x)) == x, and that
// re-encoding the decoded packet gives the same bytes.
func TestGeneratedRoundTrip(t *testing.T) {
	g := newGen(1)
	n := 30000
	if testing.Short() {
		n = 3000
	}
	for i := 0; i < n; i++ {
		v := versions[i%3]
		want := g.packet(v)
		prefix := []byte{0xAA}
		enc := appendAny(prefix, v, want)[1:]
		got, m, err := decodeAny(enc, v)
		if err != nil || m != len(enc) {
			t.Fatalf("case %d v%d %s: %v (n %d of %d)\n% x", i, v, dump(want), err, m, len(enc), enc)
		}
		if dump(got) != dump(want) {
			t.Fatalf("case %d v%d:\n got %s\nwant %s", i, v, dump(got), dump(want))
		}
		if again := appendAny(nil, v, got); string(again) != string(enc) {
			t.Fatalf("case %d: re-encode differs", i)
		}
	}
}
