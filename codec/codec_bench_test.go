package codec

import (
	"bytes"
	"fmt"
	"testing"

	pp "github.com/eclipse/paho.golang/packets"
	pv3 "github.com/eclipse/paho.mqtt.golang/packets"
	mp "github.com/mochi-mqtt/server/v2/packets"
)

// PUBLISH decode and encode, gust against the peer codecs in the same run:
// paho.golang (5.0 only), paho.mqtt.golang (3.1.1 only) and mochi (both).
// Each peer is driven through its most direct public API with reused
// buffers; mochi decodes from a byte slice like ours.

var benchSink int

var benchSizes = []int{16, 256, 4096}

type benchCase struct {
	v    Version
	size int
	pub  *Publish
	raw  []byte
}

func benchCases() []benchCase {
	var cs []benchCase
	for _, v := range []Version{V311, V5} {
		for _, n := range benchSizes {
			p := benchPublish(n, v == V5)
			cs = append(cs, benchCase{v: v, size: n, pub: p, raw: AppendPublish(nil, v, p)})
		}
	}
	return cs
}

func (c benchCase) name(codec string) string {
	return fmt.Sprintf("v=%d/payload=%d/codec=%s", c.v, c.size, codec)
}

func toMochiPublish(p *Publish, v Version) *mp.Packet {
	pk := &mp.Packet{ProtocolVersion: byte(v), TopicName: string(p.Topic), PacketID: p.PacketID, Payload: p.Payload,
		FixedHeader: mp.FixedHeader{Type: mp.Publish, Qos: p.QoS}}
	if v == V5 {
		pk.Properties.MessageExpiryInterval = p.Props.MessageExpiry
		pk.Properties.ContentType = string(p.Props.ContentType)
		for _, u := range p.Props.User {
			pk.Properties.User = append(pk.Properties.User, mp.UserProperty{Key: string(u.Key), Val: string(u.Value)})
		}
	}
	return pk
}

func BenchmarkDecodePublish(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name("gust"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			var p Publish
			for i := 0; i < b.N; i++ {
				n, err := DecodePublish(c.raw, c.v, &p)
				if err != nil {
					b.Fatal(err)
				}
				benchSink += n + len(p.Payload)
			}
		})
		// mochi's decoder checks less than ours (wildcards, packet id and
		// topic alias rules live in its PublishValidate), so it is measured
		// alone and with PublishValidate, which is the same work as ours.
		for _, validate := range []bool{false, true} {
			name := "mochi"
			if validate {
				name = "mochi+validate"
			}
			b.Run(c.name(name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.raw)))
				var r bytes.Reader
				for i := 0; i < b.N; i++ {
					pk := mp.Packet{ProtocolVersion: byte(c.v)}
					if err := pk.FixedHeader.Decode(c.raw[0]); err != nil {
						b.Fatal(err)
					}
					r.Reset(c.raw[1:])
					rl, hl, err := mp.DecodeLength(&r)
					if err != nil {
						b.Fatal(err)
					}
					pk.FixedHeader.Remaining = rl
					if err := pk.PublishDecode(c.raw[1+hl:]); err != nil {
						b.Fatal(err)
					}
					if validate && pk.PublishValidate(65535) != mp.CodeSuccess {
						b.Fatal("mochi validate")
					}
					benchSink += len(pk.Payload)
				}
			})
		}
		if c.v == V5 {
			b.Run(c.name("paho.golang"), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.raw)))
				var r bytes.Reader
				for i := 0; i < b.N; i++ {
					r.Reset(c.raw)
					cp, err := pp.ReadPacket(&r)
					if err != nil {
						b.Fatal(err)
					}
					benchSink += len(cp.Content.(*pp.Publish).Payload)
				}
			})
		} else {
			b.Run(c.name("paho.mqtt.golang"), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.raw)))
				var r bytes.Reader
				for i := 0; i < b.N; i++ {
					r.Reset(c.raw)
					cp, err := pv3.ReadPacket(&r)
					if err != nil {
						b.Fatal(err)
					}
					benchSink += len(cp.(*pv3.PublishPacket).Payload)
				}
			})
		}
	}
}

func BenchmarkEncodePublish(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name("gust"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			dst := make([]byte, 0, len(c.raw))
			for i := 0; i < b.N; i++ {
				dst = AppendPublish(dst[:0], c.v, c.pub)
			}
			benchSink += len(dst)
		})
		// The header-only form the broker uses to share one payload among
		// subscribers (vectored write); it does not copy the payload, so it
		// is not compared with the peers.
		b.Run(c.name("gust-header-only"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			dst := make([]byte, 0, len(c.raw))
			for i := 0; i < b.N; i++ {
				dst = AppendPublishHeader(dst[:0], c.v, c.pub)
			}
			benchSink += len(dst)
		})
		b.Run(c.name("mochi"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.raw)))
			pk := toMochiPublish(c.pub, c.v)
			var buf bytes.Buffer
			for i := 0; i < b.N; i++ {
				buf.Reset()
				if err := pk.PublishEncode(&buf); err != nil {
					b.Fatal(err)
				}
			}
			benchSink += buf.Len()
		})
		if c.v == V5 {
			b.Run(c.name("paho.golang"), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.raw)))
				cp := toPaho(c.pub)
				var buf bytes.Buffer
				for i := 0; i < b.N; i++ {
					buf.Reset()
					if _, err := cp.WriteTo(&buf); err != nil {
						b.Fatal(err)
					}
				}
				benchSink += buf.Len()
			})
		} else {
			b.Run(c.name("paho.mqtt.golang"), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.raw)))
				pk := pv3.NewControlPacket(pv3.Publish).(*pv3.PublishPacket)
				pk.Qos, pk.TopicName, pk.MessageID, pk.Payload = c.pub.QoS, string(c.pub.Topic), c.pub.PacketID, c.pub.Payload
				var buf bytes.Buffer
				for i := 0; i < b.N; i++ {
					buf.Reset()
					if err := pk.Write(&buf); err != nil {
						b.Fatal(err)
					}
				}
				benchSink += buf.Len()
			})
		}
	}
}

// BenchmarkSubscribe decodes and encodes a SUBSCRIBE with 8 filters.
func BenchmarkSubscribe(b *testing.B) {
	for _, v := range []Version{V311, V5} {
		sub := &Subscribe{PacketID: 9}
		for i := 0; i < 8; i++ {
			sub.Filters = append(sub.Filters, Subscription{Filter: []byte("sensors/+/floor-2/#"), QoS: 1})
		}
		raw := AppendSubscribe(nil, v, sub)
		b.Run(fmt.Sprintf("v=%d/op=decode", v), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			var s Subscribe
			for i := 0; i < b.N; i++ {
				if _, err := DecodeSubscribe(raw, v, &s); err != nil {
					b.Fatal(err)
				}
			}
			benchSink += len(s.Filters)
		})
		b.Run(fmt.Sprintf("v=%d/op=encode", v), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			dst := make([]byte, 0, len(raw))
			for i := 0; i < b.N; i++ {
				dst = AppendSubscribe(dst[:0], v, sub)
			}
			benchSink += len(dst)
		})
	}
}

// BenchmarkAck decodes and encodes a PUBACK.
func BenchmarkAck(b *testing.B) {
	for _, v := range []Version{V311, V5} {
		ack := &Ack{Type: TypePuback, PacketID: 7}
		raw := AppendAck(nil, v, ack)
		b.Run(fmt.Sprintf("v=%d/op=decode", v), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			var a Ack
			for i := 0; i < b.N; i++ {
				if _, err := DecodeAck(raw, v, &a); err != nil {
					b.Fatal(err)
				}
			}
			benchSink += int(a.PacketID)
		})
		b.Run(fmt.Sprintf("v=%d/op=encode", v), func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]byte, 0, 16)
			for i := 0; i < b.N; i++ {
				dst = AppendAck(dst[:0], v, ack)
			}
			benchSink += len(dst)
		})
	}
}
