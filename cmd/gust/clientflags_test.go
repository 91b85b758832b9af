package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestMosquittoArgs: -h with a value is the host, -h alone is help; -D
// takes three arguments, four for user-property.
func TestMosquittoArgs(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
		props    []property
		bad      bool
	}{
		{in: []string{"-h", "broker", "-t", "a"}, want: []string{"--host", "broker", "-t", "a"}},
		{in: []string{"-t", "a", "-h"}, want: []string{"-t", "a", "-h"}},
		{in: []string{"-h", "-t", "a"}, want: []string{"-h", "-t", "a"}},
		{in: []string{"-D", "publish", "user-property", "k", "v", "-t", "a", "--property", "publish", "content-type", "text/plain"},
			want: []string{"-t", "a"},
			props: []property{{command: "publish", name: "user-property", value: "k", value2: "v"},
				{command: "publish", name: "content-type", value: "text/plain"}}},
		{in: []string{"-t", "a", "--", "-h", "x"}, want: []string{"-t", "a", "--", "-h", "x"}},
		{in: []string{"-D", "publish", "user-property", "k"}, bad: true},
		{in: []string{"-D", "publish"}, bad: true},
	} {
		got, props, err := mosquittoArgs(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && (!reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(props, tc.props))) {
			t.Errorf("mosquittoArgs(%q) = %q, %+v, %v; want %q, %+v (error: %v)", tc.in, got, props, err, tc.want, tc.props, tc.bad)
		}
	}
}

// TestClientOptions: the shared flags become connection options, and -D
// properties land in CONNECT, PUBLISH, the will or SUBSCRIBE.
func TestClientOptions(t *testing.T) {
	cf := clientFlags{host: "broker", port: 1884, version: "mqttv5", id: "me", noClean: true, keepAlive: 30,
		user: "u", password: "p", connectTimeout: time.Second}
	cf.will.topic, cf.will.payload, cf.will.qos, cf.will.retain = "w", "gone", 1, true
	cf.props = []property{
		{command: "connect", name: "user-property", value: "ck", value2: "cv"},
		{command: "publish", name: "user-property", value: "pk", value2: "pv"},
		{command: "publish", name: "correlation-data", value: "abc"},
		{command: "publish", name: "payload-format-indicator", value: "1"},
		{command: "will", name: "will-delay-interval", value: "5"},
		{command: "will", name: "content-type", value: "text/plain"},
		{command: "subscribe", name: "user-property", value: "sk", value2: "sv"},
		{command: "subscribe", name: "subscription-identifier", value: "7"},
	}
	o, err := cf.options("pub")
	if err != nil {
		t.Fatal(err)
	}
	var pub, sub codec.Properties
	if err := applyProps(cf.props, &o, &pub, &sub); err != nil {
		t.Fatal(err)
	}
	if o.Addr != "broker:1884" || o.Version != codec.V5 || o.ClientID != "me" || o.CleanStart || o.KeepAlive != 30 ||
		o.SessionExpiry != 0xFFFFFFFF || o.Username != "u" || o.Password != "p" || o.DialTimeout != time.Second {
		t.Errorf("options %+v", o)
	}
	if w := o.Will; w == nil || w.Topic != "w" || string(w.Payload) != "gone" || w.QoS != 1 || !w.Retain ||
		w.Props.WillDelay != 5 || string(w.Props.ContentType) != "text/plain" {
		t.Errorf("will %+v", o.Will)
	}
	if len(o.UserProperties) != 1 || string(o.UserProperties[0].Key) != "ck" {
		t.Errorf("connect user properties %+v", o.UserProperties)
	}
	if len(pub.User) != 1 || string(pub.User[0].Value) != "pv" || string(pub.CorrelationData) != "abc" || !pub.Has(codec.PropPayloadFormat) {
		t.Errorf("publish properties %+v", pub)
	}
	if len(sub.User) != 1 || string(sub.User[0].Key) != "sk" || !reflect.DeepEqual(sub.SubscriptionIDs, []uint32{7}) {
		t.Errorf("subscribe properties %+v", sub)
	}
	// Commands the tool does not send are refused.
	if err := applyProps([]property{{command: "subscribe", name: "user-property", value: "k", value2: "v"}}, &o, &pub, nil); err == nil {
		t.Error("-D subscribe accepted by gust pub")
	}
	if err := applyProps([]property{{command: "publish", name: "will-delay-interval", value: "1"}}, &o, &pub, nil); err == nil {
		t.Error("will-delay-interval accepted on publish")
	}
	cf.addr = "mqtt://other:1999"
	if o, err := cf.options("sub"); err != nil || o.Addr != "mqtt://other:1999" {
		t.Errorf("--addr: %q, %v", o.Addr, err)
	}
	cf.sessionExpiry = "many"
	if _, err := cf.options("sub"); err == nil {
		t.Error("-x many accepted")
	}
}
