package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// MaxRemainingLength is the largest remaining length four variable byte
// integer bytes can carry (268,435,455).
const MaxRemainingLength = 268435455

// PacketLen reads the fixed header at the start of src. On success t and
// flags are the packet type and the low nibble of byte 0, and n is the
// length of the whole packet (fixed header plus remaining length). When src
// is too short it returns ErrIncomplete with n the total length needed if the
// fixed header is complete, else n == 0. A remaining length that is longer
// than four bytes or not minimally encoded returns ErrMalformedRemainingLength;
// with maxPacketSize > 0 a packet longer than maxPacketSize returns
// ErrPacketTooLarge as soon as the header is known, before its body arrives.
// Packet type 0 returns ErrReservedType. It reads at most 5 bytes of src.
func PacketLen(src []byte, maxPacketSize int) (t Type, flags byte, n int, err error) {
	if len(src) < 2 {
		return 0, 0, 0, ErrIncomplete
	}
	t, flags = Type(src[0]>>4), src[0]&0x0F
	if t == TypeReserved {
		return t, flags, 0, ErrReservedType
	}
	var rl, hdr int
	if b := src[1]; b < 0x80 { // Fast path: remaining length < 128.
		rl, hdr = int(b), 2
	} else {
		rl, hdr, err = remainingLength(src)
		if err != nil {
			return t, flags, 0, err
		}
	}
	n = hdr + rl
	if maxPacketSize > 0 && n > maxPacketSize {
		return t, flags, n, ErrPacketTooLarge
	}
	if len(src) < n {
		return t, flags, n, ErrIncomplete
	}
	return t, flags, n, nil
}

// shortLen decodes a remaining length of one or two bytes, the forms of
// every packet under 16 KiB, for the decoders' fast paths. It returns hdr ==
// 0 when the length is longer, malformed or not yet complete; the caller
// then takes the general path through PacketLen. Precondition: len(src) >= 2.
func shortLen(src []byte) (rl, hdr int) {
	if b := src[1]; b < 0x80 {
		return int(b), 2
	}
	if len(src) >= 3 {
		if b := src[2]; b-1 < 0x7F { // 0x01..0x7F: a minimal final byte.
			return int(src[1]&0x7F) | int(b)<<7, 3
		}
	}
	return 0, 0
}

// remainingLength decodes the multi-byte remaining length at src[1:].
// Precondition: len(src) >= 2 and src[1] >= 0x80.
func remainingLength(src []byte) (rl, hdr int, err error) {
	shift := 0
	for i := 1; i < 5; i++ {
		if i >= len(src) {
			return 0, 0, ErrIncomplete
		}
		b := src[i]
		rl |= int(b&0x7F) << shift
		if b < 0x80 {
			if b == 0 { // [MQTT-1.5.5-1] a trailing 0x00 byte is not minimal.
				return 0, 0, ErrMalformedRemainingLength
			}
			return rl, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, ErrMalformedRemainingLength // More than 4 bytes (2.1.4).
}

// header decodes the fixed header of a packet that must be of type want and
// returns its flags, its body (the bytes after the fixed header, exactly the
// remaining length long, capacity capped so nothing past it is reachable)
// and n, the whole packet length.
func header(src []byte, want Type) (flags byte, body []byte, n int, err error) {
	t, flags, n, err := PacketLen(src, 0)
	if err != nil {
		return 0, nil, 0, err
	}
	if t != want {
		return 0, nil, 0, ErrUnexpectedType
	}
	hdr := 2
	for src[hdr-1] >= 0x80 {
		hdr++
	}
	return flags, src[hdr:n:n], n, nil
}

// sizeVarint returns the length of v as a variable byte integer.
func sizeVarint(v int) int {
	switch {
	case v < 128:
		return 1
	case v < 16384:
		return 2
	case v < 2097152:
		return 3
	}
	return 4
}

// appendVarint appends v (0 <= v <= MaxRemainingLength) as a variable byte
// integer.
func appendVarint(dst []byte, v int) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// readVarint decodes a variable byte integer at b[i:], returning the value
// and the index after it.
func readVarint(b []byte, i int) (v, next int, err error) {
	shift := 0
	for k := 0; k < 4; k++ {
		if i >= len(b) {
			return 0, 0, ErrMalformedVarint
		}
		c := b[i]
		i++
		v |= int(c&0x7F) << shift
		if c < 0x80 {
			if c == 0 && k > 0 { // [MQTT-1.5.5-1]
				return 0, 0, ErrMalformedVarint
			}
			return v, i, nil
		}
		shift += 7
	}
	return 0, 0, ErrMalformedVarint
}

// readUint16 reads a big-endian uint16 at b[i:].
func readUint16(b []byte, i int) (uint16, int, error) {
	if i+2 > len(b) {
		return 0, 0, ErrMalformed
	}
	return uint16(b[i])<<8 | uint16(b[i+1]), i + 2, nil
}

// readUint32 reads a big-endian uint32 at b[i:].
func readUint32(b []byte, i int) (uint32, int, error) {
	if i+4 > len(b) {
		return 0, 0, ErrMalformed
	}
	return uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3]), i + 4, nil
}

// readBinary reads two-byte-length-prefixed binary data at b[i:]. The result
// aliases b.
func readBinary(b []byte, i int) ([]byte, int, error) {
	if i+2 > len(b) {
		return nil, 0, ErrMalformed
	}
	l := int(b[i])<<8 | int(b[i+1])
	i += 2
	if i+l > len(b) {
		return nil, 0, ErrMalformed
	}
	return b[i : i+l : i+l], i + l, nil
}

// readString reads a UTF-8 Encoded String at b[i:] and validates it
// [MQTT-1.5.3-1] [MQTT-1.5.3-2] [MQTT-1.5.4-1] [MQTT-1.5.4-2]. The result
// aliases b.
func readString(b []byte, i int) ([]byte, int, error) {
	s, i, err := readBinary(b, i)
	if err != nil {
		return nil, 0, err
	}
	if !plainString(s) && !ValidUTF8String(s) {
		return nil, 0, ErrInvalidUTF8
	}
	return s, i, nil
}

// ValidUTF8String reports whether b is a valid MQTT UTF-8 Encoded String
// body: well-formed UTF-8 without surrogates [MQTT-1.5.3-1] [MQTT-1.5.4-1]
// and without U+0000 [MQTT-1.5.3-2] [MQTT-1.5.4-2]. It does not check the
// 65,535-byte length limit. U+FEFF is kept as a character [MQTT-1.5.4-3].
func ValidUTF8String(b []byte) bool {
	i, n := 0, len(b)
	for ; i+8 <= n; i += 8 { // ASCII without 0x00, 8 bytes per step (SWAR).
		if x := binary.LittleEndian.Uint64(b[i:]); (x|(x-lsb)&^x)&msb != 0 {
			break
		}
	}
	if i < n && i+8 > n && n >= 8 { // The loop ran to the end without a stop.
		if x := binary.LittleEndian.Uint64(b[n-8:]); (x|(x-lsb)&^x)&msb == 0 {
			return true // The overlapping last word covers the tail.
		}
	}
	for ; i < n; i++ {
		if b[i]-1 >= 0x7F { // 0x00 or non-ASCII.
			// utf8.Valid rejects overlong forms and surrogates; the only
			// encoding of U+0000 in valid UTF-8 is the byte 0x00.
			return utf8.Valid(b[i:]) && indexZero(b[i:]) < 0
		}
	}
	return true
}

// ValidTopicName reports whether b is a valid MQTT Topic Name: a valid UTF-8
// string (ValidUTF8String) of at least one byte without the wildcards '+'
// and '#' [MQTT-3.3.2-2] [MQTT-4.7.3-1].
func ValidTopicName(b []byte) bool {
	return len(b) > 0 && checkTopic(b) == nil
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
	// plusWord and hashWord repeat '+' and '#' in every byte.
	plusWord = lsb * '+'
	hashWord = lsb * '#'
)

// topicStop marks the bytes that end the ASCII fast path of checkTopic.
var topicStop = [256]bool{0: true, '+': true, '#': true}

func init() {
	for c := 0x80; c < 0x100; c++ {
		topicStop[c] = true
	}
}

// checkTopic validates a topic name (empty allowed) in one pass: UTF-8 rules
// and no wildcards. Plain ASCII is checked 8 bytes per step with the SWAR
// zero-byte test on x, x^'+' and x^'#'; BenchmarkDecodePublish justifies it,
// topic validation being most of the cost of decoding a PUBLISH.
func checkTopic(b []byte) error {
	if n := len(b); n >= 8 && plainTopicWords(b) {
		return nil
	}
	i, n := 0, len(b)
	for ; i+8 <= n; i += 8 {
		if topicWordStops(binary.LittleEndian.Uint64(b[i:])) {
			break
		}
	}
	if i < n && i+8 > n && n >= 8 && !topicWordStops(binary.LittleEndian.Uint64(b[n-8:])) {
		return nil // The overlapping last word covers the tail.
	}
	for ; i < n; i++ {
		if topicStop[b[i]] {
			return checkTopicSlow(b[i:])
		}
	}
	return nil
}

// topicWordStops reports whether a byte of x is 0x00, non-ASCII, '+' or '#'.
// The common case, every byte in 0x2C..0x7F (letters, digits, '/', '-',
// '.', '_'), takes four operations: adding 0x54 to such a byte sets its top
// bit without a carry. The rest gets the exact test.
func topicWordStops(x uint64) bool {
	if x&msb == 0 && (x+0x54*lsb)&msb == msb {
		return false
	}
	y1, y2 := x^plusWord, x^hashWord
	return (x|(x-lsb)&^x|(y1-lsb)&^y1|(y2-lsb)&^y2)&msb != 0
}

// plainTopicWords reports whether b, len(b) >= 8, is made only of bytes in
// 0x2C..0x7F (no wildcard, no 0x00, no UTF-8 sequence), checking 8 bytes per
// step and the tail with an overlapping last word. A byte c < 0x80 is in the
// range exactly when c+0x54 has its top bit set, and no such sum carries into
// the next byte; a byte >= 0x80 fails on its own top bit, whatever the carries.
// The words are or-ed together and tested once, and the loop keeps only b and
// the accumulator live, so that inlined into DecodePublish it stays in
// registers (perf annotate showed the indexed form spilling its index to the
// stack on every step).
func plainTopicWords(b []byte) bool {
	x := binary.LittleEndian.Uint64(b[len(b)-8:])
	acc := x | ^(x + 0x54*lsb)
	for ; len(b) > 8; b = b[8:] {
		x = binary.LittleEndian.Uint64(b)
		acc |= x | ^(x + 0x54*lsb)
	}
	return acc&msb == 0
}

// plainString reports whether b is made only of ASCII bytes other than 0x00,
// 8 bytes per step with an overlapping last word. It is the inlined fast
// path of readString; false means "ask ValidUTF8String".
func plainString(b []byte) bool {
	n := len(b)
	if n < 8 {
		if n >= 4 { // Two overlapping 4-byte loads make one word.
			x := uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
			return (x|(x-lsb)&^x)&msb == 0
		}
		for _, c := range b {
			if c-1 >= 0x7F {
				return false
			}
		}
		return true
	}
	for i := 0; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(b[i:]); (x|(x-lsb)&^x)&msb != 0 {
			return false
		}
	}
	x := binary.LittleEndian.Uint64(b[n-8:])
	return (x|(x-lsb)&^x)&msb == 0
}

// checkTopicSlow finishes checkTopic from the first byte that is not plain
// ASCII.
func checkTopicSlow(b []byte) error {
	for i, c := range b {
		switch {
		case c == '+' || c == '#':
			return ErrTopicWildcard // [MQTT-3.3.2-2] [MQTT-4.7.0-1]
		case c == 0:
			return ErrInvalidUTF8 // [MQTT-4.7.3-2]
		case c >= 0x80:
			if !ValidUTF8String(b[i:]) {
				return ErrInvalidUTF8
			}
			for _, c := range b[i:] {
				if c == '+' || c == '#' {
					return ErrTopicWildcard
				}
			}
			return nil
		}
	}
	return nil
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// appendUint16 appends v big-endian.
func appendUint16(dst []byte, v uint16) []byte {
	return append(dst, byte(v>>8), byte(v))
}

// appendUint32 appends v big-endian.
func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendBinary appends b with its two-byte length. Precondition:
// len(b) <= 65535.
func appendBinary(dst, b []byte) []byte {
	dst = append(dst, byte(len(b)>>8), byte(len(b)))
	return append(dst, b...)
}

// appendHeader appends the fixed header: byte 0 and the remaining length.
func appendHeader(dst []byte, t Type, flags byte, rl int) []byte {
	dst = append(dst, byte(t)<<4|flags)
	if rl < 128 {
		return append(dst, byte(rl))
	}
	return appendVarint(dst, rl)
}

// grow makes sure dst has room for n more bytes, so the appends that follow
// do not reallocate more than once.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	nd := make([]byte, len(dst), len(dst)+n+len(dst)/4)
	copy(nd, dst)
	return nd
}
