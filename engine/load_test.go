package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// rssBytes returns the process's resident set size from /proc.
func rssBytes(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestSlowConsumer floods a topic with one subscriber that never reads and
// one that does: QoS 0 to the stuck one is dropped and counted, it is
// disconnected as slow, the other keeps receiving, and memory stays bounded.
func TestSlowConsumer(t *testing.T) {
	const (
		maxOut = 256 << 10
		msgs   = 20000
		size   = 1024
		// What the test may add to the process (broker and clients): the
		// process's own size depends on the tests that ran before it.
		rssGrowth = 200 << 20
	)
	base := rssBytes(t)
	b := startBroker(t, func(c *Config) {
		c.MaxOutboundBytes = maxOut
		c.SlowConsumerTimeout = time.Second
	})
	stuck := dialRaw(t, b)
	if tc, ok := stuck.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	stuck.connect(&codec.Connect{ClientID: []byte("stuck"), CleanStart: true})
	stuck.subscribe(1, "flood", 0)

	fast := dialRaw(t, b)
	fast.connect(&codec.Connect{ClientID: []byte("fast"), CleanStart: true})
	fast.subscribe(1, "flood", 0)
	fast.subscribe(2, "marker", 0)
	got := make(chan int, 1)
	go func() { // counts flood messages until the marker
		n := 0
		for {
			pkt, err := fast.read(20 * time.Second)
			if err != nil {
				got <- -1
				return
			}
			var p codec.Publish
			if _, err := codec.DecodePublish(pkt, codec.V311, &p); err == nil {
				if string(p.Topic) == "marker" {
					got <- n
					return
				}
				n++
			}
		}
	}()

	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("flooder"), CleanStart: true})
	pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("flood"), Payload: make([]byte, size)})
	batch := make([]byte, 0, 64*len(pkt))
	for i := 0; i < 64; i++ {
		batch = append(batch, pkt...)
	}
	start := time.Now()
	for sent := 0; sent < msgs && time.Since(start) < 20*time.Second; sent += 64 {
		pub.write(batch)
	}
	t.Logf("flood sent in %v", time.Since(start))
	time.Sleep(1500 * time.Millisecond) // past SlowConsumerTimeout
	pub.publish(&codec.Publish{Topic: []byte("marker"), Payload: []byte("end")})
	n := <-got
	if n <= 0 {
		t.Fatal("fast subscriber starved", n)
	}
	t.Logf("fast subscriber got %d of %d flood messages", n, msgs)

	t.Logf("marker at %v", time.Since(start))
	stuck.expectClosed(10 * time.Second)
	t.Logf("stuck closed at %v", time.Since(start))
	st := b.Stats()
	if st.SlowConsumersClosed < 1 {
		t.Fatalf("slow consumer not counted: %+v", st)
	}
	if st.PublishDropped <= 0 {
		t.Fatal("no drops counted")
	}
	rss := rssBytes(t)
	t.Logf("dropped %d, RSS %d MiB, %d MiB more than at the start (bound %d MiB)", st.PublishDropped, rss>>20, (rss-base)>>20, rssGrowth>>20)
	if rss-base >= rssGrowth {
		t.Fatal("RSS grew past its bound", rss-base)
	}
}

// raiseFileLimit lifts the soft open-file limit to the hard one.
func raiseFileLimit(t testing.TB, need uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	if rl.Cur < need {
		t.Skipf("open-file limit %d < %d", rl.Cur, need)
	}
}

// TestManyConnections holds 9,000 concurrent connections (the broker and
// its clients share this process's 20,000 file limit) and delivers one
// message to every one of them.
func TestManyConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const n = 9000
	raiseFileLimit(t, 2*n+200)
	b := startBroker(t, func(c *Config) { c.MaxInflight = 20 })
	conns := make([]net.Conn, 0, n)
	readers := make([]*bufio.Reader, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	addr := b.Addr().String()
	for i := 0; i < n; i++ {
		nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err, "dial", i)
		}
		conns = append(conns, nc)
		readers = append(readers, bufio.NewReaderSize(nc, 256))
		req := connectBytes(fmt.Sprint("c", i), 0)
		req = codec.AppendSubscribe(req, codec.V311, &codec.Subscribe{PacketID: 1,
			Filters: []codec.Subscription{{Filter: []byte("all/+"), QoS: 1}}})
		_, err = nc.Write(req)
		if err != nil {
			t.Fatal(err)
		}
	}
	readPkt := func(i int, want codec.Type) []byte {
		_ = conns[i].SetReadDeadline(time.Now().Add(30 * time.Second))
		r := readers[i]
		h, err := r.Peek(2)
		if err != nil {
			t.Fatal(err, "conn", i)
		}
		_, _, size, err := codec.PacketLen(h, 0)
		if err != nil && size == 0 {
			h, _ = r.Peek(5)
			_, _, size, _ = codec.PacketLen(h, 0)
		}
		pkt := make([]byte, size)
		_, err = io.ReadFull(r, pkt)
		if err != nil {
			t.Fatal(err, "conn", i)
		}
		if codec.Type(pkt[0]>>4) != want {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("conn", i), codec.Type(pkt[0]>>4), want)
		}
		return pkt
	}
	for i := range conns {
		readPkt(i, codec.TypeConnack)
		readPkt(i, codec.TypeSuback)
	}
	if got := b.connected.Load(); got != int64(n) {
		t.Fatalf("connected: got %v, want %v", got, int64(n))
	}
	t.Logf("%d connections: RSS %d MiB (broker and clients)", n, rssBytes(t)>>20)

	pub := dialRaw(t, b)
	pub.connect(&codec.Connect{ClientID: []byte("pub"), CleanStart: true})
	pub.publish(&codec.Publish{Topic: []byte("all/x"), QoS: 1, PacketID: 1, Payload: []byte("hello 9000")})
	pub.mustRead(codec.TypePuback)
	for i := range conns {
		p := decodePublish(t, readPkt(i, codec.TypePublish))
		if string(p.Payload) != "hello 9000" {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("conn", i), string(p.Payload), "hello 9000")
		}
		_, err := conns[i].Write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
		if err != nil {
			t.Fatal(err)
		}
	}
}
