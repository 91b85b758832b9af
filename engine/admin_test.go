package engine

import (
	"context"
	"fmt"
	"testing"
)

// TestClientsPaging20k pages through 20,000 clients on two loops: each
// client once, in id order, each page walking every loop in slices of at
// most scanSlice clients per Execute.
func TestClientsPaging20k(t *testing.T) {
	const n = 20000
	hs := newHarness(t, 2)
	for i := 0; i < n; i++ {
		hs.conn(i%2, fmt.Sprintf("c%06d", i))
	}
	if got := hs.b.connected.Load(); got != n {
		t.Fatalf("%d connected", got)
	}
	ctx := context.Background()
	after, prev, seen, pages := "", "", 0, 0
	for {
		before := hs.loops[0].executes + hs.loops[1].executes
		p, err := hs.b.Clients(ctx, ClientQuery{After: after, Limit: MaxClientPage})
		if err != nil {
			t.Fatal(err)
		}
		// n/2 clients per loop, scanSlice per Execute.
		want := 2 * ((n/2 + scanSlice - 1) / scanSlice)
		if got := hs.loops[0].executes + hs.loops[1].executes - before; got != want {
			t.Fatalf("page %d took %d Executes, want %d", pages, got, want)
		}
		if p.Matched != n {
			t.Fatalf("matched %d", p.Matched)
		}
		for _, c := range p.Clients {
			if c.ID <= prev {
				t.Fatalf("%q after %q", c.ID, prev)
			}
			prev = c.ID
			seen++
		}
		pages++
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if seen != n || pages != n/MaxClientPage {
		t.Fatalf("%d clients in %d pages", seen, pages)
	}
	p, err := hs.b.Clients(ctx, ClientQuery{IDPrefix: "c01999", Limit: 5})
	if err != nil || p.Matched != 10 || len(p.Clients) != 5 || p.Clients[0].ID != "c019990" || p.Next != "c019994" {
		t.Fatalf("prefix page %+v %v", p, err)
	}
}

// TestClientsWalkSurvivesCloses: clients closed during a walk (here by
// the walk's own function, in its second slice, which shrinks the list
// under it) are skipped, and every client that stays is visited.
func TestClientsWalkSurvivesCloses(t *testing.T) {
	const n = 3 * scanSlice
	hs := newHarness(t, 1)
	conns := make([]*fakeConn, n)
	for i := range conns {
		conns[i] = hs.conn(0, fmt.Sprintf("c%05d", i))
	}
	// Close every other client in the walk's second slice.
	l, closed := hs.loop(0), false
	listed := map[string]bool{}
	err := hs.b.walkClients(context.Background(), l, func(c *client) {
		if c.state == stateConnected {
			listed[c.sess.clientID] = true
		}
		if !closed && len(listed) == scanSlice+1 {
			closed = true
			for i := 0; i < n; i += 2 {
				_ = hs.loops[0].Close(conns[i])
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if i%2 != 0 && !listed[fmt.Sprintf("c%05d", i)] {
			t.Fatalf("c%05d, connected throughout, was not visited", i)
		}
	}
}
