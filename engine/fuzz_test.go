package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// FuzzTraffic feeds arbitrary bytes, split in two reads, to a connection of
// an in-process broker after a valid CONNECT, with a subscriber on another
// loop: the engine must never panic on peer input (STYLE.md §4).
func FuzzTraffic(f *testing.F) {
	seeds := [][]byte{
		codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/b"), QoS: 2, PacketID: 1, Payload: []byte("x")}),
		codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 2, Filters: []codec.Subscription{{Filter: []byte("$share/g/a/#"), QoS: 1}}}),
		codec.AppendUnsubscribe(nil, codec.V311, &codec.Unsubscribe{PacketID: 3, Filters: [][]byte{[]byte("a/#")}}),
		codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePubrel, PacketID: 1}),
		codec.AppendPingreq(nil),
		codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}),
		connectBytes("again", 5),
		{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F},
	}
	for _, s := range seeds {
		f.Add(s, uint8(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		hs := newHarness(t, 2)
		sub := hs.conn(1, "sub")
		hs.subscribe(sub, "#", 2)
		c := hs.conn(0, "fuzz")
		cut := int(split)
		if cut > len(data) {
			cut = len(data)
		}
		hs.send(c, data[:cut])
		hs.pump()
		if !c.closed {
			hs.send(c, data[cut:])
			hs.pump()
		}
		// A fresh connection still works afterwards.
		d := hs.conn(0, "after")
		d.keep = true
		hs.send(d, codec.AppendPingreq(nil))
		if len(d.out) == 0 || codec.Type(d.out[len(d.out)-2]>>4) != codec.TypePingresp {
			t.Fatalf("broker stopped answering: %x", d.out)
		}
	})
}
