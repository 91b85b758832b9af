package persist

import (
	"testing"
	"time"
)

func TestParseSync(t *testing.T) {
	for in, want := range map[string]time.Duration{"always": 0, "": 0, "never": Never, "10ms": 10 * time.Millisecond, "1s": time.Second} {
		s, err := ParseSync(in)
		if err != nil || s.Every != want {
			t.Errorf("ParseSync(%q) = %v, %v; want %v", in, s.Every, err, want)
		}
	}
	for _, in := range []string{"sometimes", "0", "-1s", "10"} {
		if _, err := ParseSync(in); err == nil {
			t.Errorf("ParseSync(%q) accepted", in)
		}
	}
	if s := (Sync{Every: 10 * time.Millisecond}).String(); s != "10ms" {
		t.Errorf("String %q", s)
	}
}

// TestRecordsCorrupt feeds visit truncated values: each is refused, none
// panics.
func TestRecordsCorrupt(t *testing.T) {
	b := fullBatch()
	for i := range b.ops {
		o := &b.ops[i]
		if o.kind != opSet {
			continue
		}
		k, v := b.key(o), b.val(o)
		for n := 0; n < len(v); n++ {
			var c collected
			if err := visit(k, v[:n], &c); err == nil {
				t.Fatalf("key %q: value cut to %d of %d bytes accepted", k, n, len(v))
			}
		}
		if err := visit(k, append(append([]byte(nil), v...), 0), &collected{}); err == nil {
			t.Fatalf("key %q: trailing byte accepted", k)
		}
	}
	for _, k := range [][]byte{nil, {9}, {kindMessage, 1}, {kindClient, 0}, {kindClient, 0, 5, 'a'}, {kindClient, 0, 1, 'a', 9}} {
		if err := visit(k, []byte{valueVersion}, &collected{}); err == nil {
			t.Fatalf("key %x accepted", k)
		}
	}
}
