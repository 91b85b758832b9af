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
		equal(t, len(pub.in), 0, "bytes left in gnet's buffer at", off)
		p := partialOf(pub)
		check(t, p != nil && cap(p) == len(big), "partial buffer of the declared length at", off)
		equal(t, hs.b.partial.used.Load(), int64(len(big)), "budget in use")
	}
	equal(t, sub.written, w0, "delivered before the packet was whole")
	// The tail, a small packet and the start of another large one in one read.
	tail := big[len(big)/1000*1000:]
	read := append(append(append([]byte(nil), tail...), small...), big[:3000]...)
	hs.send(pub, read)
	want := len(big) + len(small) // a 3.1.1 QoS 0 PUBLISH is forwarded as is
	equal(t, sub.written-w0, want, "bytes delivered")
	p := partialOf(pub)
	check(t, len(p) == 3000 && cap(p) == len(big), "second packet assembled")
	equal(t, hs.b.partial.used.Load(), int64(len(big)), "budget in use by the second packet")
	hs.send(pub, big[3000:])
	equal(t, sub.written-w0, want+len(big), "bytes delivered with the second packet")
	check(t, partialOf(pub) == nil, "partial buffer kept after the packet")
	equal(t, hs.b.partial.used.Load(), int64(0), "budget in use at the end")
	equal(t, hs.b.Stats().PublishReceived, uint64(3), "PUBLISHes received")
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
	check(t, len(pkt) <= partialMin, "packet under partialMin")
	w0, peeks := sub.written, pub.peeksAll
	for off := 0; off < len(pkt)-100; off += 100 {
		hs.send(pub, pkt[off:off+100])
	}
	equal(t, pub.peeksAll, peeks, "whole-buffer peeks while the packet was incomplete")
	equal(t, len(pub.in), len(pkt)/100*100, "bytes waiting in gnet's buffer")
	check(t, partialOf(pub) == nil, "small packet assembled outside gnet's buffer")
	hs.send(pub, pkt[len(pkt)/100*100:])
	equal(t, pub.peeksAll, peeks+1, "whole-buffer peeks")
	equal(t, sub.written-w0, len(pkt), "bytes delivered")
	equal(t, len(pub.in), 0, "bytes left in gnet's buffer")
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
	equal(t, hs.b.partial.used.Load(), int64(len(conn)), "budget in use by the CONNECT")
	hs.send(f, conn[10<<10:])
	equal(t, f.ctx.(*client).state, stateConnected, "state")
	check(t, len(f.out) >= 4 && codec.Type(f.out[0]>>4) == codec.TypeConnack && f.out[3] == 0, "CONNACK accepted")
	equal(t, hs.b.partial.used.Load(), int64(0), "budget in use after CONNECT")

	g := &fakeConn{el: hs.loops[0]}
	hs.h.OnOpen(g)
	hs.send(g, publishPacket("x", 100<<10)[:100])
	check(t, g.closed, "large PUBLISH before CONNECT not refused")
	equal(t, hs.b.partial.used.Load(), int64(0), "budget taken for a refused packet")
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
	noErr(t, err)
	equal(t, disc.ReasonCode, codec.ReasonQuotaExceeded, "DISCONNECT reason")
	v5.expectClosed(5 * time.Second)

	v3 := dialRaw(t, b)
	v3.connect(&codec.Connect{ClientID: []byte("v3"), CleanStart: true})
	v3.write(big("t/v3")[:100])
	v3.expectClosed(5 * time.Second)
	equal(t, b.Stats().PartialRefused, uint64(2), "refusals counted")
	check(t, strings.Contains(logs.String(), "max_partial_bytes reached"), "no log line:\n", logs.String())

	small := dialRaw(t, b)
	small.connect(&codec.Connect{ClientID: []byte("small"), CleanStart: true})
	small.publish(&codec.Publish{Topic: []byte("t/small"), Payload: []byte("hi")})
	p := decodePublish(t, sub.mustRead(codec.TypePublish))
	equal(t, string(p.Topic), "t/small", "topic delivered during the refusals")

	for i, r := range holders {
		r.write(big(fmt.Sprint("t/big", i))[30<<10:])
		p := decodePublish(t, sub.mustRead(codec.TypePublish))
		equal(t, len(p.Payload), 60<<10, "payload of a finished partial packet")
	}
	waitFor(t, "budget given back", func() bool { return b.Stats().PartialBytes == 0 })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("after"), CleanStart: true})
	r.write(big("t/after"))
	p = decodePublish(t, sub.mustRead(codec.TypePublish))
	equal(t, string(p.Topic), "t/after", "large packet accepted again")
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
	equal(hs.t, f.ctx.(*client).state, stateTakeover, "state of the new connection")
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
	check(t, !f.closed, "closed under the bound")
	equal(t, len(f.in) > len(held), true, "input held in gnet's buffer")
	w0 := sub.written
	hs.pump() // loop 0 closes the old connection, loop 1 reads the held input
	hs.pump() // loop 0 delivers what loop 1 handed over
	equal(t, f.ctx.(*client).state, stateConnected, "state after the takeover")
	equal(t, sub.written-w0, len(held), "held PUBLISH delivered after the takeover")

	// Over it: closed without a CONNACK.
	hs.conn(0, "dup2")
	g := hs.openTakeover("dup2", 0)
	hs.send(g, publishPacket("t/over", 1500))
	check(t, g.closed, "connection over max_takeover_bytes not closed")
	equal(t, hs.b.Stats().TakeoverClosed, uint64(1), "closes counted")
	check(t, strings.Contains(logs.String(), "max_takeover_bytes"), "no log line:\n", logs.String())
	hs.pump()
	w0 = sub.written
	hs.send(pub, publishPacket("t/other", 10))
	equal(t, sub.written-w0, len(publishPacket("t/other", 10)), "another client served")
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
	check(t, p != nil && len(p) == cap(p), "CONNECT kept in its own buffer")
	equal(t, len(f.in), 0, "bytes in gnet's buffer")
	pkt := publishPacket("t/after", 10)
	hs.send(f, pkt)
	w0 := sub.written
	hs.pump()
	hs.pump()
	c := f.ctx.(*client)
	equal(t, c.state, stateConnected, "state after the takeover")
	check(t, c.will != nil, "will of the large CONNECT lost")
	check(t, partialOf(f) == nil, "CONNECT buffer kept after CONNACK")
	equal(t, hs.b.partial.used.Load(), int64(0), "budget in use")
	equal(t, sub.written-w0, len(pkt), "PUBLISH sent during the takeover delivered")
}
