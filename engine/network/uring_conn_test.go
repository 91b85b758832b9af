//go:build linux

package network

import (
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
	// A SEND of the queued bytes in flight, one more write behind it.
	c.sending, c.queued, c.sendOff, c.sendBusy = c.queued, nil, 100, true
	_, _ = c.Write(chunk)
	want := uringRoundWrite + 2*len(chunk) - 100
	if ob := c.OutboundBuffered(); ob != want {
		t.Fatalf("SEND in flight: outbound %d, want %d", ob, want)
	}
}
