package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestV5RawSuback: one SUBSCRIBE with four filters gets one SUBACK with
// its packet identifier [MQTT-3.8.4-2] and a reason per filter, in order
// [MQTT-3.9.3-1]: the granted QoS or a failure [MQTT-3.8.4-7] ("#" not
// last is invalid [MQTT-4.7.1-1]).
func TestV5RawSuback(t *testing.T) {
	b := startBroker(t, nil)
	r := dialV5(t, b, "v5-suback", nil)
	r.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 321, Filters: []codec.Subscription{
		{Filter: []byte("sa/#"), QoS: 1}, {Filter: []byte("sa/#/x"), QoS: 0}, {Filter: []byte("sb"), QoS: 2}, {Filter: []byte("sc/+"), QoS: 0}}}))
	var sa codec.Suback
	_, err := codec.DecodeSuback(r.mustRead(codec.TypeSuback), codec.V5, &sa)
	if err != nil {
		t.Fatal(err)
	}
	if sa.PacketID != uint16(321) {
		t.Fatalf("got %v, want %v", sa.PacketID, uint16(321))
	}
	want := []codec.ReasonCode{codec.ReasonGrantedQoS1, codec.ReasonTopicFilterInvalid, codec.ReasonGrantedQoS2, codec.ReasonGrantedQoS0}
	if len(sa.ReasonCodes) != len(want) {
		t.Fatalf("got %v, want %v", len(sa.ReasonCodes), len(want))
	}
	for i, w := range want {
		if sa.ReasonCodes[i] != w {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("reason code", i), sa.ReasonCodes[i], w)
		}
	}
}

// TestV5RawUnsubscribeFinishesInflight: a QoS 1 delivery already sent for a
// filter the client then removes is still completed: it is sent again on
// resume [MQTT-3.10.4-3], while new messages on that topic no longer come
// [MQTT-3.10.4-2].
func TestV5RawUnsubscribeFinishesInflight(t *testing.T) {
	b := startBroker(t, nil)
	persistent := func(cp *codec.Connect) {
		cp.CleanStart = false
		cp.Props.SessionExpiry = 60
		cp.Props.Set(codec.PropSessionExpiry)
	}
	sub := dialV5(t, b, "v5-unfin-sub", persistent)
	sub.write(codec.AppendSubscribe(nil, codec.V5, &codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("unfin"), QoS: 1}}}))
	sub.mustRead(codec.TypeSuback)
	pub := dialV5(t, b, "v5-unfin-pub", nil)
	pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("unfin"), QoS: 1, PacketID: 1, Payload: []byte("started")}))
	pub.readAck(codec.TypePuback)
	sub.mustRead(codec.TypePublish) // not acknowledged
	sub.write(codec.AppendUnsubscribe(nil, codec.V5, &codec.Unsubscribe{PacketID: 2, Filters: [][]byte{[]byte("unfin")}}))
	sub.mustRead(codec.TypeUnsuback)
	pub.write(codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("unfin"), QoS: 1, PacketID: 2, Payload: []byte("after")}))
	pub.readAck(codec.TypePuback)
	_ = sub.nc.Close()
	time.Sleep(100 * time.Millisecond)

	back := dialRaw(t, b)
	cp := codec.Connect{Version: codec.V5, ClientID: []byte("v5-unfin-sub")}
	persistent(&cp)
	if !back.connect(&cp).SessionPresent {
		t.Fatal("session present")
	}
	var p codec.Publish
	_, err := codec.DecodePublish(back.mustRead(codec.TypePublish), codec.V5, &p)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Payload) != "started" {
		t.Fatalf("the started delivery was not completed: got %v, want %v", string(p.Payload), "started")
	}
	back.write(codec.AppendAck(nil, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
	if pkt, err := back.read(300 * time.Millisecond); err == nil {
		t.Fatalf("a message after UNSUBSCRIBE was delivered: %x", pkt)
	}
}
