package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestJSONLines checks the machine-readable output: one progress object
// per second, then exactly one result object, and the human progress line.
func TestJSONLines(t *testing.T) {
	addr := startLossyBroker(t, 0, 0)
	var js, human bytes.Buffer
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Publishers, cfg.Subscribers = 1, 1
	cfg.Rate = 1000
	cfg.Duration = 1500 * time.Millisecond
	cfg.Drain = time.Second
	cfg.JSON, cfg.Progress = &js, &human
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("want progress lines and a result, got %q", js.String())
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d not JSON: %q", i, l)
		}
		want := "progress"
		if i == len(lines)-1 {
			want = "result"
		}
		if m["type"] != want {
			t.Fatalf("line %d type %v, want %s", i, m["type"], want)
		}
	}
	var last Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Delivered != res.Delivered || last.Latency.P99 == 0 {
		t.Fatalf("result line %q does not match %+v (%v)", lines[len(lines)-1], res, err)
	}
	if !strings.Contains(human.String(), "delivered") || !strings.Contains(human.String(), "p99") {
		t.Fatalf("progress line missing fields: %q", human.String())
	}
}
