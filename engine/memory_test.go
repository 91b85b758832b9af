package engine

// Memory per idle connection: the goal is an RSS per idle connection no
// higher than Mosquitto's, read by the bench harness's conn scenario after
// the connections have been held idle. The live heap per idle connection
// (MemStats.BySize of an in-process broker behind real sockets after a
// storm of connections) is made of:
//
//   - gnet, fixed: conn 240 B, remote address as unix.Sockaddr 32 B and
//     net.TCPAddr 48 B, its processIO closure 16 B, its connection map
//     about 31 B.
//   - or, with the io_uring backend (engine/network/uring.go): uringConn
//     160 B (the buffer being handed to OnTraffic lives in the loop), the
//     loop's slot tables about 13 B, and the 16 B send buffer the CONNACK
//     left, kept for the next write.
//   - client 96 B: MQTT 5 options, topic aliases, enhanced authentication,
//     the user name and the slow-consumer clock live in clientExt,
//     allocated on first use; keep alive in milliseconds; the client id
//     only in the session.
//   - session 64 B: QoS 1/2 state, the throttle's rate measure, a Receive
//     Maximum and the offline expiry deadline in sessionExt; the
//     subscriptions, the throttle's congestion state and the SubscriberID
//     (so the session table slot too) in subState, made at the first
//     SUBSCRIBE. Both are allocated on first use.
//   - client id string 16 B; session store about 14 B (a pointer hash
//     table); the loop's client slice about 9 B. The CONNACK's write
//     buffer is carved from a per-loop chunk and dropped once the
//     connection has been idle for idlePending.
//
// RSS beyond the live heap, while held (after the idle trim, trim.go, has
// returned free pages): span fragmentation, most of it gnet's 16 B class
// (two 16 B garbage objects per accept, a task queue node and a closure,
// between its live closures), GC metadata (mark and allocation bits), span
// structures, and code pages first touched during the storm. The runtime's
// metadata is mostly made once, by the first collections (1.3-1.7 MB:
// span set blocks, mark bits arenas, span structures), so a baseline read
// before any collection charges it to the connections. At the
// storm's peak add the garbage since the last GC. The GC target stays at
// Go's default: a lower GOGC trims little of the peak and costs much more
// broker CPU per message.

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/trie"
)

// idleConnHeap opens n connections through the handler (no sockets), each
// sending CONNECT, and returns the live heap the engine holds per idle
// connection: gnet's own conn (about 0.35 KB with its addresses) is not
// included.
func idleConnHeap(t testing.TB, n int) float64 {
	hs := newHarness(t, 2)
	conns := make([]*fakeConn, n)
	pkts := make([][]byte, n)
	for i := range conns {
		conns[i] = &fakeConn{el: hs.loops[i%2], in: make([]byte, 0, 64)}
		pkts[i] = codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
			CleanStart: true, KeepAlive: 60, ClientID: []byte(fmt.Sprintf("gust-load-%06d", i))})
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i, f := range conns {
		hs.h.OnOpen(f)
		hs.send(f, pkts[i])
	}
	hs.pump()
	runtime.GC()
	runtime.ReadMemStats(&after)
	for _, f := range conns {
		if c, ok := f.ctx.(*client); !ok || c.state != stateConnected {
			t.Fatal("connection not connected")
		}
	}
	runtime.KeepAlive(conns)
	runtime.KeepAlive(pkts)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// TestIdleConnHeapBudget guards the engine's share of the memory per idle
// connection, so that with gnet's own share the RSS per idle connection
// stays no higher than Mosquitto's.
func TestIdleConnHeapBudget(t *testing.T) {
	const budget = 240 // bytes per idle connection, engine structures only
	per := idleConnHeap(t, 4000)
	t.Logf("engine heap per idle connection: %.0f B", per)
	if per >= budget {
		t.Fatalf("engine heap per idle connection %.0f B, budget %d B", per, budget)
	}
}

// BenchmarkIdleConnHeap reports the engine's live heap per idle connection
// as heap-B/conn (the ns/op figure is meaningless).
func BenchmarkIdleConnHeap(b *testing.B) {
	b.ReportAllocs()
	var per float64
	for range b.N {
		per = idleConnHeap(b, 4000)
	}
	b.ReportMetric(per, "heap-B/conn")
}

// TestIdleConnSizeClasses keeps the two structures every idle connection
// has in their size classes: client in 96 B (full: a new field goes in
// clientExt unless every connection needs it) and session in 64 B (full:
// a subscriber's state goes in subState, QoS 1/2 state and the like in
// sessionExt).
func TestIdleConnSizeClasses(t *testing.T) {
	cs, ss := unsafe.Sizeof(client{}), unsafe.Sizeof(session{})
	t.Logf("client %d B, session %d B, clientExt %d B, subState %d B, sessionExt %d B",
		cs, ss, unsafe.Sizeof(clientExt{}), unsafe.Sizeof(subState{}), unsafe.Sizeof(sessionExt{}))
	if cs > 96 {
		t.Fatalf("client is %d B, over the 96 B size class", cs)
	}
	if ss > 64 {
		t.Fatalf("session is %d B, over the 64 B size class", ss)
	}
}

// TestIdleConnHoldsNoExtras checks that an idle 3.1.1 connection has none
// of the parts allocated on first use: no clientExt, no
// subscriber state, no QoS 1/2 state and, once it has read nothing for
// idlePending, no write buffer; and that its first SUBSCRIBE creates the
// subscriber state.
func TestIdleConnHoldsNoExtras(t *testing.T) {
	hs := newHarness(t, 1)
	f := hs.conn(0, "idle")
	c, ok := f.ctx.(*client)
	if !ok || c.state != stateConnected {
		t.Fatal("connection not connected")
	}
	s := c.sess
	if c.ext != nil {
		t.Fatal("clientExt allocated")
	}
	if s.sub.Load() != nil {
		t.Fatal("subscriber state allocated")
	}
	if got := s.subID(); got != trie.SubscriberID(0) {
		t.Fatalf("SubscriberID of a session that never subscribed: got %v, want %v", got, trie.SubscriberID(0))
	}
	if s.sessionExt != nil {
		t.Fatal("QoS 1/2 state allocated")
	}
	hs.b.clock.Store(c.lastRead + int64(idlePending) + 1)
	hs.loop(0).housekeeping()
	if c.state != stateConnected {
		t.Fatalf("state after housekeeping: got %v, want %v", c.state, stateConnected)
	}
	if c.pending != nil {
		t.Fatalf("idle connection keeps a %d B write buffer", cap(c.pending))
	}
	hs.subscribe(f, "a/b", 0)
	st := s.sub.Load()
	if !(st != nil && len(st.subs.list) == 1 && st.id != 0) {
		t.Fatal("no subscriber state after SUBSCRIBE")
	}
	if hs.b.table.get(st.id) != s {
		t.Fatal("session not in the table under its SubscriberID")
	}
	if c.pending == nil {
		t.Fatal("no SUBACK pending")
	}
}

// recordingAuthoriser remembers the last ClientInfo it was shown.
type recordingAuthoriser struct {
	mu   sync.Mutex
	last ClientInfo
}

func (a *recordingAuthoriser) CanPublish(c *ClientInfo, _ []byte, _ byte, _ bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = *c
	return true
}

func (a *recordingAuthoriser) CanSubscribe(c *ClientInfo, _ []byte, _ byte) bool {
	return a.CanPublish(c, nil, 0, false)
}

// TestAuthoriserClientInfo checks that the ClientInfo built for the
// Authoriser (built on demand, not stored in every client) names the client, its user
// name and its protocol version.
func TestAuthoriserClientInfo(t *testing.T) {
	az := &recordingAuthoriser{}
	b := startBroker(t, func(c *Config) { c.Authoriser = az })
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("who"), CleanStart: true, UsernameFlag: true, Username: []byte("alice")})
	if got := r.subscribe(1, "a/#", 0).ReasonCodes[0]; got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	az.mu.Lock()
	got := az.last
	az.mu.Unlock()
	if got != (ClientInfo{ClientID: "who", Username: "alice", ProtocolVersion: byte(codec.V311)}) {
		t.Fatalf("got %v, want %v", got, ClientInfo{ClientID: "who", Username: "alice", ProtocolVersion: byte(codec.V311)})
	}
}

// TestIdleTrim checks that the broker returns memory once after activity
// followed by TrimIdle of quiet, not again while nothing happens, and again
// after new activity.
func TestIdleTrim(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.TrimIdle = 100 * time.Millisecond })
	waitTrims := func(want uint64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for b.trims.Load() < want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := b.trims.Load(); got != want {
			t.Fatalf("idle trims: got %v, want %v", got, want)
		}
	}
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("trim"), CleanStart: true})
	waitTrims(1)
	time.Sleep(1200 * time.Millisecond) // two housekeeping periods, quiet
	if got := b.trims.Load(); got != uint64(1) {
		t.Fatalf("no trim without new activity: got %v, want %v", got, uint64(1))
	}
	r.publish(&codec.Publish{Topic: []byte("t"), Payload: []byte("x")})
	waitTrims(2)
}
