package main

import "testing"

// TestHelpExitsZero: gust-bench -h (and so gust bench -h) exits 0.
func TestHelpExitsZero(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		if code := runBench([]string{arg}); code != 0 {
			t.Errorf("gust-bench %s: exit %d, want 0", arg, code)
		}
	}
	if code := runBench([]string{"--nosuch"}); code != 2 {
		t.Errorf("gust-bench --nosuch: exit %d, want 2", code)
	}
}
