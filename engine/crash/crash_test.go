// Package crash kills a real broker with SIGKILL while clients publish,
// restarts it on the same data directory, and checks that nothing it
// acknowledged was lost.
package crash

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

var gustBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gust-crash-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash:", err)
		os.Exit(1)
	}
	gustBin = filepath.Join(dir, "gust")
	if out, err := exec.Command("go", "build", "-o", gustBin, "../../cmd/gust").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "crash: build gust: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// kills is how many times the broker is killed: GUST_CRASH_KILLS, or 20.
func kills() int {
	if n, err := strconv.Atoi(os.Getenv("GUST_CRASH_KILLS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// fsync is the --fsync of the brokers: GUST_CRASH_FSYNC, or always. Only
// always promises that nothing acknowledged is lost; with another value
// the test reports what was lost instead of failing.
func fsync() string {
	if v := os.Getenv("GUST_CRASH_FSYNC"); v != "" {
		return v
	}
	return "always"
}

// broker is a running gust serve process.
type broker struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
	out  *strings.Builder
	mu   sync.Mutex
}

var listening = regexp.MustCompile(`msg="broker listening" addr=(\S+)`)

// start runs gust serve on dir with extra flags and waits until it
// listens.
func start(t *testing.T, dir string, flags ...string) *broker {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--log-level", "info", "--sys-interval", "0",
		"--store", "disk", "--data-dir", dir, "--fsync", fsync()}, flags...)
	cmd := exec.Command(gustBin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &broker{cmd: cmd, done: make(chan struct{}), out: new(strings.Builder)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			b.mu.Lock()
			b.out.WriteString(line + "\n")
			b.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		_ = cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(b.kill)
	select {
	case b.addr = <-addr:
	case <-b.done:
		t.Fatalf("broker exited at start:\n%s", b.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("broker not listening:\n%s", b.log())
	}
	return b
}

func (b *broker) log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// kill sends SIGKILL and waits for the process to end.
func (b *broker) kill() {
	select {
	case <-b.done:
		return
	default:
	}
	_ = b.cmd.Process.Kill()
	<-b.done
}

// client is a raw MQTT 3.1.1 connection.
type client struct {
	nc      net.Conn
	r       *bufio.Reader
	present bool // the CONNACK's Session Present
}

func dial(addr, id string) (*client, error) {
	return dialWith(addr, &codec.Connect{CleanStart: true, ClientID: []byte(id), KeepAlive: 60})
}

// dialWith connects with p (3.1.1) and reads the CONNACK.
func dialWith(addr string, p *codec.Connect) (*client, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &client{nc: nc, r: bufio.NewReader(nc)}
	p.ProtocolName, p.Version = []byte("MQTT"), codec.V311
	if err := c.write(codec.AppendConnect(nil, p)); err != nil {
		return nil, err
	}
	pkt, err := c.read(codec.TypeConnack)
	if err != nil {
		return nil, err
	}
	var ack codec.Connack
	if _, err := codec.DecodeConnack(pkt, codec.V311, &ack); err != nil {
		return nil, err
	}
	c.present = ack.SessionPresent
	return c, nil
}

func (c *client) write(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// read returns the next packet, which must be of type want.
func (c *client) read(want codec.Type) ([]byte, error) { return c.readWithin(want, 10*time.Second) }

func (c *client) readWithin(want codec.Type, d time.Duration) ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	var n int
	for i := 2; i <= 5; i++ {
		h, err := c.r.Peek(i)
		if err != nil {
			return nil, err
		}
		var perr error
		if _, _, n, perr = codec.PacketLen(h, 0); perr == nil || (perr == codec.ErrIncomplete && n > 0) {
			break
		}
	}
	pkt := make([]byte, n)
	if _, err := io.ReadFull(c.r, pkt); err != nil {
		return nil, err
	}
	if got := codec.Type(pkt[0] >> 4); got != want {
		return nil, fmt.Errorf("got packet type %v, want %v", got, want)
	}
	return pkt, nil
}

// topicState is what a publisher knows of one topic: the payload of its
// last acknowledged retained publish, and what it sent after that
// without an acknowledgement (each may or may not have been stored).
type topicState struct {
	acked   string
	unacked []string
}

// publishUntilDead publishes retained messages round robin over topics,
// one at a time at qos, until the broker goes away; it records each
// topic's state in st.
func publishUntilDead(addr string, run, qos int, topics []string, st map[string]*topicState) {
	c, err := dial(addr, fmt.Sprintf("pub-%d-%d", run, qos))
	if err != nil {
		return
	}
	defer c.nc.Close()
	for seq := 0; ; seq++ {
		topic := topics[seq%len(topics)]
		payload := fmt.Sprintf("run%d-qos%d-%d", run, qos, seq)
		s := st[topic]
		s.unacked = append(s.unacked, payload)
		pid := uint16(seq%65535 + 1)
		if c.write(codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte(topic), Payload: []byte(payload),
			QoS: byte(qos), PacketID: pid, Retain: true})) != nil {
			return
		}
		if qos == 1 {
			if _, err := c.read(codec.TypePuback); err != nil {
				return
			}
		} else {
			if _, err := c.read(codec.TypePubrec); err != nil {
				return
			}
			if c.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePubrel, PacketID: pid})) != nil {
				return
			}
			if _, err := c.read(codec.TypePubcomp); err != nil {
				return
			}
		}
		s.acked, s.unacked = payload, nil
	}
}

// TestKillRetained publishes retained QoS 1 and QoS 2 messages while the
// broker (--fsync always, or GUST_CRASH_FSYNC) is killed with SIGKILL at random moments and
// restarted on the same data directory. After the last restart every
// topic's retained message is the last one acknowledged, or one sent
// after it that was never acknowledged: never an older one, never lost.
func TestKillRetained(t *testing.T) {
	dir := t.TempDir()
	n := kills()
	// Each QoS has its own topics: one publisher per topic keeps "last
	// acknowledged" well defined.
	topics := map[int][]string{1: {"crash/q1/a", "crash/q1/b", "crash/q1/c"}, 2: {"crash/q2/a", "crash/q2/b"}}
	st := map[string]*topicState{}
	for _, ts := range topics {
		for _, tp := range ts {
			st[tp] = &topicState{}
		}
	}
	acked := 0
	for run := range n {
		before := map[string]string{}
		for tp, s := range st {
			before[tp] = s.acked
		}
		b := start(t, dir)
		var wg sync.WaitGroup
		for qos, ts := range topics {
			wg.Add(1)
			go func() {
				defer wg.Done()
				publishUntilDead(b.addr, run, qos, ts, st)
			}()
		}
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		b.kill()
		wg.Wait()
		for tp, s := range st {
			if s.acked != before[tp] {
				acked++
			}
		}
	}
	b := start(t, dir)
	if !strings.Contains(b.log(), "store recovered") {
		t.Fatalf("no recovery line:\n%s", b.log())
	}
	c, err := dial(b.addr, "checker")
	if err != nil {
		t.Fatal(err)
	}
	defer c.nc.Close()
	if err := c.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte("crash/#"), QoS: 0}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.read(codec.TypeSuback); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for {
		pkt, err := c.readWithin(codec.TypePublish, 2*time.Second)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			break // every retained message has come
		}
		if err != nil {
			t.Fatalf("retained messages: %v (have %v)", err, got)
		}
		var p codec.Publish
		if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil {
			t.Fatal(err)
		}
		got[string(p.Topic)] = string(p.Payload)
	}
	lost, unackedKept := 0, 0
	for tp, s := range st {
		v, ok := got[tp]
		switch {
		case !ok && s.acked == "":
		case ok && v == s.acked:
		case ok && contains(s.unacked, v):
			unackedKept++
		default:
			lost++
			report := t.Errorf
			if fsync() != "always" {
				report = t.Logf // allowed by the fsync setting: reported
			}
			report("%s: retained %q; last acknowledged %q, sent after it %v", tp, v, s.acked, s.unacked)
		}
	}
	if acked == 0 {
		t.Fatal("no publish was acknowledged in any run")
	}
	t.Logf("fsync %s: %d kills, acknowledgements in %d topic-runs; %d topics checked, %d hold the last acknowledged message, %d a later unacknowledged one, %d wrong",
		fsync(), n, acked, len(st), len(st)-unackedKept-lost, unackedKept, lost)
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// TestKillSessionAndWill kills the broker while a persistent subscriber
// and a client with a will are connected: after the restart the
// subscriber's session and subscription are there, and the will of the
// client the crash disconnected is published (retained, so it can be
// read after the fact).
func TestKillSessionAndWill(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	sub, err := dialWith(b.addr, &codec.Connect{ClientID: []byte("sub"), KeepAlive: 60})
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte("crash/s/#"), QoS: 1}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.read(codec.TypeSuback); err != nil {
		t.Fatal(err)
	}
	if _, err := dialWith(b.addr, &codec.Connect{ClientID: []byte("willer"), KeepAlive: 60, WillFlag: true,
		WillTopic: []byte("crash/will/x"), WillPayload: []byte("bye"), WillQoS: 1, WillRetain: true}); err != nil {
		t.Fatal(err)
	}
	b.kill()

	b = start(t, dir)
	sub, err = dialWith(b.addr, &codec.Connect{ClientID: []byte("sub"), KeepAlive: 60})
	if err != nil {
		t.Fatal(err)
	}
	if !sub.present {
		t.Fatal("session not present after the crash")
	}
	pub, err := dial(b.addr, "pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.write(codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("crash/s/1"), Payload: []byte("after"), QoS: 1, PacketID: 1})); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.read(codec.TypePublish); err != nil {
		t.Fatal("subscription lost in the crash:", err)
	}
	chk, err := dial(b.addr, "checker")
	if err != nil {
		t.Fatal(err)
	}
	if err := chk.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte("crash/will/#"), QoS: 0}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := chk.read(codec.TypeSuback); err != nil {
		t.Fatal(err)
	}
	pkt, err := chk.read(codec.TypePublish)
	if err != nil {
		t.Fatalf("will not published after the crash: %v\n%s", err, b.log())
	}
	var p codec.Publish
	if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil || string(p.Payload) != "bye" {
		t.Fatalf("will %q %v", p.Payload, err)
	}
}
