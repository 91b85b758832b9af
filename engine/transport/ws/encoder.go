package ws

// DefaultCompressThreshold is the message size under which a message is
// sent uncompressed by default: a deflate block costs more than it saves
// on a few MQTT packets.
const DefaultCompressThreshold = 256

// Encoder frames the server's messages. Its zero value sends every
// message as one uncompressed binary frame.
type Encoder struct {
	// Deflate is set when permessage-deflate was negotiated.
	Deflate bool
	// Threshold: messages shorter than this are not compressed.
	Threshold int
}

// AppendMessage appends p as one binary message in one frame to dst,
// compressed when negotiated and p is at least Threshold bytes and the
// compressed form is shorter. Uncompressed, p is copied once, after a
// header of at most 10 bytes; compressed, it is compressed into scratch
// (returned for reuse) and copied from there.
func (e *Encoder) AppendMessage(dst, p, scratch []byte) (out, scratchOut []byte) {
	if e.Deflate && len(p) >= e.Threshold && len(p) > 0 {
		scratch = compressTo(scratch[:0], p)
		if len(scratch) < len(p) {
			dst = AppendHeader(dst, OpBinary, true, true, len(scratch))
			return append(dst, scratch...), scratch
		}
	}
	dst = AppendHeader(dst, OpBinary, true, false, len(p))
	return append(dst, p...), scratch
}

// AppendPong appends the pong answering a ping with payload.
func AppendPong(dst, payload []byte) []byte {
	dst = AppendHeader(dst, OpPong, true, false, len(payload))
	return append(dst, payload...)
}
