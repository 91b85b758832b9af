package loadgen

import (
	"testing"
)

func TestReceivers(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Subscribers = 4
	cfg.SubTopic = "$share/g/x/#"
	if n := newReceivers(&cfg).count("x/1"); n != 1 {
		t.Fatalf("shared group counts %d receivers, want 1", n)
	}
	cfg.SubTopic = "x/%i"
	cfg.SlowSubscribers = 1
	rc := newReceivers(&cfg)
	if rc.count("x/0") != 0 || rc.count("x/2") != 1 {
		t.Fatalf("p2p receivers x/0=%d x/2=%d, want 0 and 1", rc.count("x/0"), rc.count("x/2"))
	}
}
