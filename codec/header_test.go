package codec

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

func TestPacketLen(t *testing.T) {
	tests := []struct {
		name      string
		src       []byte
		max       int
		wantType  Type
		wantFlags byte
		wantN     int
		wantErr   error
	}{
		{name: "empty", src: nil, wantErr: ErrIncomplete},
		{name: "one byte", src: []byte{0x30}, wantErr: ErrIncomplete},
		{name: "header complete, body missing", src: []byte{0x30, 0x05, 0x00}, wantType: TypePublish, wantN: 7, wantErr: ErrIncomplete},
		{name: "varint incomplete", src: []byte{0x30, 0x80}, wantType: TypePublish, wantErr: ErrIncomplete},
		{name: "whole", src: []byte{0x62, 0x02, 0x00, 0x01, 0xFF}, wantType: TypePubrel, wantFlags: 2, wantN: 4},
		{name: "two-byte length", src: append([]byte{0x30, 0x80, 0x01}, make([]byte, 128)...), wantType: TypePublish, wantN: 131},
		{name: "max length", src: []byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, wantType: TypePublish, wantN: 5 + MaxRemainingLength, wantErr: ErrIncomplete},
		{name: "five-byte length", src: []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, wantType: TypePublish, wantErr: ErrMalformedRemainingLength},
		{name: "non-minimal length [MQTT-1.5.5-1]", src: []byte{0x30, 0x81, 0x00}, wantType: TypePublish, wantErr: ErrMalformedRemainingLength},
		// A packet over the maximum is rejected from its header alone,
		// before the body arrives.
		{name: "too large from header", src: []byte{0x30, 0x80, 0x08}, max: 1024, wantType: TypePublish, wantN: 1027, wantErr: ErrPacketTooLarge},
		{name: "at maximum", src: []byte{0xC0, 0x00}, max: 2, wantType: TypePingreq, wantN: 2},
		{name: "reserved type", src: []byte{0x00, 0x00}, wantErr: ErrReservedType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ty, fl, n, err := PacketLen(tt.src, tt.max)
			if err != tt.wantErr || n != tt.wantN || ty != tt.wantType || fl != tt.wantFlags {
				t.Fatalf("got (%d, %d, %d, %v), want (%d, %d, %d, %v)", ty, fl, n, err,
					tt.wantType, tt.wantFlags, tt.wantN, tt.wantErr)
			}
		})
	}
}

// TestDecodeNeverReadsPastPacket checks that decoders see only the declared
// remaining length: a valid packet followed by garbage decodes the same, and
// a packet whose fields would run past its remaining length into the next
// packet is malformed rather than read from the next packet.
func TestDecodeNeverReadsPastPacket(t *testing.T) {
	// PUBLISH with remaining length 3: topic length 5 claims bytes that
	// belong to the next packet (a PINGREQ and more).
	src := []byte{0x30, 0x03, 0x00, 0x05, 0x61, 0xC0, 0x00, 0x61, 0x62, 0x63}
	var p Publish
	if _, err := DecodePublish(src, V311, &p); err != ErrMalformed {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	// SUBSCRIBE whose last options byte would be the next packet's first.
	src = []byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61, 0x01}
	var s Subscribe
	if _, err := DecodeSubscribe(src, V311, &s); err != ErrMalformed {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestIncompleteConsumesNothing(t *testing.T) {
	raw := AppendPublish(nil, V5, benchPublish(300, true))
	for cut := 0; cut < len(raw); cut++ {
		var p Publish
		n, err := DecodePublish(raw[:cut], V5, &p)
		if err != ErrIncomplete || n != 0 {
			t.Fatalf("cut %d: n %d err %v", cut, n, err)
		}
	}
}

func TestValidUTF8String(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{s: "", want: true},
		{s: "sensors/building-1/floor-2/temp", want: true},
		{s: "日本/😀", want: true},
		{s: "\ufeffbom", want: true},             // [MQTT-1.5.4-3] kept, not stripped.
		{s: "a\x00b", want: false},               // [MQTT-1.5.4-2]
		{s: "0123456789abcdef\x00", want: false}, // U+0000 in the overlapping last word.
		{s: "\xed\xa0\x80", want: false},         // [MQTT-1.5.4-1] surrogate U+D800.
		{s: "\xc0\x80", want: false},             // Overlong U+0000.
		{s: "0123456789\xff", want: false},       // Ill-formed after an ASCII run.
		{s: "é\x00", want: false},                // U+0000 after a non-ASCII rune.
		{s: "\xf4\x90\x80\x80", want: false},     // Above U+10FFFF.
		{s: "abcdefgh+#/ijklmnop", want: true},   // Wildcards are fine in strings.
	}
	for _, tt := range tests {
		if got := ValidUTF8String([]byte(tt.s)); got != tt.want {
			t.Errorf("ValidUTF8String(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestValidTopicName(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{s: "a", want: true},
		{s: "", want: false},                             // [MQTT-4.7.3-1]
		{s: "a/+/b", want: false},                        // [MQTT-3.3.2-2]
		{s: "sensors/building-1/floor-2/#", want: false}, // [MQTT-3.3.2-2]
		{s: "0123456789abcde+", want: false},
		{s: "+123456789abcdefg", want: false}, // Wildcard in the first word, clean last word.
		{s: "01234567#9abcdefg", want: false},
		{s: "é/#", want: false},
		{s: "é/a", want: true},
		{s: "a\x00", want: false}, // [MQTT-4.7.3-2]
	}
	for _, tt := range tests {
		if got := ValidTopicName([]byte(tt.s)); got != tt.want {
			t.Errorf("ValidTopicName(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// TestValidatorsAgainstReference compares the SWAR fast paths with plain
// reference implementations on random strings built from a small alphabet
// of interesting bytes, at every length up to 40.
func TestValidatorsAgainstReference(t *testing.T) {
	alphabet := []string{"a", "/", "+", "#", "\x00", "é", "\xff", "\xed\xa0\x80", "\xef\xbb\xbf", "z", " ", "$", "!", "\x7f", ","}
	r := newGen(5).r
	for i := 0; i < 20000; i++ {
		var b []byte
		n := r.Intn(40)
		for len(b) < n {
			if r.Intn(8) == 0 {
				b = append(b, alphabet[r.Intn(len(alphabet))]...)
			} else {
				b = append(b, byte('a'+r.Intn(26)))
			}
		}
		wantUTF8 := utf8.Valid(b) && !bytes.Contains(b, []byte{0})
		if got := ValidUTF8String(b); got != wantUTF8 {
			t.Fatalf("ValidUTF8String(%q) = %v, want %v", b, got, wantUTF8)
		}
		wantTopic := wantUTF8 && !bytes.ContainsAny(b, "+#")
		if got := checkTopic(b) == nil; got != wantTopic {
			t.Fatalf("checkTopic(%q) ok = %v, want %v", b, got, wantTopic)
		}
		// The fast paths may say "not sure" (false) but never accept wrongly.
		if plainString(b) && !wantUTF8 {
			t.Fatalf("plainString(%q) accepted an invalid string", b)
		}
		if len(b) >= 8 && plainTopicWords(b) && !wantTopic {
			t.Fatalf("plainTopicWords(%q) accepted an invalid topic", b)
		}
		// shortPlainAt reads b with its length prefix, followed by a byte it
		// must not read into.
		enc := append(appendBinary([]byte{0xAA}, b), 0)
		if s, next := shortPlainAt(enc, 1); next > 0 && (!wantUTF8 || !bytes.Equal(s, b) || next != len(enc)-1) {
			t.Fatalf("shortPlainAt(%q) = %q, %d: accepted an invalid string or misread it", b, s, next)
		} else if next == 0 && wantUTF8 && len(b) >= 4 && len(b) <= 16 && plainString(b) {
			t.Fatalf("shortPlainAt(%q) refused a short ASCII string", b)
		}
	}
}
