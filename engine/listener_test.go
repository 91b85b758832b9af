package engine

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
)

// captureLog sends the broker's log to a buffer the test can read.
func captureLog(c *Config) *syncBuffer {
	buf := &syncBuffer{}
	c.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return buf
}

// connectOutcome dials addr, sends CONNECT and reports whether a CONNACK
// came back; a served connection is returned open.
func connectOutcome(addr, id string) (net.Conn, bool) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, false
	}
	_, _ = c.Write(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
		CleanStart: true, KeepAlive: 60, ClientID: []byte(id)}))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || codec.Type(hdr[0]>>4) != codec.TypeConnack {
		_ = c.Close()
		return nil, false
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, true
}

// TestMaxConnectionsBurst dials many connections at once at a broker with
// a small max_connections: exactly that many are served, every other one
// is closed at accept and counted as refused (Stats, $SYS, a log line),
// the served clients keep working, and a new client is served once one
// leaves.
func TestMaxConnectionsBurst(t *testing.T) {
	const (
		maxConns = 8
		burst    = 48
	)
	var logs *syncBuffer
	b := startBroker(t, func(c *Config) {
		c.MaxConnections = maxConns
		c.SysInterval = 100 * time.Millisecond
		logs = captureLog(c)
	})
	addr := b.Addr().String()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		served []net.Conn
		start  = make(chan struct{})
	)
	for i := 0; i < burst; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if c, ok := connectOutcome(addr, fmt.Sprint("burst-", i)); ok {
				mu.Lock()
				served = append(served, c)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range served {
			_ = c.Close()
		}
	})
	if len(served) != maxConns {
		t.Fatalf("connections served: got %v, want %v", len(served), maxConns)
	}
	if got := b.open.Load(); got != int64(maxConns) {
		t.Fatalf("open connections: got %v, want %v", got, int64(maxConns))
	}
	st := b.Stats()
	if st.ConnectionsRefused != uint64(burst-maxConns) {
		t.Fatalf("refused: got %v, want %v", st.ConnectionsRefused, uint64(burst-maxConns))
	}
	if st.ClientsConnected != int64(maxConns) {
		t.Fatalf("clients connected: got %v, want %v", st.ClientsConnected, int64(maxConns))
	}
	if !strings.Contains(logs.String(), "connection refused: max_connections reached") {
		t.Fatal("no log line:", logs.String())
	}

	// A served client still works: its own subscription gets its publish,
	// and $SYS says how many were refused.
	r := &rawConn{t: t, nc: served[0], r: bufio.NewReader(served[0])}
	r.subscribe(1, "$SYS/broker/connections/refused", 0)
	r.subscribe(2, "burst/echo", 0)
	r.publish(&codec.Publish{Topic: []byte("burst/echo"), Payload: []byte("hi")})
	sawSys, sawEcho := false, false
	for deadline := time.Now().Add(5 * time.Second); (!sawSys || !sawEcho) && time.Now().Before(deadline); {
		p := decodePublish(t, r.mustRead(codec.TypePublish))
		switch string(p.Topic) {
		case "burst/echo":
			sawEcho = string(p.Payload) == "hi"
		case "$SYS/broker/connections/refused":
			sawSys = string(p.Payload) == fmt.Sprint(burst-maxConns)
		}
	}
	if !(sawEcho && sawSys) {
		t.Fatal("echo", sawEcho, "$SYS refused", sawSys)
	}

	// One leaves: one more is served.
	_ = served[1].Close()
	if !eventually(5*time.Second, func() bool { return b.open.Load() == maxConns-1 }) {
		t.Fatal("open after a close:", b.open.Load())
	}
	c, ok := connectOutcome(addr, "after")
	if !ok {
		t.Fatal("a client not served after one left")
	}
	_ = c.Close()
}

// TestAcceptOutOfDescriptors runs the broker out of descriptors (the test
// process's soft limit lowered, every descriptor but one taken): the
// connection that finds none is closed with the reserved descriptor,
// counted and logged, the existing clients keep exchanging messages, and
// once descriptors are free again a new client is served within a second.
func TestAcceptOutOfDescriptors(t *testing.T) {
	var logs *syncBuffer
	b := startBroker(t, func(c *Config) {
		c.MaxConnections = -1 // no cap: only the descriptor limit
		logs = captureLog(c)
	})
	sub := dialRaw(t, b)
	sub.connect(&codec.Connect{ClientID: []byte("fd-sub"), CleanStart: true})
	sub.subscribe(1, "fd/t", 0)
	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("fd-pub"), CleanStart: true})

	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := unix.Rlimit{Cur: uint64(len(ents)) + 32, Max: orig.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var fillers []int
	release := func() {
		for _, fd := range fillers {
			_ = unix.Close(fd)
		}
		fillers = nil
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &orig)
	}
	t.Cleanup(release)
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		fillers = append(fillers, fd)
	}
	if len(fillers) <= 0 {
		t.Fatal("no descriptor to fill")
	}
	_ = unix.Close(fillers[len(fillers)-1]) // one left: for the client's socket
	fillers = fillers[:len(fillers)-1]

	c, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err, "dial with one descriptor left")
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	_ = c.Close()
	if !(err != nil && !isTimeout(err)) {
		t.Fatal("connection without a descriptor not closed:", err)
	}
	if !eventually(5*time.Second, func() bool { return b.Stats().AcceptErrors > 0 }) {
		t.Fatal("accept error not counted")
	}
	if b.Stats().ConnectionsRefused <= 0 {
		t.Fatal("refused connection not counted")
	}
	if !eventually(5*time.Second, func() bool { return strings.Contains(logs.String(), "too many open files") }) {
		t.Fatal("no log line:", logs.String())
	}

	// Existing clients are served meanwhile.
	pub.publish(&codec.Publish{Topic: []byte("fd/t"), Payload: []byte("during")})
	if got := string(decodePublish(t, sub.mustRead(codec.TypePublish)).Payload); got != "during" {
		t.Fatalf("got %v, want %v", got, "during")
	}

	release()
	start := time.Now()
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("fd-after"), CleanStart: true})
	if time.Since(start) >= time.Second {
		t.Fatal("new client served after", time.Since(start))
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestMaxConnections closes connections past the limit.
func TestMaxConnections(t *testing.T) {
	b := startBroker(t, func(c *Config) { c.MaxConnections = 2 })
	for i := 0; i < 2; i++ {
		dialRaw(t, b).connect(&codec.Connect{ClientID: []byte(fmt.Sprint("mc", i)), CleanStart: true})
	}
	r := dialRaw(t, b)
	r.write(connectBytes("mc2", 0))
	r.expectClosed(3 * time.Second)
}
