package ws

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var testLimits = Limits{MaxFrame: 1 << 17, MaxMessage: 1 << 18}

func TestDecodeMessages(t *testing.T) {
	long := strings.Repeat("0123456789", 7000) // 64-bit length form
	mid := strings.Repeat("x", 300)            // 16-bit length form
	tests := []struct {
		name     string
		in       []byte
		deflate  bool
		data     string
		controls []Control
		err      error
	}{
		{name: "one frame", in: frames(bin("hello")), data: "hello"},
		{name: "empty frame", in: frames(bin("")), data: ""},
		{name: "16-bit length", in: frames(bin(mid)), data: mid},
		{name: "64-bit length", in: frames(bin(long)), data: long},
		{name: "messages back to back", in: frames(bin("ab"), bin("cd"), bin("ef")), data: "abcdef"},
		{
			name: "fragments with a ping between",
			in: frames(
				clientFrame{op: OpBinary, payload: []byte("he"), key: testKey},
				clientFrame{op: OpContinuation, payload: []byte("l"), key: [4]byte{1, 2, 3, 4}},
				clientFrame{op: OpPing, fin: true, payload: []byte("p!"), key: testKey},
				clientFrame{op: OpContinuation, fin: true, payload: []byte("lo"), key: testKey},
			),
			data:     "hello",
			controls: []Control{{Op: OpPing, Payload: []byte("p!")}},
		},
		{
			name:     "close with status",
			in:       frames(clientFrame{op: OpClose, fin: true, payload: []byte("\x03\xe8bye"), key: testKey}),
			controls: []Control{{Op: OpClose, Payload: []byte("\x03\xe8bye"), Code: CloseNormal}},
		},
		{
			name:     "close without status",
			in:       frames(clientFrame{op: OpClose, fin: true, key: testKey}),
			controls: []Control{{Op: OpClose, Payload: []byte{}, Code: CloseNoStatus}},
		},
		{
			name:    "compressed",
			in:      frames(clientFrame{op: OpBinary, fin: true, rsv1: true, payload: stdDeflate([]byte(long)), key: testKey}),
			deflate: true,
			data:    long,
		},
		{
			name: "compressed in fragments, then plain",
			in: func() []byte {
				z := stdDeflate([]byte(mid))
				return frames(
					clientFrame{op: OpBinary, rsv1: true, payload: z[:3], key: testKey},
					clientFrame{op: OpContinuation, payload: z[3:5], key: testKey},
					clientFrame{op: OpContinuation, fin: true, payload: z[5:], key: testKey},
					bin("tail"),
				)
			}(),
			deflate: true,
			data:    mid + "tail",
		},
		{name: "unmasked", in: AppendHeader(nil, OpBinary, true, false, 0), err: ErrUnmasked},
		{name: "text", in: frames(clientFrame{op: OpText, fin: true, payload: []byte("hi"), key: testKey}), err: ErrText},
		{name: "reserved opcode", in: frames(clientFrame{op: 3, fin: true, key: testKey}), err: ErrReservedOpcode},
		{name: "rsv2", in: []byte{0x82 | 0x20, 0x80, 0, 0, 0, 0}, err: ErrReservedBits},
		{name: "rsv1 not negotiated", in: frames(clientFrame{op: OpBinary, fin: true, rsv1: true, key: testKey}), err: ErrReservedBits},
		{
			name:    "rsv1 on a continuation",
			in:      frames(clientFrame{op: OpBinary, key: testKey}, clientFrame{op: OpContinuation, fin: true, rsv1: true, key: testKey}),
			deflate: true,
			err:     ErrReservedBits,
		},
		{name: "rsv1 on a ping", in: frames(clientFrame{op: OpPing, fin: true, rsv1: true, key: testKey}), deflate: true, err: ErrReservedBits},
		{name: "lone continuation", in: frames(clientFrame{op: OpContinuation, fin: true, key: testKey}), err: ErrUnexpectedContinue},
		{
			name: "new message inside a message",
			in:   frames(clientFrame{op: OpBinary, payload: []byte("a"), key: testKey}, bin("b")),
			err:  ErrExpectedContinue,
		},
		{name: "fragmented ping", in: frames(clientFrame{op: OpPing, key: testKey}), err: ErrControlFragmented},
		{name: "long ping", in: frames(clientFrame{op: OpPing, fin: true, payload: make([]byte, 126), key: testKey}), err: ErrControlTooLong},
		{name: "non-minimal 16-bit length", in: []byte{0x82, 0x80 | 126, 0, 5, 0, 0, 0, 0}, err: ErrNonMinimalLength},
		{name: "non-minimal 64-bit length", in: []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}, err: ErrNonMinimalLength},
		{name: "64-bit length with top bit", in: []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, err: ErrNonMinimalLength},
		{name: "frame too big", in: frames(bin(strings.Repeat("x", 1<<17+1))), err: ErrFrameTooBig},
		{
			name: "uncompressed message past MaxMessage",
			in: frames(
				clientFrame{op: OpBinary, payload: []byte(long), key: testKey},
				clientFrame{op: OpContinuation, payload: []byte(long), key: testKey},
				clientFrame{op: OpContinuation, payload: []byte(long), key: testKey},
				clientFrame{op: OpContinuation, fin: true, payload: []byte(long), key: testKey},
			),
			data: long + long + long + long,
		},
		{
			name: "compressed message too big over fragments",
			in: frames(
				clientFrame{op: OpBinary, rsv1: true, payload: make([]byte, 1<<17), key: testKey},
				clientFrame{op: OpContinuation, payload: make([]byte, 1<<17), key: testKey},
				clientFrame{op: OpContinuation, fin: true, payload: []byte("x"), key: testKey},
			),
			deflate: true,
			err:     ErrMessageTooBig,
		},
		{name: "close with one byte", in: frames(clientFrame{op: OpClose, fin: true, payload: []byte{3}, key: testKey}), err: ErrBadClosePayload},
		{name: "close with code 1005", in: frames(clientFrame{op: OpClose, fin: true, payload: []byte{0x03, 0xed}, key: testKey}), err: ErrBadClosePayload},
		{name: "close with bad UTF-8", in: frames(clientFrame{op: OpClose, fin: true, payload: []byte{0x03, 0xe8, 0xff}, key: testKey}), err: ErrBadClosePayload},
		{
			name:    "invalid compressed data",
			in:      frames(clientFrame{op: OpBinary, fin: true, rsv1: true, payload: []byte{0xff, 0xff, 0xff}, key: testKey}),
			deflate: true,
			err:     ErrInflate,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, step := range []int{0, 1, 2, 3, 7, 100} {
				d := &Decoder{Limits: testLimits, Deflate: tt.deflate}
				r := decodeAll(d, tt.in, step)
				require.ErrorIs(t, r.err, tt.err, "step %d", step)
				if tt.err != nil {
					continue
				}
				require.Equal(t, tt.data, string(r.data), "step %d", step)
				require.Equal(t, tt.controls, r.controls, "step %d", step)
				require.Equal(t, len(tt.in), r.consumed, "step %d", step)
				require.True(t, d.Idle(), "step %d", step)
			}
		})
	}
}

// A compressed message that inflates past MaxMessage stops the inflater
// at the bound: a deflate bomb costs MaxMessage bytes, not its full size.
func TestDecodeDeflateBomb(t *testing.T) {
	bomb := stdDeflate(make([]byte, 64<<20)) // 64 MiB of zeros
	require.Less(t, len(bomb), 100<<10)
	d := &Decoder{Limits: Limits{MaxFrame: 1 << 20, MaxMessage: 1 << 20}, Deflate: true}
	n, out, _, err := d.Decode(frames(clientFrame{op: OpBinary, fin: true, rsv1: true, payload: bomb, key: testKey}), nil)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, CloseMessageTooBig, ce.Code)
	require.Positive(t, n)
	require.LessOrEqual(t, len(out), 1<<20+1)
	require.LessOrEqual(t, cap(out), 4<<20)
}

// The same message at the bound exactly inflates.
func TestDecodeInflateAtBound(t *testing.T) {
	p := bytes.Repeat([]byte("abc"), 1000)
	d := &Decoder{Limits: Limits{MaxFrame: 1 << 20, MaxMessage: len(p)}, Deflate: true}
	r := decodeAll(d, frames(clientFrame{op: OpBinary, fin: true, rsv1: true, payload: stdDeflate(p), key: testKey}), 0)
	require.NoError(t, r.err)
	require.Equal(t, p, r.data)

	d = &Decoder{Limits: Limits{MaxFrame: 1 << 20, MaxMessage: len(p) - 1}, Deflate: true}
	r = decodeAll(d, frames(clientFrame{op: OpBinary, fin: true, rsv1: true, payload: stdDeflate(p), key: testKey}), 0)
	require.ErrorIs(t, r.err, ErrMessageTooBig)
}

// A large compressed buffer is not kept once its message is inflated.
func TestDecodeReleasesCompressedBuffer(t *testing.T) {
	p := make([]byte, 200<<10)
	for i := range p {
		p[i] = byte(i * 7919 >> 3)
	}
	d := &Decoder{Limits: Limits{MaxFrame: 1 << 20, MaxMessage: 1 << 20}, Deflate: true}
	r := decodeAll(d, frames(clientFrame{op: OpBinary, fin: true, rsv1: true, payload: stdDeflate(p), key: testKey}), 0)
	require.NoError(t, r.err)
	require.Equal(t, p, r.data)
	require.LessOrEqual(t, cap(d.z), zKeep)
}

func TestDecodeAllocs(t *testing.T) {
	in := frames(bin(strings.Repeat("m", 100)), bin(strings.Repeat("n", 1000)))
	wire := make([]byte, len(in))
	dst := make([]byte, 0, 4096)
	d := &Decoder{Limits: testLimits}
	allocs := testing.AllocsPerRun(100, func() {
		copy(wire, in) // Decode unmasks what it copies, not its input; copy anyway for clarity
		n, out, _, err := d.Decode(wire, dst[:0])
		if err != nil || n != len(wire) || len(out) != 1100 {
			t.Fatalf("n %d out %d err %v", n, len(out), err)
		}
	})
	require.Zero(t, allocs)
}

func TestMaskBytes(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		for pos := range 4 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i)
			}
			want := make([]byte, n)
			for i := range want {
				want[i] = byte(i) ^ key[(pos+i)&3]
			}
			end := MaskBytes(key, pos, b)
			require.Equal(t, want, b, "n %d pos %d", n, pos)
			require.Equal(t, (pos+n)&3, end)
		}
	}
}

func TestCloseErrorMessage(t *testing.T) {
	var ce *CloseError
	require.True(t, errors.As(error(ErrFrameTooBig), &ce))
	require.Equal(t, "ws: frame over the size limit (close 1009)", ErrFrameTooBig.Error())
}
