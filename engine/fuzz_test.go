package engine

import (
	"io"
	"net"
	"testing"
	"time"

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

// FuzzTrafficUring sends arbitrary bytes after a valid CONNECT over
// loopback to a broker on the io_uring backend, in two writes, then
// half-closes: the broker must close the connection within a bound (it
// neither panics, which would end the fuzzing process, nor hangs), while a
// subscriber on '#' keeps it routing whatever gets through. It is skipped
// where the kernel has no io_uring.
func FuzzTrafficUring(f *testing.F) {
	b, err := tryStartBroker(f, func(c *Config) { c.IO = IOUring })
	if err != nil {
		f.Skip("io_uring backend unavailable:", err)
	}
	sub, err := net.Dial("tcp", b.Addr().String())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = sub.Close() })
	subscribe := codec.AppendSubscribe(connectBytes("uring-sub", 0), codec.V311,
		&codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte("#"), QoS: 2}}})
	if _, err := sub.Write(subscribe); err != nil {
		f.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, sub) }()
	for _, s := range [][]byte{
		codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/b"), QoS: 1, PacketID: 1, Payload: []byte("x")}),
		codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/b"), QoS: 2, PacketID: 2, Payload: make([]byte, 70000)}),
		codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 2, Filters: []codec.Subscription{{Filter: []byte("a/#"), QoS: 1}}}),
		codec.AppendPingreq(nil),
		{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F},
	} {
		f.Add(s, uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
		closed := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, nc)
			close(closed)
		}()
		cut := min(int(split), len(data))
		for _, part := range [][]byte{connectBytes("uring-fuzz", 0), data[:cut], data[cut:]} {
			if _, err := nc.Write(part); err != nil {
				return // closed by the broker: what bad input gets
			}
		}
		_ = nc.(*net.TCPConn).CloseWrite()
		// The broker sees the end of input and closes: the reader ends.
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("connection still open 5 s after its input ended")
		}
	})
}
