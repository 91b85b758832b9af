package engine

import (
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// keepWriting writes pkt to r for d or until max bytes, and returns the
// bytes written and the first write error (it stops there).
func keepWriting(r *rawConn, pkt []byte, d time.Duration, max int) (int, error) {
	sent := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline) && sent < max; time.Sleep(time.Millisecond) {
		_ = r.nc.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := r.nc.Write(pkt)
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// fillerPublish is a QoS 0 PUBLISH of 100 bytes of payload.
func fillerPublish(v codec.Version) []byte {
	return codec.AppendPublish(nil, v, &codec.Publish{Topic: []byte("filler"), Payload: make([]byte, 100)})
}

// TestLingerReasonReachesWritingClient checks that a v5 client that goes on
// sending after a protocol error can (no EPIPE or reset on its writes, as
// paho's test_flow_control2 saw), then reads the broker's DISCONNECT and
// then the end of the stream: the broker half-closes and drains instead of
// closing a socket with unread input, whose reset would discard the reason
// code before the client reads it.
func TestLingerReasonReachesWritingClient(t *testing.T) {
	b := startBroker(t, nil)
	r := dialV5(t, b, "linger-writer", nil)
	filler := fillerPublish(codec.V5)
	bad := []byte{0x36, 0x03, 0x00, 0x01, 'a'} // PUBLISH with QoS 3 [MQTT-3.3.1-4]
	r.write(append(append(bad, filler...), filler...))
	sent, err := keepWriting(r, filler, 300*time.Millisecond, 32<<10)
	if err != nil {
		t.Fatalf("write after the protocol error failed (sent %d bytes): %v", sent, err)
	}
	d := r.disconnect()
	if d.ReasonCode != codec.ReasonMalformedPacket {
		t.Fatalf("DISCONNECT reason: got %v, want %v", d.ReasonCode, codec.ReasonMalformedPacket)
	}
	r.expectEOF(3 * time.Second)
	st := b.Stats()
	if st.LingeringCloses != 1 || st.LingeringCut != 0 {
		t.Fatalf("lingering closes %d, cut %d; want 1, 0 (client sent %d bytes after the error)",
			st.LingeringCloses, st.LingeringCut, sent)
	}
}

// TestLingerRefusedConnackReachesWritingClient is the same for a 3.1.1
// CONNECT refused with a CONNACK code: the client's next packets are
// already on their way when the broker answers.
func TestLingerRefusedConnackReachesWritingClient(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.AllowAnonymous = false })
	r := dialRaw(t, b)
	filler := fillerPublish(codec.V311)
	conn := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
		CleanStart: true, ClientID: []byte("linger-refused")})
	r.write(append(append(conn, filler...), filler...))
	if sent, err := keepWriting(r, filler, 300*time.Millisecond, 32<<10); err != nil {
		t.Fatalf("write after the refused CONNECT failed (sent %d bytes): %v", sent, err)
	}
	var ack codec.Connack
	if _, err := codec.DecodeConnack(r.mustRead(codec.TypeConnack), codec.V311, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.ReasonCode != codec.ReasonCode(codec.ConnackNotAuthorized) {
		t.Fatalf("CONNACK code: got %#x, want %#x", byte(ack.ReasonCode), codec.ConnackNotAuthorized)
	}
	r.expectEOF(3 * time.Second)
	if n := b.Stats().LingeringCloses; n != 1 {
		t.Fatalf("lingering closes %d, want 1", n)
	}
}

// TestLingerBounded checks both bounds of a lingering close: a client that
// keeps its end open is closed after lingerTime, and one that sends more
// than lingerBytes is closed at once (and counted).
func TestLingerBounded(t *testing.T) {
	b := startBroker(t, nil)
	bad := []byte{0x36, 0x03, 0x00, 0x01, 'a'}

	quiet := dialV5(t, b, "linger-quiet", nil)
	quiet.write(bad)
	quiet.disconnect()
	quiet.expectEOF(3 * time.Second) // half-closed: the socket is still open
	start := time.Now()
	waitFor(t, "the quiet lingering connection closed", func() bool { return b.open.Load() == 0 })
	if el := time.Since(start); el > lingerTime+2*time.Second {
		t.Fatalf("lingering connection closed after %v, bound %v plus a housekeeping period", el, lingerTime)
	}

	flood := dialV5(t, b, "linger-flood", nil)
	flood.write(bad)
	flood.disconnect()
	_, _ = keepWriting(flood, make([]byte, 4096), 5*time.Second, 4*lingerBytes) // fails once cut
	waitFor(t, "the flooding lingering connection cut", func() bool { return b.Stats().LingeringCut == 1 })
	waitFor(t, "the flooding lingering connection closed", func() bool { return b.open.Load() == 0 })
	if n := b.Stats().LingeringCloses; n != 2 {
		t.Fatalf("lingering closes %d, want 2", n)
	}
}
