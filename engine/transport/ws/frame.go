package ws

import (
	"encoding/binary"
	"strconv"
)

// Opcode is a frame's opcode (RFC 6455 5.2).
type Opcode byte

// The opcodes of RFC 6455 5.2.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (ping, pong, close).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// maxControlPayload bounds a control frame's payload (RFC 6455 5.5).
const maxControlPayload = 125

// MaxHeaderLen is the longest frame header: 2 bytes, 8 of extended
// length, 4 of mask key.
const MaxHeaderLen = 14

// Close status codes (RFC 6455 7.4.1).
const (
	CloseNormal          uint16 = 1000
	CloseGoingAway       uint16 = 1001
	CloseProtocolError   uint16 = 1002
	CloseUnsupportedData uint16 = 1003
	CloseNoStatus        uint16 = 1005 // never sent: no code in a close frame
	CloseInvalidPayload  uint16 = 1007
	ClosePolicyViolation uint16 = 1008
	CloseMessageTooBig   uint16 = 1009
	CloseInternalError   uint16 = 1011
)

// CloseError is a protocol failure of the peer: the close code to send
// and why.
type CloseError struct {
	Code   uint16
	Reason string
}

func (e *CloseError) Error() string {
	return "ws: " + e.Reason + " (close " + strconv.Itoa(int(e.Code)) + ")"
}

// The decoder's failures, built once.
var (
	ErrUnmasked           = &CloseError{CloseProtocolError, "client frame not masked"}
	ErrReservedBits       = &CloseError{CloseProtocolError, "reserved bits set"}
	ErrReservedOpcode     = &CloseError{CloseProtocolError, "reserved opcode"}
	ErrControlTooLong     = &CloseError{CloseProtocolError, "control frame over 125 bytes"}
	ErrControlFragmented  = &CloseError{CloseProtocolError, "fragmented control frame"}
	ErrUnexpectedContinue = &CloseError{CloseProtocolError, "continuation outside a message"}
	ErrExpectedContinue   = &CloseError{CloseProtocolError, "new message inside a fragmented message"}
	ErrNonMinimalLength   = &CloseError{CloseProtocolError, "payload length not in its shortest form"}
	ErrBadClosePayload    = &CloseError{CloseProtocolError, "malformed close frame"}
	ErrText               = &CloseError{CloseUnsupportedData, "text frame (MQTT needs binary)"}
	ErrFrameTooBig        = &CloseError{CloseMessageTooBig, "frame over the size limit"}
	ErrMessageTooBig      = &CloseError{CloseMessageTooBig, "message over the size limit"}
	ErrInflate            = &CloseError{CloseInvalidPayload, "invalid compressed data"}
)

// header is a parsed frame header.
type header struct {
	fin, rsv1 bool
	op        Opcode
	masked    bool
	mask      [4]byte
	length    uint64
	size      int // bytes the header took
}

// parseHeader parses the frame header at the start of b. ok is false when
// b does not hold the whole header yet. Checks that need no decoder state
// are made here.
func parseHeader(b []byte) (h header, ok bool, err error) {
	if len(b) < 2 {
		return h, false, nil
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&0x80 != 0
	h.rsv1 = b0&0x40 != 0
	h.op = Opcode(b0 & 0x0f)
	h.masked = b1&0x80 != 0
	if b0&0x30 != 0 {
		return h, false, ErrReservedBits
	}
	switch h.op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return h, false, ErrReservedOpcode
	}
	if !h.masked {
		return h, false, ErrUnmasked // RFC 6455 5.1
	}
	n := 2
	switch l := b1 & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, false, nil
		}
		h.length = uint64(binary.BigEndian.Uint16(b[2:]))
		if h.length < 126 {
			return h, false, ErrNonMinimalLength
		}
		n = 4
	case 127:
		if len(b) < 10 {
			return h, false, nil
		}
		h.length = binary.BigEndian.Uint64(b[2:])
		if h.length <= 0xffff || h.length>>63 != 0 {
			return h, false, ErrNonMinimalLength
		}
		n = 10
	default:
		h.length = uint64(l)
	}
	if h.op.IsControl() {
		if !h.fin {
			return h, false, ErrControlFragmented
		}
		if h.length > maxControlPayload {
			return h, false, ErrControlTooLong
		}
	}
	if len(b) < n+4 {
		return h, false, nil
	}
	copy(h.mask[:], b[n:n+4])
	h.size = n + 4
	return h, true, nil
}

// AppendHeader appends a server frame header (unmasked) for a frame of n
// payload bytes.
func AppendHeader(dst []byte, op Opcode, fin, rsv1 bool, n int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// AppendClientHeader appends a client frame header, masked with key, for
// a frame of n payload bytes; the payload must be masked with MaskBytes.
func AppendClientHeader(dst []byte, op Opcode, fin, rsv1 bool, n int, key [4]byte) []byte {
	i := len(dst)
	dst = AppendHeader(dst, op, fin, rsv1, n)
	dst[i+1] |= 0x80
	return append(dst, key[:]...)
}

// MaskBytes XORs b with key, starting at position pos of the key (0 to
// 3), and returns the position after b. Masking twice unmasks.
func MaskBytes(key [4]byte, pos int, b []byte) int {
	if len(b) >= 16 {
		// Rotate the key so that b[0] takes key[pos], then go 8 bytes at a time.
		var k [8]byte
		for i := range k {
			k[i] = key[(pos+i)&3]
		}
		k8 := binary.LittleEndian.Uint64(k[:])
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k8)
			b = b[8:]
		}
	}
	for i := range b {
		b[i] ^= key[pos&3]
		pos++
	}
	return pos & 3
}

// AppendClose appends a close frame with code and reason (trimmed to fit
// 125 bytes); code 0 sends no status.
func AppendClose(dst []byte, code uint16, reason string) []byte {
	if code == 0 {
		return AppendHeader(dst, OpClose, true, false, 0)
	}
	if len(reason) > maxControlPayload-2 {
		reason = reason[:maxControlPayload-2]
	}
	dst = AppendHeader(dst, OpClose, true, false, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, code)
	return append(dst, reason...)
}

// validCloseCode reports whether a peer may send code in a close frame
// (RFC 6455 7.4).
func validCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
