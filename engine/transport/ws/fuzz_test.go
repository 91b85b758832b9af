package ws

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder whole and in two
// parts: it must not panic, must stay within its bounds, and must give
// the same data, control frames and error either way.
func FuzzDecode(f *testing.F) {
	z := stdDeflate(bytes.Repeat([]byte("abcd"), 50))
	seeds := [][]byte{
		frames(bin("hello")),
		frames(clientFrame{op: OpBinary, payload: []byte("he"), key: testKey},
			clientFrame{op: OpPing, fin: true, payload: []byte("p"), key: testKey},
			clientFrame{op: OpContinuation, fin: true, payload: []byte("llo"), key: testKey}),
		frames(clientFrame{op: OpClose, fin: true, payload: []byte("\x03\xe8ok"), key: testKey}),
		frames(clientFrame{op: OpBinary, fin: true, rsv1: true, payload: z, key: testKey}),
		frames(bin(string(make([]byte, 300)))),
		{0x82, 0xff, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 3, 4},
	}
	for _, s := range seeds {
		f.Add(s, uint16(len(s)/2), true)
		f.Add(s, uint16(1), false)
	}
	lim := Limits{MaxFrame: 4096, MaxMessage: 8192}
	f.Fuzz(func(t *testing.T, in []byte, split uint16, deflate bool) {
		whole := decodeAll(&Decoder{Limits: lim, Deflate: deflate}, in, 0)
		step := int(split)%(len(in)+1) + 1
		parts := decodeAll(&Decoder{Limits: lim, Deflate: deflate}, in, step)
		if !errors.Is(parts.err, whole.err) {
			t.Fatalf("error %v whole, %v in parts of %d", whole.err, parts.err, step)
		}
		if whole.err == nil && !bytes.Equal(whole.data, parts.data) {
			t.Fatalf("data differs in parts of %d", step)
		}
		if len(whole.controls) != len(parts.controls) {
			t.Fatalf("%d controls whole, %d in parts", len(whole.controls), len(parts.controls))
		}
		for i, c := range whole.controls {
			if len(c.Payload) > maxControlPayload || !bytes.Equal(c.Payload, parts.controls[i].Payload) {
				t.Fatalf("control %d differs", i)
			}
		}
		if whole.err != nil {
			var ce *CloseError
			if !errors.As(whole.err, &ce) {
				t.Fatalf("error %v is not a CloseError", whole.err)
			}
		}
		// Inflation stops one read past the bound: the output is the
		// messages' bytes, each at most MaxMessage (plus the bomb's
		// last read).
		if len(whole.data) > len(in)*lim.MaxMessage+lim.MaxMessage+1 {
			t.Fatalf("%d bytes out of %d in", len(whole.data), len(in))
		}
	})
}

// FuzzHandshake parses arbitrary requests whole and byte by byte: it must
// not panic, and both ways must agree.
func FuzzHandshake(f *testing.F) {
	f.Add(upgradeRequest("/mqtt", goodLines...))
	f.Add(upgradeRequest("/mqtt", append(goodLines, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-webkit")...))
	f.Add(upgradeRequest("/mqtt", without("Sec-WebSocket-Key")...))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := Config{Deflate: true, MaxHeaderBytes: 1024}
		var h Handshake
		n, u, err := h.Parse(in, &cfg)
		var he *HandshakeError
		switch {
		case err == nil:
			if n <= 0 || n > len(in) || n > cfg.MaxHeaderBytes || u.Protocol == "" || len(u.Accept) != 28 {
				t.Fatalf("accepted with n %d, %+v", n, u)
			}
		case errors.Is(err, ErrIncomplete):
			if len(in) > cfg.MaxHeaderBytes {
				t.Fatalf("incomplete past the bound: %d bytes", len(in))
			}
		case !errors.As(err, &he):
			t.Fatalf("error %v", err)
		}
		var h2 Handshake
		var err2 error
		var n2 int
		for i := 1; i <= len(in); i++ {
			n2, _, err2 = h2.Parse(in[:i], &cfg)
			if !errors.Is(err2, ErrIncomplete) {
				break
			}
		}
		if len(in) == 0 {
			return
		}
		if (err == nil) != (err2 == nil) || (err == nil && n != n2) {
			t.Fatalf("whole: %d %v; byte by byte: %d %v", n, err, n2, err2)
		}
	})
}
