package ws

import (
	"encoding/binary"
	"unicode/utf8"
)

// Limits bound what a Decoder accepts. An uncompressed message is
// streamed (its payload is handed on as it arrives, whatever the frame or
// message size), so only its frames are bounded; a compressed one is held
// whole and inflated at its end, so it is bounded before and after
// inflation.
type Limits struct {
	// MaxFrame bounds a data frame's payload on the wire.
	MaxFrame int
	// MaxMessage bounds a compressed message on the wire.
	MaxMessage int
	// MaxInflated bounds a compressed message once inflated (the bound of
	// a deflate bomb); 0 means MaxMessage.
	MaxInflated int
}

// Control is a whole control frame the Decoder read. Payload aliases the
// Decoder and is valid until its next Decode.
type Control struct {
	Op      Opcode
	Payload []byte
	// Code is the status of a close frame (CloseNoStatus if it has none).
	Code uint16
}

// zKeep is the capacity of the compressed-message buffer a Decoder keeps
// between messages; a larger one is dropped once its message is inflated.
const zKeep = 4 << 10

// Decoder reads client frames incrementally. It is not safe for
// concurrent use; its zero value with Limits set reads uncompressed
// frames.
type Decoder struct {
	Limits Limits
	// Deflate is set when permessage-deflate was negotiated: the first
	// frame of a message may then set RSV1.
	Deflate bool

	// The frame being read: its header was consumed, left payload bytes
	// have not been.
	inFrame bool
	op      Opcode
	fin     bool
	mask    [4]byte
	maskPos int
	left    int

	// The data message being read.
	inMessage  bool
	compressed bool
	size       int    // wire bytes of the compressed message so far
	z          []byte // unmasked compressed payload of the message

	// The control frame being read.
	ctl    [maxControlPayload]byte
	ctlLen int
}

// Decode reads frames from src, the bytes received and not consumed yet.
// The payload of data messages is unmasked and appended to dst (a
// compressed message when its last frame has arrived, inflated). It
// returns how many bytes of src it consumed (the caller discards them and
// keeps the rest for the next call), the extended dst, and either a
// control frame that has arrived whole (ctl.Op != 0; Decode stops after
// it so that the caller can answer) or an error (a *CloseError: send its
// close frame and close). Decode consumes a frame's payload as it
// arrives, so src may end anywhere.
func (d *Decoder) Decode(src, dst []byte) (n int, out []byte, ctl Control, err error) {
	for n < len(src) {
		if !d.inFrame {
			h, ok, err := parseHeader(src[n:])
			if err != nil {
				return n, dst, ctl, err
			}
			if !ok {
				return n, dst, ctl, nil
			}
			if err := d.begin(&h); err != nil {
				return n, dst, ctl, err
			}
			n += h.size
			if d.left > 0 {
				continue
			}
		} else {
			take := min(d.left, len(src)-n)
			p := src[n : n+take]
			n += take
			d.left -= take
			switch {
			case d.op.IsControl():
				c := d.ctl[d.ctlLen : d.ctlLen+take]
				copy(c, p)
				d.maskPos = MaskBytes(d.mask, d.maskPos, c)
				d.ctlLen += take
			case d.compressed:
				i := len(d.z)
				d.z = append(d.z, p...)
				d.maskPos = MaskBytes(d.mask, d.maskPos, d.z[i:])
			default:
				i := len(dst)
				dst = append(dst, p...)
				d.maskPos = MaskBytes(d.mask, d.maskPos, dst[i:])
			}
			if d.left > 0 {
				return n, dst, ctl, nil
			}
		}
		// The frame is whole.
		d.inFrame = false
		if d.op.IsControl() {
			ctl, err = d.control()
			return n, dst, ctl, err
		}
		if d.fin {
			d.inMessage = false
			if d.compressed {
				dst, err = d.inflate(dst)
				if err != nil {
					return n, dst, ctl, err
				}
			}
		}
	}
	return n, dst, ctl, nil
}

// begin takes the header of the next frame.
func (d *Decoder) begin(h *header) error {
	if h.rsv1 && (h.op != OpBinary && h.op != OpText || !d.Deflate) {
		return ErrReservedBits // RSV1 only on a message's first frame (RFC 7692 6)
	}
	switch h.op {
	case OpText:
		return ErrText // [MQTT-6.0.0-1]
	case OpBinary:
		if d.inMessage {
			return ErrExpectedContinue
		}
		d.inMessage = true
		d.compressed = h.rsv1
		d.size = 0
	case OpContinuation:
		if !d.inMessage {
			return ErrUnexpectedContinue
		}
	default:
		d.ctlLen = 0
	}
	if !h.op.IsControl() {
		if h.length > uint64(d.Limits.MaxFrame) {
			return ErrFrameTooBig
		}
		if d.compressed {
			if h.length > uint64(d.Limits.MaxMessage-d.size) {
				return ErrMessageTooBig
			}
			d.size += int(h.length)
		}
	}
	d.inFrame = true
	d.op, d.fin, d.mask, d.maskPos, d.left = h.op, h.fin, h.mask, 0, int(h.length)
	return nil
}

// control checks the control frame just read.
func (d *Decoder) control() (Control, error) {
	c := Control{Op: d.op, Payload: d.ctl[:d.ctlLen]}
	if c.Op == OpClose {
		switch {
		case len(c.Payload) == 0:
			c.Code = CloseNoStatus
		case len(c.Payload) == 1:
			return Control{}, ErrBadClosePayload
		default:
			c.Code = binary.BigEndian.Uint16(c.Payload)
			if !validCloseCode(c.Code) || !utf8.Valid(c.Payload[2:]) {
				return Control{}, ErrBadClosePayload
			}
		}
	}
	return c, nil
}

// inflate appends the inflated compressed message to dst.
func (d *Decoder) inflate(dst []byte) ([]byte, error) {
	limit := d.Limits.MaxInflated
	if limit <= 0 {
		limit = d.Limits.MaxMessage
	}
	dst, err := inflate(dst, d.z, limit)
	if cap(d.z) > zKeep {
		d.z = nil
	} else {
		d.z = d.z[:0]
	}
	d.compressed = false
	return dst, err
}

// Idle reports whether the decoder is between frames and messages, so
// holds nothing a later byte depends on but its limits.
func (d *Decoder) Idle() bool { return !d.inFrame && !d.inMessage }

// Release drops the decoder's compressed-message buffer; for a
// connection that goes idle.
func (d *Decoder) Release() {
	if !d.inMessage {
		d.z = nil
	}
}
