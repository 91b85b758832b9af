package codec

import (
	"reflect"
	"testing"
)

func TestSmokeRoundTrip(t *testing.T) {
	for _, v := range []Version{V31, V311, V5} {
		c := Connect{Version: v, CleanStart: true, KeepAlive: 30, ClientID: []byte("abc"),
			WillFlag: true, WillQoS: 1, WillTopic: []byte("w/t"), WillPayload: []byte("bye"),
			UsernameFlag: true, Username: []byte("u"), PasswordFlag: true, Password: []byte("p")}
		if v == V5 {
			c.Props.SessionExpiry = 10
			c.Props.Set(PropSessionExpiry)
			c.Props.User = []UserProperty{{Key: []byte("k"), Value: []byte("v")}}
			c.WillProps.WillDelay = 5
			c.WillProps.Set(PropWillDelay)
		}
		b := AppendConnect(nil, &c)
		if len(b) != SizeConnect(&c) {
			t.Fatalf("size")
		}
		var d Connect
		n, err := DecodeConnect(b, &d)
		if err != nil || n != len(b) {
			t.Fatalf("v%d: %v %d", v, err, n)
		}
		if string(d.ClientID) != "abc" || string(d.Password) != "p" || d.WillQoS != 1 {
			t.Fatalf("%+v", d)
		}
		p := Publish{QoS: 1, PacketID: 7, Topic: []byte("a/b"), Payload: []byte("hello")}
		if v == V5 {
			p.Props.SubscriptionIDs = []uint32{3, 300}
			p.Props.ContentType = []byte("text")
			p.Props.Set(PropContentType)
		}
		b = AppendPublish(nil, v, &p)
		var dp Publish
		if _, err := DecodePublish(b, v, &dp); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p, dp) {
			t.Fatalf("%+v\n%+v", p, dp)
		}
		s := Subscribe{PacketID: 9, Filters: []Subscription{{Filter: []byte("a/+"), QoS: 2}}}
		b = AppendSubscribe(nil, v, &s)
		var ds Subscribe
		if _, err := DecodeSubscribe(b, v, &ds); err != nil || !reflect.DeepEqual(s, ds) {
			t.Fatalf("%v %+v", err, ds)
		}
	}
}
