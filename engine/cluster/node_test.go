package cluster

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeEngine records what a Node hands it.
type fakeEngine struct {
	n        *Node
	mu       sync.Mutex
	got      []string
	retained []string
	restored []string
	shared   []string // "group filter record"
}

func (e *fakeEngine) Deliver(batch [][]byte) {
	e.mu.Lock()
	size := 0
	for _, r := range batch {
		e.got = append(e.got, string(r))
		size += len(r)
	}
	n := e.n
	e.mu.Unlock()
	if n != nil {
		n.Done(size)
	}
}

func (e *fakeEngine) DeliverShared(batch []Shared) {
	e.mu.Lock()
	size := 0
	for _, r := range batch {
		e.shared = append(e.shared, r.Group+" "+r.Filter+" "+string(r.Record))
		size += len(r.Record)
	}
	n := e.n
	e.mu.Unlock()
	if n != nil {
		n.Done(size)
	}
}

func (e *fakeEngine) Snapshot(emit func([]byte)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.retained {
		emit([]byte(r))
	}
}

func (e *fakeEngine) Restore(r []byte) {
	e.mu.Lock()
	e.restored = append(e.restored, string(r))
	e.mu.Unlock()
}

func (e *fakeEngine) received() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.got...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startNode(t *testing.T, cfg Config, e *fakeEngine) *Node {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	cfg.Enabled = true
	cfg.PendingMessages, cfg.PendingBytes = 1024, 1<<20
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// The engine is set before Start's goroutines can call it.
	n, err := startWith(cfg, e, 1<<20, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	e.mu.Lock()
	e.n = n
	e.mu.Unlock()
	return n
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestNodesInterestAndRetained: two embedded nodes route to each other;
// a record reaches the other node only while it has interest, a
// retained record reaches it always, and a node joining later is sent
// the retained state.
func TestNodesInterestAndRetained(t *testing.T) {
	name := "t" + strconv.Itoa(time.Now().Nanosecond())
	a1, a2 := freeAddr(t), freeAddr(t)
	ea, eb := new(fakeEngine), new(fakeEngine)
	ea.retained = []string{"r1", "r2"}
	start := time.Now()
	na := startNode(t, Config{Name: name, Node: "a", Listen: a1}, ea)
	nb := startNode(t, Config{Name: name, Node: "b", Listen: a2, Routes: a1}, eb)
	t.Logf("started in %v", time.Since(start))
	if got := eb.restored; len(got) != 2 || got[0] != "r1" || got[1] != "r2" {
		t.Fatalf("b restored %q, want [r1 r2]", got)
	}
	nb.Interest("x/#", true)
	subj := string(AppendSubject(nil, na.Prefix(), []byte("x/y")))
	other := string(AppendSubject(nil, na.Prefix(), []byte("z")))
	deadline := time.Now().Add(10 * time.Second)
	for len(eb.received()) == 0 {
		na.Publish(other, []byte("no interest"))
		na.Publish(subj, []byte("m"))
		time.Sleep(20 * time.Millisecond)
		if time.Now().After(deadline) {
			t.Fatal("no record after 10 s")
		}
	}
	t.Logf("delivered after %v", time.Since(start))
	for _, r := range eb.received() {
		if r != "m" {
			t.Fatalf("b got %q without interest", r)
		}
	}
	nb.Interest("x/#", false)
	na.PublishRetained([]byte("ret"))
	deadline = time.Now().Add(10 * time.Second)
	for last := ""; last != "ret"; {
		na.Publish(subj, []byte("after"))
		got := eb.received()
		last = got[len(got)-1]
		if last == "after" {
			t.Fatal("b got a record after its interest went")
		}
		if time.Now().After(deadline) {
			t.Fatal("no retained record after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := nb.Stats(); st.Subjects != 0 || st.Routes == 0 || st.RetainedSync != 2 {
		t.Fatalf("b stats %+v", st)
	}
}

// TestNodesStartWithFullSeedList: nodes that each list every node,
// themselves included, start without waiting out the retained sync.
func TestNodesStartWithFullSeedList(t *testing.T) {
	name := "t" + strconv.Itoa(time.Now().Nanosecond())
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	routes := addrs[0] + "," + addrs[1] + "," + addrs[2]
	for i, a := range addrs {
		start := time.Now()
		startNode(t, Config{Name: name, Node: "n" + strconv.Itoa(i), Listen: a, Routes: routes}, new(fakeEngine))
		t.Logf("node %d started in %v", i, time.Since(start))
	}
}
