package codec

import (
	"bytes"
	"fmt"
	"sort"
	"testing"
	"time"

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

func (c benchCase) name() string { return fmt.Sprintf("v=%d/payload=%d", c.v, c.size) }

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

// toPahoV3Publish returns p as a paho.mqtt.golang (3.1.1) PUBLISH.
func toPahoV3Publish(p *Publish) *pv3.PublishPacket {
	pk := pv3.NewControlPacket(pv3.Publish).(*pv3.PublishPacket)
	pk.Qos, pk.TopicName, pk.MessageID, pk.Payload = p.QoS, string(p.Topic), p.PacketID, p.Payload
	return pk
}

// decoders returns one PUBLISH decode operation per codec for c. mochi's
// decoder checks less than ours (wildcards, packet id and topic alias rules
// live in its PublishValidate), so it is measured alone ("mochi") and with
// PublishValidate ("mochi+validate"), which is the same work as ours.
func decoders(c benchCase) map[string]func() {
	var p Publish
	var r bytes.Reader
	mochi := func(validate bool) func() {
		return func() {
			pk := mp.Packet{ProtocolVersion: byte(c.v)}
			if err := pk.FixedHeader.Decode(c.raw[0]); err != nil {
				panic(err)
			}
			r.Reset(c.raw[1:])
			rl, hl, err := mp.DecodeLength(&r)
			if err != nil {
				panic(err)
			}
			pk.FixedHeader.Remaining = rl
			if err := pk.PublishDecode(c.raw[1+hl:]); err != nil {
				panic(err)
			}
			if validate && pk.PublishValidate(65535) != mp.CodeSuccess {
				panic("mochi validate")
			}
			benchSink += len(pk.Payload)
		}
	}
	m := map[string]func(){
		"gust": func() {
			if _, err := DecodePublish(c.raw, c.v, &p); err != nil {
				panic(err)
			}
			benchSink += len(p.Payload)
		},
		"mochi":          mochi(false),
		"mochi+validate": mochi(true),
	}
	if c.v == V5 {
		m["paho.golang"] = func() {
			r.Reset(c.raw)
			cp, err := pp.ReadPacket(&r)
			if err != nil {
				panic(err)
			}
			benchSink += len(cp.Content.(*pp.Publish).Payload)
		}
	} else {
		m["paho.mqtt.golang"] = func() {
			r.Reset(c.raw)
			cp, err := pv3.ReadPacket(&r)
			if err != nil {
				panic(err)
			}
			benchSink += len(cp.(*pv3.PublishPacket).Payload)
		}
	}
	return m
}

// encoders returns one PUBLISH encode operation per codec for c, each
// appending to a reused buffer. "gust-header-only" is the form the broker
// uses to share one payload among subscribers (vectored write); it does not
// copy the payload, so it is not compared with the peers. "copy" appends the
// finished packet bytes (one memmove of len(c.raw)): the floor of any
// encoder that, like gust and every peer here, writes the whole packet into
// a buffer, so the peers' time over it bounds the ratio any such encoder can
// reach ("x-bound").
func encoders(c benchCase) map[string]func() {
	dst := make([]byte, 0, len(c.raw))
	var buf bytes.Buffer
	mpk := toMochiPublish(c.pub, c.v)
	m := map[string]func(){
		"gust":             func() { dst = AppendPublish(dst[:0], c.v, c.pub); benchSink += len(dst) },
		"gust-header-only": func() { dst = AppendPublishHeader(dst[:0], c.v, c.pub); benchSink += len(dst) },
		"copy":             func() { dst = append(dst[:0], c.raw...); benchSink += len(dst) },
		"mochi": func() {
			buf.Reset()
			if err := mpk.PublishEncode(&buf); err != nil {
				panic(err)
			}
		},
	}
	if c.v == V5 {
		cp := toPaho(c.pub)
		m["paho.golang"] = func() {
			buf.Reset()
			if _, err := cp.WriteTo(&buf); err != nil {
				panic(err)
			}
		}
	} else {
		pk := toPahoV3Publish(c.pub)
		m["paho.mqtt.golang"] = func() {
			buf.Reset()
			if err := pk.Write(&buf); err != nil {
				panic(err)
			}
		}
	}
	return m
}

func sortedNames(m map[string]func()) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func runOps(b *testing.B, ops func(benchCase) map[string]func()) {
	for _, c := range benchCases() {
		m := ops(c)
		for _, name := range sortedNames(m) {
			f := m[name]
			b.Run(c.name()+"/codec="+name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.raw)))
				for i := 0; i < b.N; i++ {
					f()
				}
			})
		}
	}
}

func BenchmarkDecodePublish(b *testing.B) { runOps(b, decoders) }

func BenchmarkEncodePublish(b *testing.B) { runOps(b, encoders) }

// BenchmarkPublishRatio runs gust and the peers in alternating batches inside
// one benchmark and compares the median batch of each, so that load from
// other processes (and preemption in the middle of a batch) hits all of them
// alike. It reports each codec's median ns/op, including the harness cost
// that "noop" (an empty operation) measures, and the ratio of the fastest
// comparable peer to gust with that harness cost taken off both
// ("x-faster"). b.N counts rounds of all codecs.
func BenchmarkPublishRatio(b *testing.B) {
	for _, op := range []struct {
		name string
		ops  func(benchCase) map[string]func()
	}{{name: "decode", ops: decoders}, {name: "encode", ops: encoders}} {
		for _, c := range benchCases() {
			m := op.ops(c)
			m["noop"] = func() { benchSink++ }
			names := sortedNames(m)
			b.Run("op="+op.name+"/"+c.name(), func(b *testing.B) {
				const batch = 32
				batches := make(map[string][]time.Duration, len(m))
				for done := 0; done < b.N; done += batch {
					for _, name := range names {
						f := m[name]
						start := time.Now()
						for j := 0; j < batch; j++ {
							f()
						}
						batches[name] = append(batches[name], time.Since(start))
					}
				}
				med := make(map[string]float64, len(m))
				best := 0.0
				for _, name := range names {
					d := batches[name]
					sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
					med[name] = float64(d[len(d)/2]) / batch
					b.ReportMetric(med[name], name+"-ns/op")
					switch name {
					case "gust", "gust-header-only", "mochi+validate", "noop", "copy":
					default:
						if best == 0 || med[name] < best {
							best = med[name]
						}
					}
				}
				base := med["noop"]
				b.ReportMetric((best-base)/(med["gust"]-base), "x-faster")
				if v, ok := med["copy"]; ok {
					b.ReportMetric((best-base)/(v-base), "x-bound")
				}
				if v, ok := med["mochi+validate"]; ok {
					b.ReportMetric((v-base)/(med["gust"]-base), "x-vs-mochi+validate")
				}
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

// TestBenchEncodersSameBytes checks that the encode benchmark compares like
// with like: every peer writes exactly the packet gust writes (c.raw).
func TestBenchEncodersSameBytes(t *testing.T) {
	for _, c := range benchCases() {
		var buf bytes.Buffer
		if err := toMochiPublish(c.pub, c.v).PublishEncode(&buf); err != nil || !bytes.Equal(buf.Bytes(), c.raw) {
			t.Errorf("%s: mochi wrote % x (err %v), want % x", c.name(), buf.Bytes(), err, c.raw)
		}
		buf.Reset()
		var err error
		if c.v == V5 {
			_, err = toPaho(c.pub).WriteTo(&buf)
		} else {
			err = toPahoV3Publish(c.pub).Write(&buf)
		}
		if err != nil || !bytes.Equal(buf.Bytes(), c.raw) {
			t.Errorf("%s: paho wrote % x (err %v), want % x", c.name(), buf.Bytes(), err, c.raw)
		}
	}
}
