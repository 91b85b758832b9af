package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// TestV5RawTopicAliasPerConnection: a Topic Alias set on one connection is
// unknown on the next connection of the same session [MQTT-3.3.2-7].
func TestV5RawTopicAliasPerConnection(t *testing.T) {
	b := startBroker(t, nil)
	persistent := func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 60
		cp.Props.Set(codec.PropSessionExpiry)
	}
	r := dialV5(t, b, "v5-alias-conn", persistent)
	p := codec.Publish{Topic: []byte("ta/x"), QoS: 1, PacketID: 1, Payload: []byte("1")}
	p.Props.TopicAlias = 1
	p.Props.Set(codec.PropTopicAlias)
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	r.readAck(codec.TypePuback)
	p.Topic, p.PacketID = nil, 2
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	if got := r.readAck(codec.TypePuback).PacketID; got != uint16(2) {
		t.Fatalf("the alias works on its connection: got %v, want %v", got, uint16(2))
	}
	_ = r.nc.Close()

	r = dialV5(t, b, "v5-alias-conn", persistent)
	p.PacketID = 3
	r.write(codec.AppendPublish(nil, codec.V5, &p))
	if got := r.disconnect().ReasonCode; got != codec.ReasonProtocolError {
		t.Fatalf("alias carried over to a new connection: got %v, want %v", got, codec.ReasonProtocolError)
	}
}
