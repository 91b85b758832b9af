//go:build linux

package network

import (
	"bytes"
	"testing"
	"unsafe"
)

// TestUringConnSizeClass keeps a connection in the 160 B size class: every
// idle connection has one, and the RSS per idle connection is a target.
// A field that only a callback needs belongs in the loop (as view does).
func TestUringConnSizeClass(t *testing.T) {
	if s := unsafe.Sizeof(uringConn{}); s > 160 {
		t.Fatalf("uringConn is %d B, over the 160 B size class", s)
	}
}

// TestUringRoundWriteCounted: bytes a round queues for a connection with no
// SEND before them count as outbound past uringRoundWrite, so many engine
// writes in one loop round are held to the outbound bound; once a SEND is
// in flight every unsent byte counts.
func TestUringRoundWriteCounted(t *testing.T) {
	c := &uringConn{l: &uringLoop{}, open: true}
	chunk := make([]byte, 16<<10)
	for range uringRoundWrite / len(chunk) {
		_, _ = c.Write(chunk)
	}
	if ob := c.OutboundBuffered(); ob != 0 {
		t.Fatalf("%d B queued in the round: outbound %d, want 0", uringRoundWrite, ob)
	}
	_, _ = c.Write(chunk)
	if ob := c.OutboundBuffered(); ob != len(chunk) {
		t.Fatalf("%d B past the round's allowance: outbound %d, want %d", len(chunk), ob, len(chunk))
	}
	// A SEND of the queued bytes in flight, of which the kernel took 100
	// so far, one more write behind it.
	c.sendBusy, c.flight = true, c.outLen
	c.consume(100)
	_, _ = c.Write(chunk)
	want := uringRoundWrite + 2*len(chunk) - 100
	if ob := c.OutboundBuffered(); ob != want {
		t.Fatalf("SEND in flight: outbound %d, want %d", ob, want)
	}
}

// TestUringConnChunks: written bytes fill fixed chunks in order; consumed
// ones give their chunks back to the loop, and the last consumed byte
// leaves the connection holding none.
func TestUringConnChunks(t *testing.T) {
	l := &uringLoop{chunks: make([][]byte, 0, 4)}
	c := &uringConn{l: l, open: true}
	p := make([]byte, 2*uringChunk+100)
	for i := range p {
		p[i] = byte(i % 251)
	}
	_, _ = c.Write(p[:10])
	_, _ = c.Write(p[10:])
	if len(c.out) != 3 || int(c.outLen) != len(p) {
		t.Fatalf("%d B written: %d chunks, %d B unsent; want 3, %d", len(p), len(c.out), c.outLen, len(p))
	}
	var got []byte
	for i, b := range c.out {
		if i < 2 && len(b) != uringChunk {
			t.Fatalf("chunk %d holds %d B, want %d", i, len(b), uringChunk)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, p) {
		t.Fatal("chunks do not hold the written bytes in order")
	}
	c.consume(uringChunk + 5)
	if len(c.out) != 2 || c.outOff != 5 || len(l.chunks) != 1 {
		t.Fatalf("after a chunk and 5 B: %d chunks, offset %d, %d pooled; want 2, 5, 1", len(c.out), c.outOff, len(l.chunks))
	}
	if c.out[0][c.outOff] != p[uringChunk+5] {
		t.Fatal("the first unsent byte is not the one after the consumed ones")
	}
	c.consume(int(c.outLen))
	if len(c.out) != 0 || c.outLen != 0 || len(l.chunks) != 3 {
		t.Fatalf("all consumed: %d chunks held, %d B, %d pooled; want 0, 0, 3", len(c.out), c.outLen, len(l.chunks))
	}
}
