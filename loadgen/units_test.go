package loadgen

import "testing"

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

func TestSeqWindow(t *testing.T) {
	var w seqWindow
	seq := []uint32{0, 1, 3, 2, 2, 5, 100, 4}
	want := []seqOutcome{seqInOrder, seqInOrder, seqInOrder, seqOutOfOrder, seqDuplicate, seqInOrder, seqInOrder, seqOutOfOrder}
	for i, s := range seq {
		if got := w.add(s); got != want[i] {
			t.Fatalf("add(%d) = %d, want %d", s, got, want[i])
		}
	}
	// 0..100 is 101 numbers; received 0,1,2,3,4,5,100.
	if g := w.gaps(); g != 101-7 {
		t.Fatalf("gaps %d, want %d", g, 101-7)
	}
}

func TestStampRoundTrip(t *testing.T) {
	p := make([]byte, StampSize)
	putStamp(p, 1234567890123, 7, 42)
	ts, pub, seq, ok := readStamp(p)
	if !ok || ts != 1234567890123 || pub != 7 || seq != 42 {
		t.Fatalf("got %d %d %d %v", ts, pub, seq, ok)
	}
	if _, _, _, ok := readStamp(p[:5]); ok {
		t.Fatal("short payload accepted")
	}
}

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
