package ws

import (
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
)

// deflateTail ends every compressed message: RFC 7692 7.2.2 has the
// sender strip the empty stored block 00 00 ff ff that a sync flush
// ends with, and the receiver put it back; the final empty stored block
// after it makes the inflater stop with io.EOF at the message's end.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// inflater is a pooled flate reader with its source. One lives only
// while a message is inflated (no context takeover), so an idle
// connection holds none.
type inflater struct {
	src msgReader
	fr  io.ReadCloser
}

var inflaters = sync.Pool{New: func() any {
	f := new(inflater)
	f.fr = flate.NewReader(&f.src)
	return f
}}

// msgReader reads a compressed message, then deflateTail. It is an
// io.ByteReader so that flate reads it without a bufio.Reader of its own.
type msgReader struct {
	b    []byte
	tail int // bytes of deflateTail read
}

func (r *msgReader) Read(p []byte) (int, error) {
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		return n, nil
	}
	if r.tail == len(deflateTail) {
		return 0, io.EOF
	}
	n := copy(p, deflateTail[r.tail:])
	r.tail += n
	return n, nil
}

func (r *msgReader) ReadByte() (byte, error) {
	if len(r.b) > 0 {
		c := r.b[0]
		r.b = r.b[1:]
		return c, nil
	}
	if r.tail == len(deflateTail) {
		return 0, io.EOF
	}
	c := deflateTail[r.tail]
	r.tail++
	return c, nil
}

// inflate appends the inflated form of the compressed message z to dst;
// ErrMessageTooBig as soon as it passes max bytes.
func inflate(dst, z []byte, max int) ([]byte, error) {
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.src = msgReader{b: z}
	if err := f.fr.(flate.Resetter).Reset(&f.src, nil); err != nil {
		return dst, ErrInflate
	}
	start := len(dst)
	for {
		if len(dst)-start > max {
			f.src = msgReader{}
			return dst, ErrMessageTooBig
		}
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		// Read no more than one byte past the bound.
		room := dst[len(dst):min(cap(dst), len(dst)+max+1-(len(dst)-start))]
		n, err := f.fr.Read(room)
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.src = msgReader{}
			return dst, ErrInflate
		}
	}
	f.src = msgReader{}
	if len(dst)-start > max {
		return dst, ErrMessageTooBig
	}
	return dst, nil
}

// compressTo appends the compressed form of p, without the trailing
// 00 00 ff ff (RFC 7692 7.2.1), to dst. Each message is compressed on its
// own (server_no_context_takeover), so no compressor state outlives it.
func compressTo(dst, p []byte) []byte {
	w := appendWriter{b: dst}
	// StatelessDeflate only fails when its writer does.
	_ = flate.StatelessDeflate(&w, p, false, nil)
	b := w.b
	if n := len(b); n-len(dst) >= 4 && string(b[n-4:]) == "\x00\x00\xff\xff" {
		b = b[:n-4]
	}
	return b
}

// appendWriter is an io.Writer appending to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
