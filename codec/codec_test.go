package codec

import (
	"bytes"
	"errors"
	"testing"
)

// TestFixtures decodes every fixture, compares the result (or error), and
// encodes the valid ones back to the same bytes.
func TestFixtures(t *testing.T) {
	for _, f := range allFixtures() {
		t.Run(f.name, func(t *testing.T) {
			raw := unhex(f.raw)
			pkt, n, err := decodeAny(raw, f.v)
			if f.err != nil {
				if !errors.Is(err, f.err) {
					t.Fatalf("err = %v, want %v", err, f.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if n != len(raw) {
				t.Fatalf("n = %d, want %d", n, len(raw))
			}
			if got, want := dump(pkt), dump(f.want); got != want {
				t.Fatalf("decoded\n got %s\nwant %s", got, want)
			}
			canon := raw
			if f.canon != "" {
				canon = unhex(f.canon)
			}
			if enc := appendAny(nil, f.v, f.want); !bytes.Equal(enc, canon) {
				t.Fatalf("encoded\n got % x\nwant % x", enc, canon)
			}
		})
	}
}

// TestFixturesSplit feeds every fixture one byte at a time and split at every
// offset: every proper prefix is ErrIncomplete (or the same error as the
// whole, once the error is visible), and the whole decodes the same.
func TestFixturesSplit(t *testing.T) {
	for _, f := range allFixtures() {
		raw := unhex(f.raw)
		wantPkt, wantN, wantErr := decodeAny(raw, f.v)
		for cut := 0; cut < len(raw); cut++ {
			buf := append([]byte(nil), raw[:cut]...)
			_, n, err := decodeAny(buf, f.v)
			if err == ErrIncomplete {
				if n != 0 {
					t.Fatalf("%s: cut %d: ErrIncomplete consumed %d", f.name, cut, n)
				}
				continue
			}
			if wantErr == nil || err != wantErr {
				t.Fatalf("%s: cut %d: err = %v, whole packet: %v", f.name, cut, err, wantErr)
			}
		}
		// The packet followed by the start of another decodes the same.
		joined := append(append([]byte(nil), raw...), 0x30, 0x05, 0x00)
		pkt, n, err := decodeAny(joined, f.v)
		if err != wantErr || n != wantN || dump(pkt) != dump(wantPkt) {
			t.Fatalf("%s: with trailing bytes: %v %d, want %v %d", f.name, err, n, wantErr, wantN)
		}
	}
}

// TestFixturesRoundTrip checks decode(encode(x)) == x for every valid
// fixture in its version.
func TestFixturesRoundTrip(t *testing.T) {
	for _, f := range allFixtures() {
		if f.err != nil {
			continue
		}
		enc := appendAny(nil, f.v, f.want)
		pkt, n, err := decodeAny(enc, f.v)
		if err != nil || n != len(enc) {
			t.Fatalf("%s: %v (n %d of %d)", f.name, err, n, len(enc))
		}
		if dump(pkt) != dump(f.want) {
			t.Fatalf("%s: round trip\n got %s\nwant %s", f.name, dump(pkt), dump(f.want))
		}
	}
}

// TestFixtureCoverage makes sure the catalog has a valid case for every
// packet type in every version it exists in (AUTH: 5.0 only), and a malformed
// case for every packet type.
func TestFixtureCoverage(t *testing.T) {
	type key struct {
		ty Type
		v  Version
	}
	valid, bad := map[key]bool{}, map[Type]bool{}
	for _, f := range allFixtures() {
		ty := Type(unhex(f.raw)[0] >> 4)
		if f.err == nil {
			valid[key{ty: ty, v: f.v}] = true
		} else {
			bad[ty] = true
		}
	}
	for ty := TypeConnect; ty <= TypeAuth; ty++ {
		if !bad[ty] {
			t.Errorf("type %d: no malformed fixture", ty)
		}
		for _, v := range versions {
			if ty == TypeAuth && v != V5 {
				continue
			}
			if !valid[key{ty: ty, v: v}] {
				t.Errorf("type %d version %d: no valid fixture", ty, v)
			}
		}
	}
}
