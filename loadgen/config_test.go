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
