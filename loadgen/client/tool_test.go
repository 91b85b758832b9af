package client

import (
	"context"
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// TestRender: the default and -v outputs, as mosquitto_sub 2.0.11 writes
// them (an empty payload: nothing, or "(null)" with -v), and -N.
func TestRender(t *testing.T) {
	f, err := ParseFormat("%t=%p")
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{Topic: "a/b", Payload: []byte("hi")}
	empty := &Message{Topic: "a/c"}
	for _, tc := range []struct {
		name string
		cfg  SubConfig
		m    *Message
		want string
	}{
		{name: "payload", m: m, want: "hi\n"},
		{name: "empty", m: empty, want: ""},
		{name: "verbose", cfg: SubConfig{Verbose: true}, m: m, want: "a/b hi\n"},
		{name: "verbose empty", cfg: SubConfig{Verbose: true}, m: empty, want: "a/c (null)\n"},
		{name: "no eol", cfg: SubConfig{Verbose: true, NoEOL: true}, m: m, want: "a/b hi"},
		{name: "format", cfg: SubConfig{Format: f, Verbose: true}, m: empty, want: "a/c=\n"},
	} {
		got, err := render(nil, &tc.cfg, tc.m)
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestPublishLimits: a message the broker said it would not accept
// (maximum QoS, retain, maximum packet size in CONNACK) is refused before
// it is sent, and the connection stays up.
func TestPublishLimits(t *testing.T) {
	addr := startGustWith(t, func(c *gustConfig) { c.MaximumQoS, c.RetainAvailable, c.MaxPacketSize = 1, false, 1000 })
	o := DefaultOptions(addr)
	o.Version = codec.V5
	c := dial(t, o)
	ctx := context.Background()
	for _, tc := range []struct {
		m    *Message
		want string
	}{
		{m: &Message{Topic: "a", QoS: 2}, want: "maximum QoS 1"},
		{m: &Message{Topic: "a", Retain: true}, want: "retained"},
		{m: &Message{Topic: "a", Payload: make([]byte, 2000)}, want: "maximum packet size of 1000"},
	} {
		if err := c.Publish(ctx, tc.m); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error saying %q", tc.m.Topic, err, tc.want)
		}
	}
	if err := c.Publish(ctx, &Message{Topic: "a", QoS: 1, Payload: []byte("fits")}); err != nil {
		t.Errorf("a message within the limits: %v", err)
	}
}
