package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// TestShutdownUnderLoad shuts the broker down while publishers send flat
// out at QoS 0 and 1 and a subscriber never reads: Shutdown returns within
// its deadline and every publisher's will reaches the will watcher, as the
// server-side close requires [MQTT-3.1.2-8].
func TestShutdownUnderLoad(t *testing.T) {
	const (
		pubs     = 6
		deadline = 5 * time.Second
	)
	b := startBroker(t, func(c *Config) {
		c.MaxOutboundBytes = 256 << 10
	})
	slow := dialRaw(t, b)
	if tc, ok := slow.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	slow.connect(&codec.Connect{ClientID: []byte("sul-slow"), CleanStart: true})
	slow.subscribe(1, "sul/load/#", 1)

	watcher := dialRaw(t, b)
	watcher.connect(&codec.Connect{ClientID: []byte("sul-watch"), CleanStart: true})
	watcher.subscribe(1, "sul/will/#", 1)
	var (
		wmu   sync.Mutex
		wills = map[string]bool{}
	)
	watchDone := make(chan struct{})
	go func() { // records will topics until the broker closes the watcher
		defer close(watchDone)
		for {
			pkt, err := watcher.read(10 * time.Second)
			if err != nil {
				return
			}
			if codec.Type(pkt[0]>>4) != codec.TypePublish {
				continue
			}
			var p codec.Publish
			if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil {
				return
			}
			wmu.Lock()
			wills[string(p.Topic)] = true
			wmu.Unlock()
			if p.QoS == 1 {
				_, _ = watcher.nc.Write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
			}
		}
	}()

	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < pubs; i++ {
		r := dialRaw(t, b)
		qos := byte(i % 2)
		r.connect(&codec.Connect{ClientID: []byte(fmt.Sprint("sul-pub", i)), CleanStart: true,
			WillFlag: true, WillQoS: 1, WillTopic: []byte(fmt.Sprint("sul/will/", i)), WillPayload: []byte("gone")})
		wg.Add(1)
		go func() { // flat out, bounded by count, time and the broker closing us
			defer wg.Done()
			go func() { _, _ = discardReads(r.nc) }() // PUBACKs are read and dropped
			end := time.Now().Add(20 * time.Second)
			var buf []byte
			payload := make([]byte, 256)
			for n := 0; n < 2_000_000 && time.Now().Before(end); n++ {
				select {
				case <-stop:
					return
				default:
				}
				buf = codec.AppendPublish(buf[:0], codec.V311, &codec.Publish{Topic: []byte("sul/load/x"),
					QoS: qos, PacketID: uint16(n%60000 + 1), Payload: payload})
				_ = r.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if _, err := r.nc.Write(buf); err != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
	for start := time.Now(); sent.Load() < 20000 && time.Since(start) < 5*time.Second; {
		time.Sleep(10 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	err := b.Shutdown(ctx)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err, "shutdown under load")
	}
	if took >= deadline {
		t.Fatal("shutdown took", took)
	}
	t.Logf("shutdown after %d publishes took %v", sent.Load(), took)

	select {
	case <-watchDone:
	case <-time.After(10 * time.Second):
		t.Fatal("watcher not closed after shutdown")
	}
	wmu.Lock()
	defer wmu.Unlock()
	for i := 0; i < pubs; i++ {
		if !wills[fmt.Sprint("sul/will/", i)] {
			t.Fatal("will of publisher", i, "not published; got", wills)
		}
	}
}

// discardReads reads c until it fails, discarding the bytes.
func discardReads(c net.Conn) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		k, err := c.Read(buf)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
}

// TestShutdownBoundedWhenLoopWedged checks that Shutdown returns when its
// context expires even if an event loop never gets back to its work.
func TestShutdownBoundedWhenLoopWedged(t *testing.T) {
	b := startBroker(t, nil)
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("wedge"), CleanStart: true})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before startBroker's cleanup
	ls := b.loopSnapshot()
	if len(ls) <= 0 {
		t.Fatal("no loop")
	}
	wedged := make(chan struct{})
	if err := ls[0].nl.Execute(func() {
		close(wedged)
		<-release
	}); err != nil {
		t.Fatal(err)
	}
	<-wedged
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.Shutdown(ctx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("want deadline exceeded, got", err)
	}
	if took >= 2*time.Second {
		t.Fatal("shutdown not bounded by its context:", took)
	}
}

// TestShutdownPublishesWills checks graceful shutdown closes every client
// and publishes wills (a server-side close is not a DISCONNECT).
func TestShutdownPublishesWills(t *testing.T) {
	b := startBroker(t, nil)
	watchers := make([]*rawConn, 2) // on both loops
	for i := range watchers {
		watchers[i] = dialRaw(t, b)
		watchers[i].connect(&codec.Connect{ClientID: []byte(fmt.Sprint("sdw", i)), CleanStart: true})
		watchers[i].subscribe(1, "sd/#", 0)
	}
	r := dialRaw(t, b)
	r.connect(&codec.Connect{ClientID: []byte("sd"), CleanStart: true, WillFlag: true, WillRetain: true,
		WillTopic: []byte("sd/will"), WillPayload: []byte("x")})
	if err := b.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.expectClosed(3 * time.Second)
	for _, w := range watchers {
		p := decodePublish(t, w.mustRead(codec.TypePublish))
		if string(p.Topic) != "sd/will" {
			t.Fatalf("got %v, want %v", string(p.Topic), "sd/will")
		}
		w.expectClosed(3 * time.Second)
	}
	_, ok := b.retained.Get("sd/will")
	if !ok {
		t.Fatal("retained will stored at shutdown")
	}
}

// TestStartLogsLoopbackOnly: a broker bound to a loopback address says so
// at start-up, with how to listen on every interface; one bound to every
// interface does not.
func TestStartLogsLoopbackOnly(t *testing.T) {
	if got := DefaultConfig().Listen; got != "127.0.0.1:1883" {
		t.Fatalf("default listen %q, want loopback only", got)
	}
	for _, tc := range []struct {
		listen string
		want   bool
	}{{listen: "127.0.0.1:0", want: true}, {listen: ":0", want: false}} {
		logs := &syncBuffer{}
		b := startBroker(t, func(c *Config) { c.Listen = tc.listen; c.Logger = logTo(logs) })
		port := strconv.Itoa(b.Addr().(*net.TCPAddr).Port)
		got := strings.Contains(logs.String(), "listening on loopback only") &&
			strings.Contains(logs.String(), "--listen :"+port)
		if got != tc.want {
			t.Fatalf("listen %s: loopback-only line %v, want %v:\n%s", tc.listen, got, tc.want, logs.String())
		}
	}
}
