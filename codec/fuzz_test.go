package codec

import (
	"testing"
)

// addSeeds seeds a fuzz target with every fixture (whole, and split in two
// halves fed as a split packet) and a few generated packets.
func addSeeds(f *testing.F, keep func(raw []byte) bool) {
	for _, fx := range allFixtures() {
		raw := unhex(fx.raw)
		if keep == nil || keep(raw) {
			f.Add(raw, byte(fx.v))
		}
	}
	g := newGen(4)
	for i := 0; i < 60; i++ {
		v := versions[i%3]
		raw := appendAny(nil, v, g.packet(v))
		if keep == nil || keep(raw) {
			f.Add(raw, byte(v))
		}
	}
}

func fuzzVersion(b byte) Version { return versions[int(b)%3] }

// checkDecode is the property every fuzz target checks: decoding never
// panics; ErrIncomplete consumes nothing; a decoded packet lies within
// src[:n] (decoding exactly src[:n] gives the same result, so nothing past
// the declared remaining length was read); every shorter prefix is
// ErrIncomplete (split feeding); and decode→encode→decode is stable.
func checkDecode(t *testing.T, data []byte, v Version, decode func([]byte, Version) (any, int, error)) {
	pkt, n, err := decode(data, v)
	if err == ErrIncomplete {
		if n != 0 {
			t.Fatalf("ErrIncomplete with n = %d", n)
		}
		return
	}
	if err != nil {
		if _, ok := err.(*Error); !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
		return
	}
	if n <= 0 || n > len(data) {
		t.Fatalf("n = %d, len %d", n, len(data))
	}
	whole := append([]byte(nil), data[:n]...)
	again, n2, err := decode(whole, v)
	if err != nil || n2 != n || dump(again) != dump(pkt) {
		t.Fatalf("decoding src[:n] differs: %v %d", err, n2)
	}
	for _, cut := range []int{n / 2, n - 1} {
		if _, _, err := decode(whole[:cut], v); err != ErrIncomplete {
			t.Fatalf("prefix %d of %d: %v, want ErrIncomplete", cut, n, err)
		}
	}
	enc := appendAny(nil, v, pkt)
	re, n3, err := decode(enc, v)
	if err != nil || n3 != len(enc) {
		t.Fatalf("re-decode: %v (n %d of %d)\n%s\n% x", err, n3, len(enc), dump(pkt), enc)
	}
	if dump(re) != dump(pkt) {
		t.Fatalf("unstable:\n first %s\nsecond %s", dump(pkt), dump(re))
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder of whatever type the
// first byte names, in the version the second argument selects.
func FuzzDecode(f *testing.F) {
	addSeeds(f, nil)
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		checkDecode(t, data, fuzzVersion(vb), decodeAny)
	})
}

// FuzzDecodeConnect fuzzes CONNECT (any version; the packet names it).
func FuzzDecodeConnect(f *testing.F) {
	addSeeds(f, func(raw []byte) bool { return raw[0]>>4 == byte(TypeConnect) })
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		if len(data) > 0 {
			data[0] = byte(TypeConnect)<<4 | data[0]&0x0F
		}
		checkDecode(t, data, fuzzVersion(vb), decodeAny)
	})
}

// FuzzDecodePublish fuzzes PUBLISH, whose decoder has its own fast path.
func FuzzDecodePublish(f *testing.F) {
	addSeeds(f, func(raw []byte) bool { return raw[0]>>4 == byte(TypePublish) })
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		if len(data) > 0 {
			data[0] = byte(TypePublish)<<4 | data[0]&0x0F
		}
		checkDecode(t, data, fuzzVersion(vb), decodeAny)
	})
}

// FuzzDecodeSubscribe fuzzes SUBSCRIBE and UNSUBSCRIBE.
func FuzzDecodeSubscribe(f *testing.F) {
	addSeeds(f, func(raw []byte) bool {
		return raw[0]>>4 == byte(TypeSubscribe) || raw[0]>>4 == byte(TypeUnsubscribe)
	})
	f.Fuzz(func(t *testing.T, data []byte, vb byte) {
		if len(data) > 0 {
			ty := TypeSubscribe
			if vb&0x80 != 0 {
				ty = TypeUnsubscribe
			}
			data[0] = byte(ty)<<4 | data[0]&0x0F
		}
		checkDecode(t, data, fuzzVersion(vb), decodeAny)
	})
}

// FuzzPacketLen checks the fixed-header reader alone: it never reads more
// than 5 bytes, and its answer for a complete header does not depend on
// the bytes after it.
func FuzzPacketLen(f *testing.F) {
	addSeeds(f, nil)
	f.Fuzz(func(t *testing.T, data []byte, sizeByte byte) {
		limit := int(sizeByte) * 16
		ty, fl, n, err := PacketLen(data, limit)
		if len(data) > 5 {
			ty2, fl2, n2, err2 := PacketLen(data[:5], limit)
			if err2 == ErrIncomplete && n2 > 0 && n2 <= len(data) {
				err2 = nil // Complete header; only the full slice holds the body.
			}
			if ty != ty2 || fl != fl2 || n != n2 || err != err2 {
				t.Fatalf("depends on bytes past the header: %v %d vs %v %d", err, n, err2, n2)
			}
		}
		if err == nil && (n < 2 || n > len(data) || (limit > 0 && n > limit)) {
			t.Fatalf("n = %d, len %d, limit %d", n, len(data), limit)
		}
	})
}
