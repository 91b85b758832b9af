package ws

import (
	"bytes"
	"compress/flate"
)

// clientFrame is one frame as a client sends it, masked with key.
type clientFrame struct {
	op      Opcode
	fin     bool
	rsv1    bool
	payload []byte
	key     [4]byte
}

// appendClientFrame appends f to dst, masked.
func appendClientFrame(dst []byte, f clientFrame) []byte {
	dst = AppendClientHeader(dst, f.op, f.fin, f.rsv1, len(f.payload), f.key)
	i := len(dst)
	dst = append(dst, f.payload...)
	MaskBytes(f.key, 0, dst[i:])
	return dst
}

// frames encodes fs one after the other.
func frames(fs ...clientFrame) []byte {
	var b []byte
	for _, f := range fs {
		b = appendClientFrame(b, f)
	}
	return b
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// bin is a whole binary message in one frame.
func bin(p string) clientFrame {
	return clientFrame{op: OpBinary, fin: true, payload: []byte(p), key: testKey}
}

// stdDeflate compresses p as a permessage-deflate sender does, with the
// standard library: a sync flush, its 00 00 ff ff stripped.
func stdDeflate(p []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// result is everything Decode produced over some input.
type result struct {
	data     []byte
	controls []Control
	err      error
	consumed int
}

// decodeAll runs Decode over src given in chunks of at most step bytes
// (all at once if step <= 0), as a transport would: the unconsumed bytes
// stay and more are added. It stops at the first error.
func decodeAll(d *Decoder, src []byte, step int) result {
	var r result
	var buf []byte
	for i := 0; i < len(src) || len(buf) > 0; {
		if i < len(src) {
			j := len(src)
			if step > 0 {
				j = min(i+step, len(src))
			}
			buf = append(buf, src[i:j]...)
			i = j
		}
		for {
			n, out, ctl, err := d.Decode(buf, r.data)
			r.data = out
			buf = buf[n:]
			r.consumed += n
			if err != nil {
				r.err = err
				return r
			}
			if ctl.Op == 0 {
				break
			}
			ctl.Payload = bytes.Clone(ctl.Payload)
			r.controls = append(r.controls, ctl)
		}
		if i == len(src) {
			break
		}
	}
	return r
}
