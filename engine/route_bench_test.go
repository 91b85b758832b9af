package engine

import (
	"fmt"
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// benchPublish measures the in-process QoS 0 publish path: batch PUBLISH
// packets per OnTraffic on a publisher, fan-out to subs subscribers spread
// over two loops, each loop's inbox drained after every read. One op is one
// message. With batch=1 the doorbell write and read syscalls dominate.
func benchPublish(b *testing.B, pubs, subs, size, batch int) {
	hs := newHarness(b, 2)
	pubConns := make([]*fakeConn, pubs)
	for i := range pubConns {
		pubConns[i] = hs.conn(i%2, fmt.Sprint("pub", i))
	}
	subConns := make([]*fakeConn, subs)
	for i := range subConns {
		subConns[i] = hs.conn((i+1)%2, fmt.Sprint("sub", i)) // the first on the other loop
		hs.subscribe(subConns[i], "bench/+", 0)
	}
	pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("bench/t"), Payload: make([]byte, size)})
	read := make([]byte, 0, batch*len(pkt))
	for i := 0; i < batch; i++ {
		read = append(read, pkt...)
	}
	for i := 0; i < 100; i++ {
		hs.send(pubConns[i%pubs], read)
		hs.pump()
	}
	before := 0
	for _, s := range subConns {
		before += s.written
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	n := (b.N + batch - 1) / batch
	for i := 0; i < n; i++ {
		hs.send(pubConns[i%pubs], read)
		hs.pump()
	}
	b.StopTimer()
	after := 0
	for _, s := range subConns {
		after += s.written
	}
	if got, want := after-before, n*batch*subs*len(pkt); got != want {
		b.Fatalf("delivered %d bytes, want %d", got, want)
	}
	b.ReportMetric(float64(subs), "deliveries/op")
}

// BenchmarkPublishQoS0 covers 1 -> 1, 1 -> 100 and N -> 1.
func BenchmarkPublishQoS0(b *testing.B) {
	for _, batch := range []int{1, 64} {
		for _, size := range []int{16, 256} {
			for _, tc := range []struct {
				name       string
				pubs, subs int
			}{
				{name: "pubs=1/subs=1", pubs: 1, subs: 1},
				{name: "pubs=1/subs=100", pubs: 1, subs: 100},
				{name: "pubs=10/subs=1", pubs: 10, subs: 1},
			} {
				b.Run(fmt.Sprintf("%s/size=%d/batch=%d", tc.name, size, batch), func(b *testing.B) {
					benchPublish(b, tc.pubs, tc.subs, size, batch)
				})
			}
		}
	}
}

// BenchmarkMatchCache compares a cached match with a trie match.
func BenchmarkMatchCache(b *testing.B) {
	hs := newHarness(b, 1)
	s := hs.conn(0, "s")
	for i := 0; i < 100; i++ {
		hs.subscribe(s, fmt.Sprintf("m/%d/+", i), 0)
	}
	l := hs.loop(0)
	topic := []byte("m/42/x")
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = l.match(topic)
		}
	})
	b.Run("trie", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			hs.b.trie.Match(topic, &l.scratch.res)
		}
	})
}

// BenchmarkPublishQoS1 measures QoS 1 end to end in process: the PUBACK to
// the publisher, one shared message record, a packet id and in-flight entry
// per subscriber, and the subscribers' PUBACKs. One op is one message.
func BenchmarkPublishQoS1(b *testing.B) {
	for _, subs := range []int{1, 10} {
		b.Run(fmt.Sprintf("subs=%d/size=64", subs), func(b *testing.B) {
			hs := newHarness(b, 2)
			pub := hs.conn(0, "pub")
			subConns := make([]*fakeConn, subs)
			for i := range subConns {
				subConns[i] = hs.conn((i+1)%2, fmt.Sprint("sub", i))
				subConns[i].keep = true
				hs.subscribe(subConns[i], "q1/+", 1)
			}
			pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("q1/t"), QoS: 1, PacketID: 1, Payload: make([]byte, 64)})
			var scratch []byte
			step := func() {
				hs.send(pub, pkt)
				hs.pump()
				for _, s := range subConns {
					scratch = hs.ackAll(s, scratch)
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
			b.StopTimer()
			if d := hs.b.Stats().PublishDropped; d != 0 {
				b.Fatalf("%d dropped", d)
			}
		})
	}
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
