package client

import (
	"errors"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

func TestFormat(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 9, 21, 319438000, time.UTC)
	m := &Message{Topic: "a/b", Payload: []byte(`hello "w"`), QoS: 1, PacketID: 7}
	plain := &Message{Topic: "a/c", Payload: []byte("{\"x\":1}"), Retain: true}
	props := &Message{Topic: "j/b", Payload: []byte("x<&>\n\x01")}
	props.Props.User = []codec.UserProperty{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("k2"), Value: []byte("v2")}}
	props.Props.ContentType = []byte("text/plain")
	props.Props.Set(codec.PropContentType)
	props.Props.ResponseTopic = []byte("rt")
	props.Props.Set(codec.PropResponseTopic)
	props.Props.MessageExpiry = 30
	props.Props.Set(codec.PropMessageExpiry)
	props.Props.SubscriptionIDs = []uint32{3, 9}
	for _, tc := range []struct {
		format string
		m      *Message
		want   string
	}{
		{format: "%t %p|%q|%r|%l|%m", m: m, want: `a/b hello "w"|1|0|9|7`},
		{format: "%t %p|%q|%r|%l", m: plain, want: `a/c {"x":1}|0|1|7`},
		{format: "%x %X", m: &Message{Payload: []byte{0xab, 0x01}}, want: "ab01 AB01"},
		{format: "100%% %t\\t\\\\\\n", m: plain, want: "100% a/c\t\\\n"},
		{format: "%P|%C|%R|%E|%S|%F|%D", m: props, want: "k:v k2:v2|text/plain|rt|30|3,9||"},
		{format: "%I %U", m: m, want: "2026-12-05T12:09:21+0000 1796472561.319438000"},
		// mosquitto_sub 2.0.11's %j for the same message, as recorded.
		{format: "%j", m: &Message{Topic: "a/b", Payload: []byte(`hello "w"`)},
			want: `{"tst":"2026-12-05T12:09:21.319438Z+0000","topic":"a/b","qos":0,"retain":0,"payloadlen":9,"payload":"hello \"w\""}`},
		{format: "%j", m: m, want: `{"tst":"2026-12-05T12:09:21.319438Z+0000","topic":"a/b","qos":1,"retain":0,"payloadlen":9,"mid":7,"payload":"hello \"w\""}`},
		{format: "%j", m: props, want: `{"tst":"2026-12-05T12:09:21.319438Z+0000","topic":"j/b","qos":0,"retain":0,"payloadlen":6,` +
			`"properties":{"user-properties":{"k":"v","k2":"v2"},"message-expiry-interval":30,"content-type":"text/plain","response-topic":"rt",` +
			`"subscription-identifier":3,"subscription-identifier":9},"payload":"x<&>\n\u0001"}`},
		{format: "%J", m: plain, want: `{"tst":"2026-12-05T12:09:21.319438Z+0000","topic":"a/c","qos":0,"retain":1,"payloadlen":7,"payload":{"x":1}}`},
		{format: "%j", m: &Message{Topic: "bin", Payload: []byte{0xff, 'a'}}, want: `{"tst":"2026-12-05T12:09:21.319438Z+0000","topic":"bin","qos":0,"retain":0,"payloadlen":2,"payload":"` + "\ufffd" + `a"}`},
	} {
		f, err := ParseFormat(tc.format)
		if err != nil {
			t.Errorf("ParseFormat(%q): %v", tc.format, err)
			continue
		}
		got, err := f.Append([]byte("pre:"), tc.m, now)
		if err != nil || string(got) != "pre:"+tc.want {
			t.Errorf("%q:\n got %q, %v\nwant %q", tc.format, got, err, "pre:"+tc.want)
		}
	}
	f, _ := ParseFormat("a%J")
	if got, err := f.Append([]byte("pre:"), m, now); !errors.Is(err, ErrNotJSON) || string(got) != "pre:" {
		t.Errorf("%%J of a non-JSON payload: %q, %v", got, err)
	}
	for _, bad := range []string{"%", "%z", "x%", `\q`} {
		if _, err := ParseFormat(bad); err == nil {
			t.Errorf("ParseFormat(%q) accepted", bad)
		}
	}
}

func TestMatchFilter(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{filter: "a/b", topic: "a/b", want: true},
		{filter: "a/+", topic: "a/b", want: true},
		{filter: "a/+", topic: "a/b/c"},
		{filter: "a/#", topic: "a", want: true},
		{filter: "a/#", topic: "a/b/c", want: true},
		{filter: "#", topic: "$SYS/x"},
		{filter: "+/x", topic: "$SYS/x"},
		{filter: "$SYS/#", topic: "$SYS/x", want: true},
		{filter: "a/b", topic: "a"},
		{filter: "a", topic: "a/b"},
	} {
		if got := MatchFilter(tc.filter, tc.topic); got != tc.want {
			t.Errorf("MatchFilter(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}
