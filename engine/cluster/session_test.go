package cluster

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ownerEngine is a fakeEngine that records takeovers.
type ownerEngine struct {
	fakeEngine
	mu    sync.Mutex
	taken []string
}

func (e *ownerEngine) TakenOver(id string, token uint64, clean bool, done func()) {
	e.mu.Lock()
	e.taken = append(e.taken, id)
	e.mu.Unlock()
	if done != nil {
		done()
	}
}

func (e *ownerEngine) takenOver() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.taken...)
}

// startOwnerNode starts a node whose engine is told of takeovers.
func startOwnerNode(t *testing.T, cfg Config, e *ownerEngine) *Node {
	cfg.Enabled = true
	cfg.PendingMessages, cfg.PendingBytes = 1024, 1<<20
	if err := cfg.Validate(); err != nil {
		t.Error(err)
		return nil
	}
	n, err := startWith(cfg, e, 1<<20, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Error(err)
		return nil
	}
	t.Cleanup(n.Close)
	e.fakeEngine.mu.Lock()
	e.fakeEngine.n = n
	e.fakeEngine.mu.Unlock()
	return n
}

type claimed struct {
	token uint64
	rec   []byte
	err   error
}

// claimWait claims id on n, retrying while the bucket is not bound yet,
// for at most 20 s.
func claimWait(t *testing.T, n *Node, id string, clean bool) claimed {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ch := make(chan claimed, 1)
		if !n.Claim(id, clean, func(token uint64, rec []byte, err error) { ch <- claimed{token, rec, err} }) {
			t.Fatal("claim queue full")
		}
		c := <-ch
		if c.err == nil || !errors.Is(c.err, ErrUnavailable) || time.Now().After(deadline) {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNodesSessionOwnership: two embedded nodes share the ownership
// bucket. A claim of a client id on the second node tells the first,
// which held it, that its session was taken over, before the claim
// returns; the session record the
// first wrote comes with a claim that is not a clean start, and not with
// a clean one.
func TestNodesSessionOwnership(t *testing.T) {
	r1, r2 := freeAddr(t), freeAddr(t)
	routes := r1 + "," + r2
	e1, e2 := &ownerEngine{}, &ownerEngine{}
	var n1, n2 *Node
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		n1 = startOwnerNode(t, Config{Name: "own", Node: "a", Listen: r1, Routes: routes}, e1)
	}()
	go func() {
		defer wg.Done()
		n2 = startOwnerNode(t, Config{Name: "own", Node: "b", Listen: r2, Routes: routes}, e2)
	}()
	wg.Wait()
	if n1 == nil || n2 == nil {
		t.FailNow()
	}

	c := claimWait(t, n1, "dev-1", false)
	if c.err != nil {
		t.Fatalf("claim on a: %v", c.err)
	}
	if c.rec != nil {
		t.Fatalf("first claim brought record %q, want none", c.rec)
	}
	n1.SaveSession("dev-1", []byte("subs-of-dev-1"))
	waitFor(t, "the record written", func() bool { return n1.SessionStats().Records == 1 })

	c2 := claimWait(t, n2, "dev-1", false)
	if c2.err != nil {
		t.Fatalf("claim on b: %v", c2.err)
	}
	if string(c2.rec) != "subs-of-dev-1" {
		t.Fatalf("claim on b brought record %q, want a's", c2.rec)
	}
	// b's claim asked a to let go and waited for it.
	if got := e1.takenOver(); len(got) != 1 {
		t.Fatalf("a told of takeovers %v when b's claim returned, want [dev-1]", got)
	}
	if got := n1.SessionStats().Owned; got != 0 {
		t.Fatalf("a still holds %d claims", got)
	}
	if got := e2.takenOver(); len(got) != 0 {
		t.Fatalf("b told of takeovers %v, want none", got)
	}

	// a's write after losing the session fails its compare-and-set: a
	// holds no claim, so it is not even queued.
	n1.SaveSession("dev-1", []byte("stale"))
	c3 := claimWait(t, n1, "dev-1", true)
	if c3.err != nil || c3.rec != nil {
		t.Fatalf("clean claim on a: record %q err %v, want no record", c3.rec, c3.err)
	}
	waitFor(t, "b told of the takeover", func() bool { return len(e2.takenOver()) == 1 })

	// A session that ends clears its record before the claim goes.
	n1.SaveSession("dev-1", []byte("second"))
	waitFor(t, "the second record written", func() bool { return n1.SessionStats().Records == 2 })
	n1.Release("dev-1", c3.token)
	waitFor(t, "the claim released", func() bool { return n1.SessionStats().Owned == 0 })
	if c4 := claimWait(t, n2, "dev-1", false); c4.err != nil || c4.rec != nil {
		t.Fatalf("claim on b after a's session ended: record %q err %v, want no record", c4.rec, c4.err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOwnerValue(t *testing.T) {
	for _, c := range []struct {
		node  string
		clean bool
		rec   []byte
	}{{"n1", true, nil}, {"n-2", false, []byte("a\nb")}, {"x", false, nil}} {
		v := ownerValue(c.node, c.clean, c.rec)
		node, clean, ok := parseOwner(v)
		if !ok || node != c.node || clean != c.clean || string(recordOf(v)) != string(c.rec) {
			t.Fatalf("%q: got %q %v %v %q", v, node, clean, ok, recordOf(v))
		}
	}
	if _, _, ok := parseOwner([]byte("garbage")); ok {
		t.Fatal("parseOwner took a value without a node")
	}
}

// TestExternalNATSNeedsJetStream: with cluster_nats_url, a NATS without
// JetStream stops start-up with a message that says so; one with
// JetStream is taken.
func TestExternalNATSNeedsJetStream(t *testing.T) {
	for _, js := range []bool{false, true} {
		opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
			JetStream: js, StoreDir: t.TempDir()}
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatal("nats-server not ready")
		}
		cfg := Config{Enabled: true, Name: "ext", Node: "a", NATSURL: srv.ClientURL(), PendingMessages: 16, PendingBytes: 1 << 20}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		n, err := startWith(cfg, &fakeEngine{}, 1<<20, slog.New(slog.NewTextHandler(io.Discard, nil)))
		switch {
		case !js && (err == nil || !strings.Contains(err.Error(), "JetStream is not enabled")):
			t.Errorf("without JetStream: err %v, want one saying JetStream is not enabled", err)
		case js && err != nil:
			t.Errorf("with JetStream: %v", err)
		}
		if n != nil {
			n.Close()
		}
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}
