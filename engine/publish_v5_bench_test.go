package engine

import (
	"fmt"
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// ackAllV5 is ackAll for an MQTT 5 client.
// p is the caller's decode scratch, so the bench's own decoding does not
// allocate.
func (hs *harness) ackAllV5(f *fakeConn, scratch []byte, p *codec.Publish) []byte {
	acks := scratch[:0]
	for off := 0; off < len(f.out); {
		t, flags, n, err := codec.PacketLen(f.out[off:], 0)
		if err != nil {
			break
		}
		if t == codec.TypePublish && flags&0x06 != 0 {
			if _, err := codec.DecodePublish(f.out[off:off+n], codec.V5, p); err == nil {
				acks = codec.AppendAck(acks, codec.V5, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})
			}
		}
		off += n
	}
	f.out = f.out[:0]
	if len(acks) > 0 {
		hs.send(f, acks)
	}
	return acks
}

// BenchmarkPublishV5 measures MQTT 5 publishes in process, QoS 0 and 1,
// without properties and with three User Properties, to one subscriber on
// the publisher's loop and one on the other loop. One op is one message.
func BenchmarkPublishV5(b *testing.B) {
	user := []codec.UserProperty{{Key: []byte("k1"), Value: []byte("v1")},
		{Key: []byte("k2"), Value: []byte("v2")}, {Key: []byte("k1"), Value: []byte("v3")}}
	for _, qos := range []byte{0, 1} {
		for _, withUser := range []bool{false, true} {
			b.Run(fmt.Sprintf("qos=%d/user=%v", qos, withUser), func(b *testing.B) {
				hs := newHarness(b, 2)
				pub := hs.connV5(0, "pub")
				subs := []*fakeConn{hs.connV5(0, "s0"), hs.connV5(1, "s1")}
				for _, s := range subs {
					s.keep = true
					hs.subscribeV5(s, "v5/+", qos)
				}
				p := codec.Publish{Topic: []byte("v5/t"), QoS: qos, Payload: make([]byte, 64)}
				if qos > 0 {
					p.PacketID = 1
				}
				if withUser {
					p.Props.User = user
				}
				pkt := codec.AppendPublish(nil, codec.V5, &p)
				var scratch []byte
				var dec codec.Publish
				step := func() {
					hs.send(pub, pkt)
					hs.pump()
					for _, s := range subs {
						scratch = hs.ackAllV5(s, scratch, &dec)
					}
					hs.pump()
				}
				for i := 0; i < 100; i++ {
					step()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					step()
				}
			})
		}
	}
}
