package codec

import (
	"testing"
)

// benchPublish returns a PUBLISH with a payload of n bytes; with props it
// carries typical 5.0 properties.
func benchPublish(n int, props bool) *Publish {
	p := &Publish{QoS: 1, PacketID: 42, Topic: []byte("sensors/building-1/floor-2/temp"), Payload: make([]byte, n)}
	for i := range p.Payload {
		p.Payload[i] = byte(i)
	}
	if props {
		p.Props.MessageExpiry = 3600
		p.Props.ContentType = []byte("application/json")
		p.Props.Set(PropMessageExpiry)
		p.Props.Set(PropContentType)
		p.Props.User = []UserProperty{{Key: []byte("trace"), Value: []byte("abc123")}}
	}
	return p
}

func assertNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(200, f); n != 0 {
		t.Errorf("%s: %.1f allocs per run, want 0", name, n)
	}
}

// TestZeroAllocs guards the steady-state zero-allocation promise of the hot
// packets: decoding into a reused struct and appending into a reused buffer.
func TestZeroAllocs(t *testing.T) {
	dst := make([]byte, 0, 8192)
	for _, v := range versions {
		props := v == V5
		pub := benchPublish(256, props)
		raw := AppendPublish(nil, v, pub)
		var p Publish
		assertNoAllocs(t, "decode PUBLISH", func() {
			if _, err := DecodePublish(raw, v, &p); err != nil {
				t.Fatal(err)
			}
		})
		assertNoAllocs(t, "append PUBLISH", func() { dst = AppendPublish(dst[:0], v, pub) })

		for ty := TypePuback; ty <= TypePubcomp; ty++ {
			ack := &Ack{Type: ty, PacketID: 7}
			if props {
				ack.ReasonCode = ReasonUnspecifiedError
				ack.Props.ReasonString = []byte("why")
				ack.Props.Set(PropReasonString)
				if ty == TypePubrel || ty == TypePubcomp {
					ack.ReasonCode = ReasonPacketIDNotFound
				}
			}
			raw := AppendAck(nil, v, ack)
			var a Ack
			assertNoAllocs(t, "decode ack", func() {
				if _, err := DecodeAck(raw, v, &a); err != nil {
					t.Fatal(err)
				}
			})
			assertNoAllocs(t, "append ack", func() { dst = AppendAck(dst[:0], v, ack) })
		}

		ping := AppendPingreq(nil)
		assertNoAllocs(t, "ping", func() {
			if _, _, err := DecodePing(ping); err != nil {
				t.Fatal(err)
			}
			dst = AppendPingresp(AppendPingreq(dst[:0]))
		})

		sub := &Subscribe{PacketID: 9}
		for i := 0; i < 8; i++ {
			sub.Filters = append(sub.Filters, Subscription{Filter: []byte("a/+/c/#"), QoS: byte(i % 3)})
		}
		if props {
			sub.Props.SubscriptionIDs = []uint32{12}
			sub.Props.User = []UserProperty{{Key: []byte("k"), Value: []byte("v")}}
		}
		raw = AppendSubscribe(nil, v, sub)
		var s Subscribe
		assertNoAllocs(t, "decode SUBSCRIBE 8 filters", func() {
			if _, err := DecodeSubscribe(raw, v, &s); err != nil {
				t.Fatal(err)
			}
		})
		assertNoAllocs(t, "append SUBSCRIBE", func() { dst = AppendSubscribe(dst[:0], v, sub) })
		var pt Type
		assertNoAllocs(t, "PacketLen", func() { pt, _, _, _ = PacketLen(raw, 1<<20) })
		_ = pt
	}
}
