package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
)

// startBroker starts a broker on a free loopback port with cfg adjusted by
// mod, and stops it at the end of the test.
func startBroker(t testing.TB, mod func(*Config)) *Broker {
	t.Helper()
	b := startBrokerNoCleanup(t, mod)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	})
	return b
}

// tryStartBroker is startBroker returning New's or Start's error.
func tryStartBroker(t testing.TB, mod func(*Config)) (*Broker, error) {
	t.Helper()
	b, err := newTestBroker(mod)
	if err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	return b, nil
}

// startBrokerNoCleanup is startBroker for a test that shuts the broker
// down itself.
func startBrokerNoCleanup(t testing.TB, mod func(*Config)) *Broker {
	t.Helper()
	b, err := newTestBroker(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestBroker makes a broker with the tests' settings (a free loopback
// port, two loops, the backend GUST_IO names) and mod's.
func newTestBroker(mod func(*Config)) (*Broker, error) {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.SysInterval = 0
	if v := os.Getenv("GUST_IO"); v != "" {
		cfg.IO = v // the suite runs on either network backend
	}
	var w io.Writer = io.Discard
	if os.Getenv("GUST_TEST_LOG") != "" {
		w = os.Stderr
	}
	cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg)
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out waiting for", what)
}

// rawConn is a hand-driven MQTT connection for tests that need exact bytes.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t testing.TB, b *Broker) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (r *rawConn) write(b []byte) {
	r.t.Helper()
	_ = r.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.nc.Write(b)
	if err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next whole packet, or nil and the error.
func (r *rawConn) read(d time.Duration) ([]byte, error) {
	_ = r.nc.SetReadDeadline(time.Now().Add(d))
	hdr, err := r.r.Peek(2)
	if err != nil {
		return nil, err
	}
	_ = hdr
	var n int
	for i := 2; i <= 5; i++ {
		h, err := r.r.Peek(i)
		if err != nil {
			return nil, err
		}
		_, _, n, err = codec.PacketLen(h, 0)
		if err == nil || (err == codec.ErrIncomplete && n > 0) {
			break
		}
	}
	pkt := make([]byte, n)
	_, err = io.ReadFull(r.r, pkt)
	return pkt, err
}

// mustRead returns the next packet and checks its type.
func (r *rawConn) mustRead(want codec.Type) []byte {
	r.t.Helper()
	pkt, err := r.read(5 * time.Second)
	if err != nil {
		r.t.Fatal(err, "reading", want)
	}
	if codec.Type(pkt[0]>>4) != want {
		r.t.Fatalf("packet type: got %v, want %v", codec.Type(pkt[0]>>4), want)
	}
	return pkt
}

// expectClosed checks that the broker closes the connection within d.
func (r *rawConn) expectClosed(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_, err := r.read(time.Until(deadline))
		if err == io.EOF || isReset(err) {
			return
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			break
		}
	}
	r.t.Fatal("connection not closed in time")
}

func isReset(err error) bool {
	if err == nil {
		return false
	}
	var oe *net.OpError
	ok := false
	if e, is := err.(*net.OpError); is {
		oe, ok = e, true
	}
	return ok && oe.Op == "read"
}

// connect sends CONNECT and returns the CONNACK.
func (r *rawConn) connect(p *codec.Connect) *codec.Connack {
	r.t.Helper()
	if p.Version == 0 {
		p.Version = codec.V311
	}
	if len(p.ProtocolName) == 0 {
		p.ProtocolName = []byte("MQTT")
		if p.Version == codec.V31 {
			p.ProtocolName = []byte("MQIsdp")
		}
	}
	r.write(codec.AppendConnect(nil, p))
	pkt := r.mustRead(codec.TypeConnack)
	var ack codec.Connack
	_, err := codec.DecodeConnack(pkt, p.Version, &ack)
	if err != nil {
		r.t.Fatal(err)
	}
	return &ack
}

func (r *rawConn) subscribe(pid uint16, filter string, qos byte) *codec.Suback {
	r.t.Helper()
	r.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: pid,
		Filters: []codec.Subscription{{Filter: []byte(filter), QoS: qos}}}))
	pkt := r.mustRead(codec.TypeSuback)
	var ack codec.Suback
	_, err := codec.DecodeSuback(pkt, codec.V311, &ack)
	if err != nil {
		r.t.Fatal(err)
	}
	if ack.PacketID != pid {
		r.t.Fatalf("got %v, want %v", ack.PacketID, pid)
	}
	return &ack
}

func (r *rawConn) publish(p *codec.Publish) {
	r.t.Helper()
	r.write(codec.AppendPublish(nil, codec.V311, p))
}

func decodePublish(t testing.TB, pkt []byte) *codec.Publish {
	t.Helper()
	var p codec.Publish
	_, err := codec.DecodePublish(pkt, codec.V311, &p)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

// expectEOF checks that the broker closes the connection within d without
// sending anything more [MQTT-3.14.4-1].
func (r *rawConn) expectEOF(d time.Duration) {
	r.t.Helper()
	pkt, err := r.read(d)
	if err == nil {
		r.t.Fatalf("a packet after the broker's DISCONNECT: %x", pkt)
	}
	if !(isReset(err) || err.Error() == "EOF") {
		r.t.Fatal("connection not closed:", err)
	}
}

// dialV5 connects a raw MQTT 5 client with id, adjusting the CONNECT with
// mod, and checks the first packet back is a CONNACK [MQTT-3.2.0-1] with
// reason 0x00 [MQTT-3.1.4-5].
func dialV5(t *testing.T, b *Broker, id string, mod func(*codec.Connect)) *rawConn {
	t.Helper()
	r := dialRaw(t, b)
	cp := &codec.Connect{Version: codec.V5, ClientID: []byte(id), CleanStart: true}
	if mod != nil {
		mod(cp)
	}
	if got := r.connect(cp).ReasonCode; got != codec.ReasonSuccess {
		t.Fatalf("CONNACK: got %v, want %v", got, codec.ReasonSuccess)
	}
	return r
}

// disconnect reads the broker's DISCONNECT and returns it.
func (r *rawConn) disconnect() *codec.Disconnect {
	r.t.Helper()
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		r.t.Fatal(err)
	}
	return &d
}

// readAck reads an acknowledgement of type want.
func (r *rawConn) readAck(want codec.Type) *codec.Ack {
	r.t.Helper()
	var a codec.Ack
	_, err := codec.DecodeAck(r.mustRead(want), codec.V5, &a)
	if err != nil {
		r.t.Fatal(err)
	}
	return &a
}

// pahoClient connects a paho.mqtt.golang 3.1.1 client to b.
func pahoClient(t testing.TB, b *Broker, id string, mod func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + b.Addr().String()).SetClientID(id)
	o.SetProtocolVersion(4)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetCleanSession(true)
	o.SetConnectTimeout(5 * time.Second)
	o.SetWriteTimeout(5 * time.Second)
	if mod != nil {
		mod(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("connect timeout")
	}
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(50)
		}
	})
	return c
}

// collector gathers received messages.
type collector struct {
	mu   sync.Mutex
	msgs []mqtt.Message
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1<<16)} }

func (c *collector) handler(_ mqtt.Client, m mqtt.Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	c.ch <- struct{}{}
}

// wait blocks until n messages arrived or the timeout passes.
func (c *collector) wait(t testing.TB, n int, d time.Duration) []mqtt.Message {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		if len(c.msgs) >= n {
			out := append([]mqtt.Message(nil), c.msgs...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.ch:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("got %d messages, want %d", len(c.msgs), n)
			return nil
		}
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func subscribe(t testing.TB, c mqtt.Client, filter string, qos byte, col *collector) {
	t.Helper()
	tok := c.Subscribe(filter, qos, col.handler)
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("tok.WaitTimeout(5*time.Second) is false")
	}
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
}

func publish(t testing.TB, c mqtt.Client, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	tok := c.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("tok.WaitTimeout(5*time.Second) is false")
	}
	if err := tok.Error(); err != nil {
		t.Fatal(err)
	}
}

// writeUsersFile writes name:password pairs to a users file in a temporary
// directory and returns its path.
func writeUsersFile(t testing.TB, pairs ...string) string {
	t.Helper()
	var sb strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		c, err := auth.NewCredential([]byte(pairs[i+1]), auth.DefaultIterations)
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(auth.FormatUserLine(pairs[i], &c) + "\n")
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAuthBroker starts a broker whose users are alice:s3cret and
// bob:hunter2, from a password file.
func startAuthBroker(t testing.TB, mod func(*Config)) *Broker {
	t.Helper()
	path := writeUsersFile(t, "alice", "s3cret", "bob", "hunter2")
	return startBroker(t, func(c *Config) {
		c.PasswordFile = path
		if mod != nil {
			mod(c)
		}
	})
}

// waitConnected waits until the broker counts n connected clients.
func waitConnected(t *testing.T, b *Broker, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for b.connected.Load() != n {
		if !time.Now().Before(deadline) {
			t.Fatal("connected clients:", b.connected.Load(), "want", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connectBytes returns a 3.1.1 CONNECT for id.
func connectBytes(id string, keepAlive uint16) []byte {
	return codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
		CleanStart: true, ClientID: []byte(id), KeepAlive: keepAlive})
}

// waitOffline waits until the broker has released client id's session.
func waitOffline(t testing.TB, b *Broker, id string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b.sessions.mu.Lock()
		s := b.sessions.get(id)
		off := s == nil || s.owner.Load() == nil
		b.sessions.mu.Unlock()
		if off {
			return
		}
	}
	t.Fatal("client still online:", id)
}

// eventually polls cond every 10 ms until it holds or d has passed.
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logTo returns a debug logger writing to w.
func logTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// writeACLFile writes an ACL file with body and returns its path.
func writeACLFile(t testing.TB, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// aclBenchRules returns n anonymous-section rules, none matching "a/...":
// grants and denies a check has to walk before reaching a rule after them.
func aclBenchRules(n int) string {
	var sb strings.Builder
	for i := range n {
		access := "readwrite"
		if i%4 == 3 {
			access = "deny"
		}
		fmt.Fprintf(&sb, "topic %s zone/%d/+/x\n", access, i)
	}
	return sb.String()
}
