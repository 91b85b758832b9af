package hostile

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// Memory attacks on the Limits settings: each one makes the broker hold
// what a client sends (offline queues, retained messages, sessions with
// subscriptions, delayed wills) well past the bound the test sets, and
// asserts that the broker's RSS grows by no more than the bound plus
// slack, while a well-behaved client keeps its round trips.

// rssSlack is what the broker may grow beyond a limit's bytes during an
// attack: the garbage the collector has not reclaimed yet (at GOGC=100
// the heap reaches twice the live data before a collection: the bound
// again), read buffers and the attackers' connections.
func rssSlack(bound int64) int64 { return bound + 48<<20 }

// underAttack runs attack against b while a probe makes round trips, and
// returns the broker's RSS growth at its peak and once the attack is over,
// and what the probe saw.
func underAttack(t *testing.T, b *broker, attack func(addr string)) (peak, held int64, st probeStats) {
	t.Helper()
	p := startProbe(t, b.Addr)
	s := sampleRSS(b)
	t0, cpu0 := time.Now(), b.CPU()
	attack(b.Addr)
	time.Sleep(500 * time.Millisecond) // what the broker has buffered is handled
	start, top := s.Stop()
	held = b.RSS() - start
	st = p.Stop()
	t.Logf("%s: RSS %s at start, growth %s at the peak, %s held; CPU %v in %v; probe: %v",
		b.name, mib(start), mib(top-start), mib(held), b.CPU()-cpu0, time.Since(t0).Round(time.Millisecond), st)
	return top - start, held, st
}

// checkBounded asserts an attack's figures: growth within the bound plus
// slack, and a probe that kept being served.
func checkBounded(t *testing.T, peak int64, bound int64, st probeStats) {
	t.Helper()
	if peak > bound+rssSlack(bound) {
		t.Errorf("RSS grew %s, bound %s plus slack", mib(peak), mib(bound))
	}
	if st.Received < st.Sent/2 || st.Errors > 0 {
		t.Errorf("probe not served during the attack: %v", st)
	}
}

// write sends pkt on c or fails the test.
func write(t *testing.T, c net.Conn, pkt []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// drain reads and discards what c receives until it is closed.
func drain(c net.Conn) {
	go func() { _, _ = io.Copy(io.Discard, c) }()
}

// persistentSessions leaves n offline 3.1.1 sessions named prefix-i, each
// subscribed at QoS 1 to the filters filters(i) returns, using w parallel
// connections at a time; it waits for each connection to be closed by the
// broker after its DISCONNECT.
func persistentSessions(t *testing.T, addr, prefix string, n, w int, filters func(i int) []string) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := oneSession(addr, prefix+"-"+strconv.Itoa(i), filters(i)); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("persistent sessions: %v", firstErr)
	}
}

// oneSession connects id without clean session, subscribes and
// disconnects, all in one write, then waits for the broker to close.
func oneSession(addr, id string, filters []string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	pkt := codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, KeepAlive: 60, ClientID: []byte(id)})
	sub := codec.Subscribe{PacketID: 1}
	for _, f := range filters {
		sub.Filters = append(sub.Filters, codec.Subscription{Filter: []byte(f), QoS: 1})
	}
	pkt = codec.AppendSubscribe(pkt, codec.V311, &sub)
	pkt = codec.AppendDisconnect(pkt, codec.V311, &codec.Disconnect{})
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, c) // CONNACK, SUBACK, then the close
	return err
}

// publishAll sends count QoS qos PUBLISHes of size bytes from one
// connection without waiting for acknowledgements, to topic(i), with
// RETAIN retain.
func publishAll(t *testing.T, addr string, count, size int, qos byte, retain bool, topic func(i int) string) {
	t.Helper()
	c := rawConnect(t, addr, fmt.Sprintf("attacker-%d", time.Now().UnixNano()), false)
	drain(c)
	payload := make([]byte, size)
	var pkt []byte
	for i := range count {
		pkt = codec.AppendPublish(pkt[:0], codec.V311, &codec.Publish{Topic: []byte(topic(i)), Payload: payload,
			QoS: qos, PacketID: uint16(i%65535 + 1), Retain: retain})
		write(t, c, pkt)
	}
	// A PINGREQ answered means every PUBLISH before it was handled.
	write(t, c, codec.AppendPingreq(nil))
	time.Sleep(100 * time.Millisecond)
}

// TestBoundsQueuedBytes: offline sessions offered 300 MiB of QoS 1
// messages (1,200 of 256 KiB: within Mosquitto's and Gust's 1,000
// messages per session) hold at most max_queued_bytes_total of them.
func TestBoundsQueuedBytes(t *testing.T) {
	const sessions, count, size = 16, 1200, 256 << 10
	const bound = 64 << 20
	attack := func(addr string) {
		persistentSessions(t, addr, "atkq", sessions, 4, func(i int) []string { return []string{"atkq/" + strconv.Itoa(i)} })
		publishAll(t, addr, count, size, 1, false, func(i int) string { return "atkq/" + strconv.Itoa(i%sessions) })
	}
	b := startBroker(t, brokerOpts{Flags: []string{"--max-queued-bytes-total", strconv.Itoa(bound)}})
	peak, _, st := underAttack(t, b, attack)
	checkBounded(t, peak, bound, st)
	if !b.WaitLog("queued bytes limit", 5*time.Second) {
		t.Error("no log line for the queued bytes limit")
	}
	if peerWanted() {
		underAttack(t, startMosquitto(t), attack)
	}
}

// TestBoundsRetainedBytes: 250 MiB of retained messages on distinct topics
// (4,000 of 64 KiB) keep at most max_retained_bytes.
func TestBoundsRetainedBytes(t *testing.T) {
	const count, size = 4000, 64 << 10
	const bound = 32 << 20
	attack := func(addr string) {
		publishAll(t, addr, count, size, 0, true, func(i int) string { return "atkr/" + strconv.Itoa(i) })
	}
	b := startBroker(t, brokerOpts{Flags: []string{"--max-retained-bytes", strconv.Itoa(bound)}})
	peak, _, st := underAttack(t, b, attack)
	checkBounded(t, peak, bound, st)
	if !b.WaitLog("retained limit", 5*time.Second) {
		t.Error("no log line for the retained limit")
	}
	if peerWanted() {
		underAttack(t, startMosquitto(t), attack)
	}
}

// TestBoundsSessions: 10,000 persistent sessions of 20 subscriptions with
// 500-byte filters (about 100 MB of filters) are held at max_sessions:
// the oldest offline ones are discarded.
func TestBoundsSessions(t *testing.T) {
	const n, subs = 10000, 20
	const limit = 1000
	long := func(i int) []string {
		fs := make([]string, subs)
		for j := range fs {
			fs[j] = fmt.Sprintf("atks/%06d/%02d/%0480d", i, j, 0)
		}
		return fs
	}
	attack := func(addr string) { persistentSessions(t, addr, "atks", n, 8, long) }
	b := startBroker(t, brokerOpts{Flags: []string{"--max-sessions", strconv.Itoa(limit)}})
	peak, _, st := underAttack(t, b, attack)
	// A session of 20 such subscriptions holds about 40 KB (each filter in
	// the session, its levels in the trie).
	checkBounded(t, peak, limit*48<<10, st)
	if !b.WaitLog("session limit", 5*time.Second) {
		t.Error("no log line for the session limit")
	}
	if peerWanted() {
		underAttack(t, startMosquitto(t), attack)
	}
}

// TestBoundsDelayedWills: 3,000 MQTT 5 clients with 60 KiB wills delayed
// by 10 minutes drop their connections (176 MiB of wills); at most
// max_delayed_will_bytes wait, the rest are published at once.
func TestBoundsDelayedWills(t *testing.T) {
	const n, size = 3000, 60 << 10 // a will payload is at most 65,535 bytes
	const bound = 16 << 20
	attack := func(addr string) {
		payload := make([]byte, size)
		for i := range n {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			p := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, KeepAlive: 60,
				ClientID: []byte("atkw-" + strconv.Itoa(i)), WillFlag: true, WillTopic: []byte("atkw/" + strconv.Itoa(i)), WillPayload: payload}
			p.Props.SessionExpiry = 3600
			p.Props.Set(codec.PropSessionExpiry)
			p.WillProps.WillDelay = 600
			p.WillProps.Set(codec.PropWillDelay)
			write(t, c, codec.AppendConnect(nil, &p))
			var ack codec.Connack
			if _, err := codec.DecodeConnack(readPacket(t, c, 5*time.Second), codec.V5, &ack); err != nil || ack.ReasonCode != 0 {
				t.Fatalf("CONNACK: %v 0x%02x", err, byte(ack.ReasonCode))
			}
			_ = c.Close() // no DISCONNECT: the will is due, after its delay
		}
	}
	b := startBroker(t, brokerOpts{Flags: []string{"--max-delayed-will-bytes", strconv.Itoa(bound)}})
	peak, _, st := underAttack(t, b, attack)
	checkBounded(t, peak, bound, st)
	if !b.WaitLog("delayed will limit", 5*time.Second) {
		t.Error("no log line for the delayed will limit")
	}
	if peerWanted() {
		underAttack(t, startMosquitto(t), attack)
	}
}
