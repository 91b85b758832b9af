package codec

import (
	"bytes"
	"testing"

	pv3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// Cross-check against the packets of github.com/eclipse/paho.mqtt.golang,
// a third independent codec, for MQTT 3.1.1.

// toPahoV3 converts one of our 3.1.1 packets to a paho.mqtt.golang packet.
func toPahoV3(pkt any) pv3.ControlPacket {
	switch p := pkt.(type) {
	case *Connect:
		c := pv3.NewControlPacket(pv3.Connect).(*pv3.ConnectPacket)
		c.ProtocolName, c.ProtocolVersion, c.CleanSession = string(p.ProtocolName), byte(p.Version), p.CleanStart
		c.WillFlag, c.WillQos, c.WillRetain, c.Keepalive = p.WillFlag, p.WillQoS, p.WillRetain, p.KeepAlive
		c.UsernameFlag, c.PasswordFlag, c.ClientIdentifier = p.UsernameFlag, p.PasswordFlag, string(p.ClientID)
		c.WillTopic, c.WillMessage, c.Username, c.Password = string(p.WillTopic), p.WillPayload, string(p.Username), p.Password
		return c
	case *Connack:
		c := pv3.NewControlPacket(pv3.Connack).(*pv3.ConnackPacket)
		c.SessionPresent, c.ReturnCode = p.SessionPresent, byte(p.ReasonCode)
		return c
	case *Publish:
		c := pv3.NewControlPacket(pv3.Publish).(*pv3.PublishPacket)
		c.Dup, c.Qos, c.Retain, c.TopicName, c.MessageID, c.Payload = p.Dup, p.QoS, p.Retain, string(p.Topic), p.PacketID, p.Payload
		return c
	case *Ack:
		switch p.Type {
		case TypePuback:
			return &pv3.PubackPacket{FixedHeader: pv3.FixedHeader{MessageType: pv3.Puback}, MessageID: p.PacketID}
		case TypePubrec:
			return &pv3.PubrecPacket{FixedHeader: pv3.FixedHeader{MessageType: pv3.Pubrec}, MessageID: p.PacketID}
		case TypePubrel:
			return &pv3.PubrelPacket{FixedHeader: pv3.FixedHeader{MessageType: pv3.Pubrel, Qos: 1}, MessageID: p.PacketID}
		}
		return &pv3.PubcompPacket{FixedHeader: pv3.FixedHeader{MessageType: pv3.Pubcomp}, MessageID: p.PacketID}
	case *Subscribe:
		c := pv3.NewControlPacket(pv3.Subscribe).(*pv3.SubscribePacket)
		c.MessageID = p.PacketID
		for _, f := range p.Filters {
			c.Topics, c.Qoss = append(c.Topics, string(f.Filter)), append(c.Qoss, f.QoS)
		}
		return c
	case *Suback:
		c := pv3.NewControlPacket(pv3.Suback).(*pv3.SubackPacket)
		c.MessageID, c.ReturnCodes = p.PacketID, codesToBytes(p.ReasonCodes)
		return c
	case *Unsubscribe:
		c := pv3.NewControlPacket(pv3.Unsubscribe).(*pv3.UnsubscribePacket)
		c.MessageID = p.PacketID
		for _, f := range p.Filters {
			c.Topics = append(c.Topics, string(f))
		}
		return c
	case *Unsuback:
		c := pv3.NewControlPacket(pv3.Unsuback).(*pv3.UnsubackPacket)
		c.MessageID = p.PacketID
		return c
	case *Type:
		if *p == TypePingreq {
			return pv3.NewControlPacket(pv3.Pingreq)
		}
		return pv3.NewControlPacket(pv3.Pingresp)
	case *Disconnect:
		return pv3.NewControlPacket(pv3.Disconnect)
	}
	panic("toPahoV3")
}

// fromPahoV3 converts a decoded paho.mqtt.golang packet to one of ours.
func fromPahoV3(cp pv3.ControlPacket) any {
	switch c := cp.(type) {
	case *pv3.ConnectPacket:
		return &Connect{ProtocolName: []byte(c.ProtocolName), Version: Version(c.ProtocolVersion), CleanStart: c.CleanSession,
			KeepAlive: c.Keepalive, ClientID: []byte(c.ClientIdentifier), WillFlag: c.WillFlag, WillQoS: c.WillQos,
			WillRetain: c.WillRetain, WillTopic: []byte(c.WillTopic), WillPayload: c.WillMessage,
			UsernameFlag: c.UsernameFlag, Username: []byte(c.Username), PasswordFlag: c.PasswordFlag, Password: c.Password}
	case *pv3.ConnackPacket:
		return &Connack{SessionPresent: c.SessionPresent, ReasonCode: ReasonCode(c.ReturnCode)}
	case *pv3.PublishPacket:
		return &Publish{Dup: c.Dup, QoS: c.Qos, Retain: c.Retain, Topic: []byte(c.TopicName), PacketID: c.MessageID, Payload: c.Payload}
	case *pv3.PubackPacket:
		return &Ack{Type: TypePuback, PacketID: c.MessageID}
	case *pv3.PubrecPacket:
		return &Ack{Type: TypePubrec, PacketID: c.MessageID}
	case *pv3.PubrelPacket:
		return &Ack{Type: TypePubrel, PacketID: c.MessageID}
	case *pv3.PubcompPacket:
		return &Ack{Type: TypePubcomp, PacketID: c.MessageID}
	case *pv3.SubscribePacket:
		p := &Subscribe{PacketID: c.MessageID}
		for i, f := range c.Topics {
			p.Filters = append(p.Filters, Subscription{Filter: []byte(f), QoS: c.Qoss[i]})
		}
		return p
	case *pv3.SubackPacket:
		return &Suback{PacketID: c.MessageID, ReasonCodes: bytesToCodes(c.ReturnCodes)}
	case *pv3.UnsubscribePacket:
		p := &Unsubscribe{PacketID: c.MessageID}
		for _, f := range c.Topics {
			p.Filters = append(p.Filters, []byte(f))
		}
		return p
	case *pv3.UnsubackPacket:
		return &Unsuback{PacketID: c.MessageID}
	case *pv3.PingreqPacket:
		return ptrType(TypePingreq)
	case *pv3.PingrespPacket:
		return ptrType(TypePingresp)
	case *pv3.DisconnectPacket:
		return &Disconnect{}
	}
	panic("fromPahoV3")
}

// TestCrossPahoMQTTGolang checks 3.1.1 packets of every type both ways
// against paho.mqtt.golang over generated packets.
func TestCrossPahoMQTTGolang(t *testing.T) {
	g := newGen(6)
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := 0; i < n; i++ {
		want := g.packet(V311)
		enc := appendAny(nil, V311, want)
		cp, err := pv3.ReadPacket(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("case %d: paho.mqtt.golang cannot read ours: %v\n%s\n% x", i, err, dump(want), enc)
		}
		if got := fromPahoV3(cp); dump(got) != dump(want) {
			t.Fatalf("case %d: paho.mqtt.golang read ours as\n got %s\nwant %s", i, dump(got), dump(want))
		}
		var buf bytes.Buffer
		if err := toPahoV3(want).Write(&buf); err != nil {
			t.Fatalf("case %d: paho.mqtt.golang write: %v", i, err)
		}
		got, m, err := decodeAny(buf.Bytes(), V311)
		if err != nil || m != buf.Len() {
			t.Fatalf("case %d: ours cannot read paho.mqtt.golang's: %v\n%s\n% x", i, err, dump(want), buf.Bytes())
		}
		if dump(got) != dump(want) {
			t.Fatalf("case %d: ours read paho.mqtt.golang's as\n got %s\nwant %s", i, dump(got), dump(want))
		}
	}
}
