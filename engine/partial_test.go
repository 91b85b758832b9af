package engine

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// partialOf is a client's partial packet buffer, nil when it has none.
func partialOf(f *fakeConn) []byte {
	c := f.ctx.(*client)
	if c.ext == nil {
		return nil
	}
	return c.ext.part
}

// publishPacket is a 3.1.1 QoS 0 PUBLISH to topic with size bytes of payload.
func publishPacket(topic string, size int) []byte {
	return codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte(topic), Payload: bytes.Repeat([]byte{'p'}, size)})
}

// TestPartialLargeAssembled: a large packet trickled in small reads is
// moved out of gnet's buffer into one buffer of exactly its length, counted
// in the budget, handled once whole, and the budget given back; packets
// after it in the same read are decoded from gnet's buffer as usual.
func TestPartialLargeAssembled(t *testing.T) {
	hs := newHarness(t, 1)
	pub := hs.conn(0, "pub")
	sub := hs.conn(0, "sub")
	hs.subscribe(sub, "big/#", 0)
	big := publishPacket("big/a", 300<<10)
	small := publishPacket("big/b", 10)
	w0 := sub.written
	for off := 0; off < len(big)-1000; off += 1000 {
		hs.send(pub, big[off:off+1000])
		if len(pub.in) != 0 {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("bytes left in gnet's buffer at", off), len(pub.in), 0)
		}
		p := partialOf(pub)
		if !(p != nil && cap(p) == len(big)) {
			t.Fatal("partial buffer of the declared length at", off)
		}
		if got := hs.b.partial.used.Load(); got != int64(len(big)) {
			t.Fatalf("budget in use: got %v, want %v", got, int64(len(big)))
		}
	}
	if sub.written != w0 {
		t.Fatalf("delivered before the packet was whole: got %v, want %v", sub.written, w0)
	}
	// The tail, a small packet and the start of another large one in one read.
	tail := big[len(big)/1000*1000:]
	read := append(append(append([]byte(nil), tail...), small...), big[:3000]...)
	hs.send(pub, read)
	want := len(big) + len(small) // a 3.1.1 QoS 0 PUBLISH is forwarded as is
	if (sub.written - w0) != want {
		t.Fatalf("bytes delivered: got %v, want %v", sub.written-w0, want)
	}
	p := partialOf(pub)
	if !(len(p) == 3000 && cap(p) == len(big)) {
		t.Fatal("second packet assembled")
	}
	if got := hs.b.partial.used.Load(); got != int64(len(big)) {
		t.Fatalf("budget in use by the second packet: got %v, want %v", got, int64(len(big)))
	}
	hs.send(pub, big[3000:])
	if (sub.written - w0) != (want + len(big)) {
		t.Fatalf("bytes delivered with the second packet: got %v, want %v", sub.written-w0, want+len(big))
	}
	if partialOf(pub) != nil {
		t.Fatal("partial buffer kept after the packet")
	}
	if got := hs.b.partial.used.Load(); got != int64(0) {
		t.Fatalf("budget in use at the end: got %v, want %v", got, int64(0))
	}
	if got := hs.b.Stats().PublishReceived; got != uint64(3) {
		t.Fatalf("PUBLISHes received: got %v, want %v", got, uint64(3))
	}
}

// TestPartialSmallNotRecopied: while a small packet (under partialMin) is
// incomplete, a read looks at its fixed header only; the whole buffer is
// peeked once, when the packet is whole.
func TestPartialSmallNotRecopied(t *testing.T) {
	hs := newHarness(t, 1)
	pub := hs.conn(0, "pub")
	sub := hs.conn(0, "sub")
	hs.subscribe(sub, "small", 0)
	pkt := publishPacket("small", 3000)
	if len(pkt) > partialMin {
		t.Fatal("packet under partialMin")
	}
	w0, peeks := sub.written, pub.peeksAll
	for off := 0; off < len(pkt)-100; off += 100 {
		hs.send(pub, pkt[off:off+100])
	}
	if pub.peeksAll != peeks {
		t.Fatalf("whole-buffer peeks while the packet was incomplete: got %v, want %v", pub.peeksAll, peeks)
	}
	if len(pub.in) != (len(pkt) / 100 * 100) {
		t.Fatalf("bytes waiting in gnet's buffer: got %v, want %v", len(pub.in), len(pkt)/100*100)
	}
	if partialOf(pub) != nil {
		t.Fatal("small packet assembled outside gnet's buffer")
	}
	hs.send(pub, pkt[len(pkt)/100*100:])
	if pub.peeksAll != (peeks + 1) {
		t.Fatalf("whole-buffer peeks: got %v, want %v", pub.peeksAll, peeks+1)
	}
	if (sub.written - w0) != len(pkt) {
		t.Fatalf("bytes delivered: got %v, want %v", sub.written-w0, len(pkt))
	}
	if len(pub.in) != 0 {
		t.Fatalf("bytes left in gnet's buffer: got %v, want %v", len(pub.in), 0)
	}
}

// TestPartialLargeConnect: a CONNECT larger than partialMin (a big will) is
// assembled and connects; a large packet other than CONNECT as the first
// packet is refused from its fixed header, before any buffer is taken.
func TestPartialLargeConnect(t *testing.T) {
	hs := newHarness(t, 1)
	f := &fakeConn{el: hs.loops[0], keep: true}
	hs.h.OnOpen(f)
	conn := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, CleanStart: true,
		ClientID: []byte("will"), WillFlag: true, WillTopic: []byte("w"), WillPayload: make([]byte, 50<<10)})
	hs.send(f, conn[:10<<10])
	if got := hs.b.partial.used.Load(); got != int64(len(conn)) {
		t.Fatalf("budget in use by the CONNECT: got %v, want %v", got, int64(len(conn)))
	}
	hs.send(f, conn[10<<10:])
	if f.ctx.(*client).state != stateConnected {
		t.Fatalf("state: got %v, want %v", f.ctx.(*client).state, stateConnected)
	}
	if !(len(f.out) >= 4 && codec.Type(f.out[0]>>4) == codec.TypeConnack && f.out[3] == 0) {
		t.Fatal("CONNACK accepted")
	}
	if got := hs.b.partial.used.Load(); got != int64(0) {
		t.Fatalf("budget in use after CONNECT: got %v, want %v", got, int64(0))
	}

	g := &fakeConn{el: hs.loops[0]}
	hs.h.OnOpen(g)
	hs.send(g, publishPacket("x", 100<<10)[:100])
	if !g.closed {
		t.Fatal("large PUBLISH before CONNECT not refused")
	}
	if got := hs.b.partial.used.Load(); got != int64(0) {
		t.Fatalf("budget taken for a refused packet: got %v, want %v", got, int64(0))
	}
}

// TestPartialBudgetRefuses: with MaxPartialBytes spent by two connections
// holding half-sent packets, a third large packet closes its connection,
// with DISCONNECT 0x97 for MQTT 5, a log line and the counter; the two
// finish and are delivered, small packets flow meanwhile, and the budget
// comes back.
func TestPartialBudgetRefuses(t *testing.T) {
	var logs syncBuffer
	b := startBroker(t, func(c *Config) {
		c.MaxPacketSize = 64 << 10
		c.MaxPartialBytes = 128 << 10
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	sub := dialRaw(t, b)
	sub.connect(&codec.Connect{ClientID: []byte("sub"), CleanStart: true})
	sub.subscribe(1, "t/#", 0)
	big := func(topic string) []byte { return publishPacket(topic, 60<<10) }
	var holders []*rawConn
	for i := range 2 {
		r := dialRaw(t, b)
		r.connect(&codec.Connect{ClientID: []byte(fmt.Sprint("holder", i)), CleanStart: true})
		r.write(big(fmt.Sprint("t/big", i))[:30<<10])
		holders = append(holders, r)
	}
	waitFor(t, "budget taken by two partial packets", func() bool { return b.Stats().PartialBytes == int64(2*len(big("t/big0"))) })

	v5 := dialRaw(t, b)
	v5.connect(&codec.Connect{ClientID: []byte("v5"), CleanStart: true, Version: codec.V5})
	p5 := codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("t/v5"), Payload: make([]byte, 60<<10)})
	v5.write(p5[:100])
	d := v5.mustRead(codec.TypeDisconnect)
	var disc codec.Disconnect
	_, err := codec.DecodeDisconnect(d, codec.V5, &disc)
	if err != nil {
		t.Fatal(err)
	}
	if disc.ReasonCode != codec.ReasonQuotaExceeded {
		t.Fatalf("DISCONNECT reason: got %v, want %v", disc.ReasonCode, codec.ReasonQuotaExceeded)
	}
	v5.expectClosed(5 * time.Second)

	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("v3"), CleanStart: true})
	v3.write(big("t/v3")[:100])
	v3.expectClosed(5 * time.Second)
	if got := b.Stats().PartialRefused; got != uint64(2) {
		t.Fatalf("refusals counted: got %v, want %v", got, uint64(2))
	}
	if !strings.Contains(logs.String(), "max_partial_bytes reached") {
		t.Fatal("no log line:\n", logs.String())
	}

	small := dialRaw(t, b)
	small.connect(&codec.Connect{ClientID: []byte("small"), CleanStart: true})
	small.publish(&codec.Publish{Topic: []byte("t/small"), Payload: []byte("hi")})
	p := decodePublish(t, sub.mustRead(codec.TypePublish))
	if string(p.Topic) != "t/small" {
		t.Fatalf("topic delivered during the refusals: got %v, want %v", string(p.Topic), "t/small")
	}

	for i, r := range holders {
		r.write(big(fmt.Sprint("t/big", i))[30<<10:])
		p := decodePublish(t, sub.mustRead(codec.TypePublish))
		if len(p.Payload) != (60 << 10) {
			t.Fatalf("payload of a finished partial packet: got %v, want %v", len(p.Payload), 60<<10)
		}
	}
	waitFor(t, "budget given back", func() bool { return b.Stats().PartialBytes == 0 })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("after"), CleanStart: true})
	r.write(big("t/after"))
	p = decodePublish(t, sub.mustRead(codec.TypePublish))
	if string(p.Topic) != "t/after" {
		t.Fatalf("large packet accepted again: got %v, want %v", string(p.Topic), "t/after")
	}
}

// TestPartialBudgetReleasedOnClose: a connection closed halfway through a
// large packet gives its bytes back.
func TestPartialBudgetReleasedOnClose(t *testing.T) {
	b := startBroker(t, nil)
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("gone"), CleanStart: true})
	pkt := publishPacket("x", 500<<10)
	r.write(pkt[:200<<10])
	waitFor(t, "budget taken", func() bool { return b.Stats().PartialBytes == int64(len(pkt)) })
	_ = r.nc.Close()
	waitFor(t, "budget given back on close", func() bool { return b.Stats().PartialBytes == 0 })
}

// openTakeover opens a connection on loop 1 whose CONNECT for id (with a
// will payload of willSize bytes, sent in reads of at most 16 KiB) waits
// for the session's owner on loop 0: the takeover stays pending until the
// next pump.
func (hs *harness) openTakeover(id string, willSize int) *fakeConn {
	f := &fakeConn{el: hs.loops[1]}
	hs.h.OnOpen(f)
	p := &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, CleanStart: true, ClientID: []byte(id)}
	if willSize > 0 {
		p.WillFlag, p.WillTopic, p.WillPayload = true, []byte("will/"+id), make([]byte, willSize)
	}
	conn := codec.AppendConnect(nil, p)
	for len(conn) > 0 {
		n := min(len(conn), 16<<10)
		hs.send(f, conn[:n])
		conn = conn[n:]
	}
	if f.ctx.(*client).state != stateTakeover {
		hs.t.Fatalf("state of the new connection: got %v, want %v", f.ctx.(*client).state, stateTakeover)
	}
	return f
}

// TestTakeoverInputBounded: the bytes a client sends after its CONNECT
// while its takeover is pending wait in gnet's buffer (readPackets does
// not consume them) and are read once the session is free; past
// MaxTakeoverBytes the connection is closed, logged and counted, and other
// clients are served.
func TestTakeoverInputBounded(t *testing.T) {
	var logs syncBuffer
	hs := newHarness(t, 2, func(c *Config) {
		c.MaxTakeoverBytes = 1000
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	sub := hs.conn(0, "sub")
	hs.subscribe(sub, "t/#", 0)
	pub := hs.conn(0, "pub")

	// Under the bound: the pipelined PUBLISH is delivered after the takeover.
	hs.conn(0, "dup")
	f := hs.openTakeover("dup", 0)
	held := publishPacket("t/held", 500)
	hs.send(f, held)
	if f.closed {
		t.Fatal("closed under the bound")
	}
	if (len(f.in) > len(held)) != true {
		t.Fatalf("input held in gnet's buffer: got %v, want %v", len(f.in) > len(held), true)
	}
	w0 := sub.written
	hs.pump() // loop 0 closes the old connection, loop 1 reads the held input
	hs.pump() // loop 0 delivers what loop 1 handed over
	if f.ctx.(*client).state != stateConnected {
		t.Fatalf("state after the takeover: got %v, want %v", f.ctx.(*client).state, stateConnected)
	}
	if (sub.written - w0) != len(held) {
		t.Fatalf("held PUBLISH delivered after the takeover: got %v, want %v", sub.written-w0, len(held))
	}

	// Over it: closed without a CONNACK.
	hs.conn(0, "dup2")
	g := hs.openTakeover("dup2", 0)
	hs.send(g, publishPacket("t/over", 1500))
	if !g.closed {
		t.Fatal("connection over max_takeover_bytes not closed")
	}
	if got := hs.b.Stats().TakeoverClosed; got != uint64(1) {
		t.Fatalf("closes counted: got %v, want %v", got, uint64(1))
	}
	if !strings.Contains(logs.String(), "max_takeover_bytes") {
		t.Fatal("no log line:\n", logs.String())
	}
	hs.pump()
	w0 = sub.written
	hs.send(pub, publishPacket("t/other", 10))
	if want := len(publishPacket("t/other", 10)); (sub.written - w0) != want {
		t.Fatalf("another client served: got %v, want %v", sub.written-w0, want)
	}
}

// TestTakeoverKeepsLargeConnect: a CONNECT assembled in its own buffer
// (over partialMin) waits for its takeover there, not in gnet's buffer,
// and the buffer is given back once it is read again.
func TestTakeoverKeepsLargeConnect(t *testing.T) {
	hs := newHarness(t, 2)
	sub := hs.conn(0, "sub")
	hs.subscribe(sub, "t/#", 0)
	hs.conn(0, "big")
	f := hs.openTakeover("big", 20<<10)
	p := partialOf(f)
	if !(p != nil && len(p) == cap(p)) {
		t.Fatal("CONNECT kept in its own buffer")
	}
	if len(f.in) != 0 {
		t.Fatalf("bytes in gnet's buffer: got %v, want %v", len(f.in), 0)
	}
	pkt := publishPacket("t/after", 10)
	hs.send(f, pkt)
	w0 := sub.written
	hs.pump()
	hs.pump()
	c := f.ctx.(*client)
	if c.state != stateConnected {
		t.Fatalf("state after the takeover: got %v, want %v", c.state, stateConnected)
	}
	if c.will == nil {
		t.Fatal("will of the large CONNECT lost")
	}
	if partialOf(f) != nil {
		t.Fatal("CONNECT buffer kept after CONNACK")
	}
	if got := hs.b.partial.used.Load(); got != int64(0) {
		t.Fatalf("budget in use: got %v, want %v", got, int64(0))
	}
	if (sub.written - w0) != len(pkt) {
		t.Fatalf("PUBLISH sent during the takeover delivered: got %v, want %v", sub.written-w0, len(pkt))
	}
}
