package loadgen

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// lossyBroker is a tiny QoS 0 broker for tests that forwards every
// PUBLISH to matching subscribers except every dropEvery-th one, and can
// repeat every dupEvery-th one.
type lossyBroker struct {
	ln        net.Listener
	dropEvery int
	dupEvery  int
	mu        sync.Mutex
	subs      map[net.Conn]string
	n         int
	wg        sync.WaitGroup
}

func startLossyBroker(t *testing.T, dropEvery, dupEvery int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &lossyBroker{ln: ln, dropEvery: dropEvery, dupEvery: dupEvery, subs: map[net.Conn]string{}}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(func() { _ = ln.Close(); b.closeAll(); b.wg.Wait() })
	return ln.Addr().String()
}

func (b *lossyBroker) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Add(1)
		go func() { defer b.wg.Done(); b.serve(c) }()
	}
}

func (b *lossyBroker) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.subs {
		_ = c.Close()
	}
}

// serve handles one client until it disconnects (v3.1.1 only).
func (b *lossyBroker) serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 0, 64<<10)
	tmp := make([]byte, 32<<10)
	for {
		n, err := c.Read(tmp)
		if err != nil {
			b.mu.Lock()
			delete(b.subs, c)
			b.mu.Unlock()
			return
		}
		buf = append(buf, tmp[:n]...)
		for {
			t, _, size, err := codec.PacketLen(buf, 0)
			if err != nil {
				break
			}
			if !b.packet(c, t, buf[:size]) {
				return
			}
			buf = buf[:copy(buf, buf[size:])]
		}
	}
}

func (b *lossyBroker) packet(c net.Conn, t codec.Type, pkt []byte) bool {
	switch t {
	case codec.TypeConnect:
		_, err := c.Write(codec.AppendConnack(nil, codec.V311, &codec.Connack{}))
		return err == nil
	case codec.TypeSubscribe:
		var s codec.Subscribe
		if _, err := codec.DecodeSubscribe(pkt, codec.V311, &s); err != nil {
			return false
		}
		b.mu.Lock()
		b.subs[c] = string(s.Filters[0].Filter)
		b.mu.Unlock()
		ack := codec.Suback{PacketID: s.PacketID, ReasonCodes: []codec.ReasonCode{0}}
		_, err := c.Write(codec.AppendSuback(nil, codec.V311, &ack))
		return err == nil
	case codec.TypePublish:
		var p codec.Publish
		if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil {
			return false
		}
		b.forward(&p)
	case codec.TypeDisconnect:
		return false
	}
	return true
}

func (b *lossyBroker) forward(p *codec.Publish) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	if b.dropEvery > 0 && b.n%b.dropEvery == 0 {
		return
	}
	out := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: p.Topic, Payload: p.Payload})
	if b.dupEvery > 0 && b.n%b.dupEvery == 0 {
		out = append(out, out...)
	}
	for c, f := range b.subs {
		if MatchTopic(f, string(p.Topic)) {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write(out)
		}
	}
}

// TestLossDetected checks that messages a broker drops are reported as
// lost and repeated ones as duplicated.
func TestLossDetected(t *testing.T) {
	addr := startLossyBroker(t, 10, 7)
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Publishers = 2
	cfg.Subscribers = 1
	cfg.Count = 1000
	cfg.Rate = 20000
	cfg.Drain = 3 * time.Second
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 2000 forwarded by one goroutine-per-conn broker in arrival order:
	// every 10th dropped (200), every 7th of the rest doubled.
	if res.Sent != 2000 || res.Expected != 2000 {
		t.Fatalf("sent %d expected %d, want 2000", res.Sent, res.Expected)
	}
	if res.Lost != 200 {
		t.Fatalf("lost %d, want 200 (delivered %d, dup %d)", res.Lost, res.Delivered, res.Duplicated)
	}
	wantDup := int64(0)
	for n := 1; n <= 2000; n++ {
		if n%10 != 0 && n%7 == 0 {
			wantDup++
		}
	}
	if res.Duplicated != wantDup {
		t.Fatalf("duplicated %d, want %d", res.Duplicated, wantDup)
	}
}

// TestConnMode opens idle connections and checks they all connect.
func TestConnMode(t *testing.T) {
	addr := startLossyBroker(t, 0, 0)
	cfg := DefaultConfig()
	cfg.Addr = addr
	cfg.Mode = ModeConn
	cfg.Conns = 200
	cfg.ConnectRate = 2000
	cfg.Duration = 200 * time.Millisecond
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 200 || res.ConnectFailed != 0 || res.ConnectLat.Count != 200 {
		t.Fatalf("connected %d failed %d latency count %d, want 200/0/200", res.Connected, res.ConnectFailed, res.ConnectLat.Count)
	}
}
