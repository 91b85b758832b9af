package engine

import (
	"fmt"
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// BenchmarkACLPublish measures the QoS 0 publish path (one publisher, one
// subscriber on the other loop, 64 PUBLISHes per read, to 1 topic or 16 in
// turn) with no ACL and with 1,000 rules the check walks before the one
// that grants. A repeated topic is answered by the client's last decision,
// changing topics by the loop's cache.
func BenchmarkACLPublish(b *testing.B) {
	for _, tc := range []struct{ topics, rules int }{{1, 0}, {1, 1000}, {16, 0}, {16, 1000}} {
		topics, rules := tc.topics, tc.rules
		b.Run(fmt.Sprintf("topics=%d/rules=%d", topics, rules), func(b *testing.B) {
			var mods []func(*Config)
			if rules > 0 {
				file := writeACLFile(b, aclBenchRules(rules)+"topic readwrite bench/#\n")
				mods = append(mods, func(c *Config) { c.ACLFile = file })
			}
			hs := newHarness(b, 2, mods...)
			pub := hs.conn(0, "pub")
			sub := hs.conn(1, "sub")
			hs.subscribe(sub, "bench/+", 0)
			var read []byte
			for i := range 64 {
				read = codec.AppendPublish(read, codec.V311, &codec.Publish{Topic: fmt.Appendf(nil, "bench/t%d", i%topics), Payload: make([]byte, 64)})
			}
			for range 100 {
				hs.send(pub, read)
				hs.pump()
			}
			w0 := sub.written
			b.ReportAllocs()
			b.ResetTimer()
			n := (b.N + 63) / 64
			for range n {
				hs.send(pub, read)
				hs.pump()
			}
			b.StopTimer()
			if sub.written == w0 {
				b.Fatal("nothing delivered")
			}
		})
	}
}

// BenchmarkACLDecide is the cost of one uncached PUBLISH decision, what a
// publisher pays once per topic: the first rule that matches, after
// walking 1,000 that do not.
func BenchmarkACLDecide(b *testing.B) {
	a, err := LoadACL(writeACLFile(b, aclBenchRules(1000)+"topic readwrite bench/#\n"))
	if err != nil {
		b.Fatal(err)
	}
	who := aclSubject{anon: true, id: "pub"}
	b.ReportAllocs()
	for b.Loop() {
		if !a.canWrite(&who, "bench/t1") {
			b.Fatal("denied")
		}
	}
}
