package ws

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// serverFrame is one frame as a client reads it.
type serverFrame struct {
	fin, rsv1 bool
	op        Opcode
	payload   []byte
}

// readServerFrame parses one unmasked frame at the start of b.
func readServerFrame(t *testing.T, b []byte) (serverFrame, int) {
	t.Helper()
	require.GreaterOrEqual(t, len(b), 2)
	f := serverFrame{fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, op: Opcode(b[0] & 0xf)}
	require.Zero(t, b[1]&0x80, "server frames are not masked")
	n, h := int(b[1]&0x7f), 2
	switch n {
	case 126:
		n, h = int(b[2])<<8|int(b[3]), 4
	case 127:
		n, h = 0, 10
		for _, c := range b[2:10] {
			n = n<<8 | int(c)
		}
	}
	require.GreaterOrEqual(t, len(b), h+n)
	f.payload = b[h : h+n]
	return f, h + n
}

// stdInflate inflates a permessage-deflate payload with the standard
// library.
func stdInflate(t *testing.T, z []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(z), strings.NewReader(deflateTail)))
	p, err := io.ReadAll(r)
	require.NoError(t, err)
	return p
}

func TestAppendMessage(t *testing.T) {
	text := []byte(strings.Repeat("topic/a/b temperature=21.5 ", 100))
	tests := []struct {
		name       string
		enc        Encoder
		p          []byte
		compressed bool
	}{
		{name: "plain", p: []byte("hello")},
		{name: "plain 16-bit", p: text},
		{name: "plain 64-bit", p: bytes.Repeat(text, 30)},
		{name: "under threshold", enc: Encoder{Deflate: true, Threshold: 256}, p: []byte("hello, hello, hello")},
		{name: "compressed", enc: Encoder{Deflate: true, Threshold: 256}, p: text, compressed: true},
		{name: "large compressed", enc: Encoder{Deflate: true}, p: bytes.Repeat(text, 100), compressed: true},
		{name: "incompressible sent plain", enc: Encoder{Deflate: true}, p: []byte{0x30, 0x05, 0x00, 0x01, 'a', 'x', 'y'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := tt.enc.AppendMessage([]byte("prefix"), tt.p, nil)
			require.Equal(t, "prefix", string(out[:6]))
			f, n := readServerFrame(t, out[6:])
			require.Equal(t, len(out)-6, n)
			require.True(t, f.fin)
			require.Equal(t, OpBinary, f.op)
			require.Equal(t, tt.compressed, f.rsv1)
			got := f.payload
			if f.rsv1 {
				require.Less(t, len(f.payload), len(tt.p))
				got = stdInflate(t, f.payload)
			}
			require.Equal(t, tt.p, got)
		})
	}
}

// What the encoder compresses, the decoder inflates (masked as a client
// would send it).
func TestCompressRoundTrip(t *testing.T) {
	for _, size := range []int{1, 100, 5000, 70000, 300000} {
		p := make([]byte, size)
		for i := range p {
			p[i] = "mqtt over websocket "[i%20] ^ byte(i>>9)
		}
		z := compressTo(nil, p)
		d := &Decoder{Limits: Limits{MaxFrame: 1 << 20, MaxMessage: 1 << 20}, Deflate: true}
		r := decodeAll(d, frames(clientFrame{op: OpBinary, fin: true, rsv1: true, payload: z, key: testKey}), 1000)
		require.NoError(t, r.err, "size %d", size)
		require.Equal(t, p, r.data, "size %d", size)
	}
}

func TestAppendClose(t *testing.T) {
	f, _ := readServerFrame(t, AppendClose(nil, CloseMessageTooBig, strings.Repeat("r", 200)))
	require.Equal(t, OpClose, f.op)
	require.Len(t, f.payload, maxControlPayload)
	require.Equal(t, []byte{0x03, 0xf1}, f.payload[:2])
	f, _ = readServerFrame(t, AppendClose(nil, 0, ""))
	require.Empty(t, f.payload)
	f, _ = readServerFrame(t, AppendPong(nil, []byte("p!")))
	require.Equal(t, OpPong, f.op)
	require.Equal(t, "p!", string(f.payload))
}

func TestAppendMessageAllocs(t *testing.T) {
	p := make([]byte, 1000)
	dst := make([]byte, 0, 2048)
	var e Encoder
	allocs := testing.AllocsPerRun(100, func() {
		out, _ := e.AppendMessage(dst[:0], p, nil)
		if len(out) != 1004 {
			t.Fatal(len(out))
		}
	})
	require.Zero(t, allocs)
}
