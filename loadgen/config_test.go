package loadgen

import (
	"testing"
)

func TestMatchTopic(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{filter: "a/b", topic: "a/b", want: true},
		{filter: "a/+", topic: "a/b", want: true},
		{filter: "a/#", topic: "a/b/c", want: true},
		{filter: "a/#", topic: "a", want: true},
		{filter: "#", topic: "$SYS/x", want: false}, // [MQTT-4.7.2-1]
		{filter: "+/x", topic: "$SYS/x", want: false},
		{filter: "a/+", topic: "a/b/c", want: false},
		{filter: "a/b/c", topic: "a/b", want: false},
	} {
		if got := MatchTopic(tc.filter, tc.topic); got != tc.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PayloadSize = 8
	if err := cfg.Normalize(); err != ErrPayloadSize {
		t.Fatalf("got %v, want ErrPayloadSize", err)
	}
	cfg = DefaultConfig()
	cfg.Duration = 0
	if err := cfg.Normalize(); err != ErrUnbounded {
		t.Fatalf("got %v, want ErrUnbounded", err)
	}
}

func TestNormalizeOffline(t *testing.T) {
	offline := func() Config {
		c := DefaultConfig()
		c.QoS, c.Count, c.PersistentSubs, c.Offline = 1, 10, true, true
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want error
	}{
		{name: "ok", edit: func(*Config) {}, want: nil},
		{name: "clean subscribers", edit: func(c *Config) { c.PersistentSubs = false }, want: ErrOffline},
		{name: "qos0", edit: func(c *Config) { c.QoS = 0 }, want: ErrOffline},
		{name: "no count", edit: func(c *Config) { c.Count = 0 }, want: ErrOffline},
		{name: "pub mode", edit: func(c *Config) { c.Mode = ModePub }, want: ErrOffline},
		{name: "slow subscriber", edit: func(c *Config) { c.SlowSubscribers = 1 }, want: ErrOffline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := offline()
			tc.edit(&c)
			if err := c.Normalize(); err != tc.want {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.want == nil && c.SubSessionExpiry != 3600 {
				t.Fatalf("SubSessionExpiry = %d, want the 3600 default", c.SubSessionExpiry)
			}
		})
	}
}
