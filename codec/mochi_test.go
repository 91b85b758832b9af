package codec

import (
	"bytes"
	"fmt"
	"testing"

	mp "github.com/mochi-mqtt/server/v2/packets"
)

// Cross-check against github.com/mochi-mqtt/server/v2/packets for MQTT 3.1
// and 3.1.1, a codec written independently of this one.

// mochiDecode decodes one whole packet with mochi's codec.
func mochiDecode(raw []byte, v Version) (*mp.Packet, error) {
	_, _, n, err := PacketLen(raw, 0)
	if err != nil {
		return nil, err
	}
	pk := &mp.Packet{ProtocolVersion: byte(v)}
	if err := pk.FixedHeader.Decode(raw[0]); err != nil {
		return nil, err
	}
	hdr := 2
	for raw[hdr-1] >= 0x80 {
		hdr++
	}
	body := raw[hdr:n]
	pk.FixedHeader.Remaining = len(body)
	decoders := map[byte]func([]byte) error{
		mp.Connect: pk.ConnectDecode, mp.Connack: pk.ConnackDecode, mp.Publish: pk.PublishDecode,
		mp.Puback: pk.PubackDecode, mp.Pubrec: pk.PubrecDecode, mp.Pubrel: pk.PubrelDecode,
		mp.Pubcomp: pk.PubcompDecode, mp.Subscribe: pk.SubscribeDecode, mp.Suback: pk.SubackDecode,
		mp.Unsubscribe: pk.UnsubscribeDecode, mp.Unsuback: pk.UnsubackDecode,
		mp.Pingreq: pk.PingreqDecode, mp.Pingresp: pk.PingrespDecode, mp.Disconnect: pk.DisconnectDecode,
	}
	dec, ok := decoders[pk.FixedHeader.Type]
	if !ok {
		return nil, fmt.Errorf("mochi: no decoder for type %d", pk.FixedHeader.Type)
	}
	return pk, dec(body)
}

// mochiEncode encodes pk with mochi's codec.
func mochiEncode(pk *mp.Packet) ([]byte, error) {
	var buf bytes.Buffer
	encoders := map[byte]func(*bytes.Buffer) error{
		mp.Connect: pk.ConnectEncode, mp.Connack: pk.ConnackEncode, mp.Publish: pk.PublishEncode,
		mp.Puback: pk.PubackEncode, mp.Pubrec: pk.PubrecEncode, mp.Pubrel: pk.PubrelEncode,
		mp.Pubcomp: pk.PubcompEncode, mp.Subscribe: pk.SubscribeEncode, mp.Suback: pk.SubackEncode,
		mp.Unsubscribe: pk.UnsubscribeEncode, mp.Unsuback: pk.UnsubackEncode,
		mp.Pingreq: pk.PingreqEncode, mp.Pingresp: pk.PingrespEncode, mp.Disconnect: pk.DisconnectEncode,
	}
	if err := encoders[pk.FixedHeader.Type](&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// toMochi converts one of our 3.1/3.1.1 packets to a mochi packet.
func toMochi(pkt any, v Version) *mp.Packet {
	pk := &mp.Packet{ProtocolVersion: byte(v)}
	fh := &pk.FixedHeader
	switch p := pkt.(type) {
	case *Connect:
		fh.Type = mp.Connect
		pk.Connect = mp.ConnectParams{ProtocolName: p.ProtocolName, Clean: p.CleanStart, Keepalive: p.KeepAlive,
			ClientIdentifier: string(p.ClientID), WillFlag: p.WillFlag, WillQos: p.WillQoS, WillRetain: p.WillRetain,
			WillTopic: string(p.WillTopic), WillPayload: p.WillPayload, UsernameFlag: p.UsernameFlag,
			Username: p.Username, PasswordFlag: p.PasswordFlag, Password: p.Password}
	case *Connack:
		fh.Type, pk.SessionPresent, pk.ReasonCode = mp.Connack, p.SessionPresent, byte(p.ReasonCode)
	case *Publish:
		fh.Type, fh.Qos, fh.Dup, fh.Retain = mp.Publish, p.QoS, p.Dup, p.Retain
		pk.TopicName, pk.PacketID, pk.Payload = string(p.Topic), p.PacketID, p.Payload
	case *Ack:
		fh.Type, pk.PacketID = byte(p.Type), p.PacketID
		if p.Type == TypePubrel {
			fh.Qos = 1 // mochi writes the flags from Qos: 0010.
		}
	case *Subscribe:
		fh.Type, fh.Qos, pk.PacketID = mp.Subscribe, 1, p.PacketID
		for _, f := range p.Filters {
			pk.Filters = append(pk.Filters, mp.Subscription{Filter: string(f.Filter), Qos: f.QoS})
		}
	case *Suback:
		fh.Type, pk.PacketID, pk.ReasonCodes = mp.Suback, p.PacketID, codesToBytes(p.ReasonCodes)
	case *Unsubscribe:
		fh.Type, fh.Qos, pk.PacketID = mp.Unsubscribe, 1, p.PacketID
		for _, f := range p.Filters {
			pk.Filters = append(pk.Filters, mp.Subscription{Filter: string(f)})
		}
	case *Unsuback:
		fh.Type, pk.PacketID = mp.Unsuback, p.PacketID
	case *Type:
		fh.Type = byte(*p)
	case *Disconnect:
		fh.Type = mp.Disconnect
	default:
		panic(fmt.Sprintf("toMochi %T", pkt))
	}
	return pk
}

// fromMochi converts a decoded mochi packet to one of ours.
func fromMochi(pk *mp.Packet) any {
	fh := &pk.FixedHeader
	switch fh.Type {
	case mp.Connect:
		c := &pk.Connect
		return &Connect{ProtocolName: c.ProtocolName, Version: Version(pk.ProtocolVersion), CleanStart: c.Clean,
			KeepAlive: c.Keepalive, ClientID: []byte(c.ClientIdentifier), WillFlag: c.WillFlag, WillQoS: c.WillQos,
			WillRetain: c.WillRetain, WillTopic: []byte(c.WillTopic), WillPayload: c.WillPayload,
			UsernameFlag: c.UsernameFlag, Username: c.Username, PasswordFlag: c.PasswordFlag, Password: c.Password}
	case mp.Connack:
		return &Connack{SessionPresent: pk.SessionPresent, ReasonCode: ReasonCode(pk.ReasonCode)}
	case mp.Publish:
		return &Publish{Dup: fh.Dup, QoS: fh.Qos, Retain: fh.Retain, Topic: []byte(pk.TopicName),
			PacketID: pk.PacketID, Payload: pk.Payload}
	case mp.Puback, mp.Pubrec, mp.Pubrel, mp.Pubcomp:
		return &Ack{Type: Type(fh.Type), PacketID: pk.PacketID}
	case mp.Subscribe:
		p := &Subscribe{PacketID: pk.PacketID}
		for _, f := range pk.Filters {
			p.Filters = append(p.Filters, Subscription{Filter: []byte(f.Filter), QoS: f.Qos})
		}
		return p
	case mp.Suback:
		return &Suback{PacketID: pk.PacketID, ReasonCodes: bytesToCodes(pk.ReasonCodes)}
	case mp.Unsubscribe:
		p := &Unsubscribe{PacketID: pk.PacketID}
		for _, f := range pk.Filters {
			p.Filters = append(p.Filters, []byte(f.Filter))
		}
		return p
	case mp.Unsuback:
		return &Unsuback{PacketID: pk.PacketID}
	case mp.Pingreq, mp.Pingresp:
		return ptrType(Type(fh.Type))
	case mp.Disconnect:
		return &Disconnect{}
	}
	panic("fromMochi")
}

// TestCrossMochi checks 3.1 and 3.1.1 packets of every type both ways
// against mochi's codec over generated packets.
func TestCrossMochi(t *testing.T) {
	g := newGen(3)
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := 0; i < n; i++ {
		v := []Version{V31, V311}[i%2]
		want := g.packet(v)
		enc := appendAny(nil, v, want)
		pk, err := mochiDecode(enc, v)
		if err != nil {
			t.Fatalf("case %d: mochi cannot read ours: %v\n%s\n% x", i, err, dump(want), enc)
		}
		if got := fromMochi(pk); dump(got) != dump(want) {
			t.Fatalf("case %d: mochi read ours as\n got %s\nwant %s", i, dump(got), dump(want))
		}
		menc, err := mochiEncode(toMochi(want, v))
		if err != nil {
			t.Fatalf("case %d: mochi encode: %v", i, err)
		}
		got, m, err := decodeAny(menc, v)
		if err != nil || m != len(menc) {
			t.Fatalf("case %d: ours cannot read mochi's: %v\n%s\n% x", i, err, dump(want), menc)
		}
		if dump(got) != dump(want) {
			t.Fatalf("case %d: ours read mochi's as\n got %s\nwant %s", i, dump(got), dump(want))
		}
	}
}

// TestMochiCatalog decodes the raw bytes of mochi's own fixture catalog
// (packets.TPacketData) that mochi expects to decode cleanly, and compares
// with mochi's decoding of the same bytes. Cases ours rejects must be
// violations of a rule mochi leaves to its validators; they are listed.
func TestMochiCatalog(t *testing.T) {
	checked := 0
	for _, cases := range mp.TPacketData {
		for _, c := range cases {
			if c.RawBytes == nil || c.Expect != nil || c.FailFirst != nil || c.Packet == nil || c.Packet.FixedHeader.Type == mp.Auth {
				continue
			}
			v := Version(c.Packet.ProtocolVersion)
			if v == 0 {
				v = V311
			}
			ours, _, err := decodeAny(c.RawBytes, v)
			pk, merr := mochiDecode(c.RawBytes, v)
			if merr != nil {
				continue
			}
			if err != nil {
				t.Logf("mochi case %q: ours rejects: %v", c.Desc, err)
				continue
			}
			checked++
			if v == V5 {
				continue // Properties are compared by the paho.golang cross-check.
			}
			if got, want := dump(ours), dump(fromMochi(pk)); got != want {
				t.Errorf("mochi case %q:\n ours  %s\n mochi %s", c.Desc, got, want)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d mochi cases checked", checked)
	}
}
