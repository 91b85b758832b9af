// Package hostile attacks a real `gust serve` process the way a hostile
// client would, and asserts the bound each attack must stay within: the
// broker's resident memory and CPU read from /proc, and the service a
// well-behaved client gets during the attack. The broker runs as a
// subprocess so that its descriptor limit can be lowered (prlimit) and its
// memory is not mixed with the attackers'.
//
// GUST_HOSTILE_PEER=1 runs the same attacks against Debian's mosquitto too,
// for side-by-side figures (logged, not asserted).
package hostile

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/bench"
	"github.com/gust-mqtt/gust/codec"
)

// gustBin is the `gust` binary built once for the package's tests.
var gustBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gust-hostile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
	gustBin = filepath.Join(dir, "gust")
	build := exec.Command("go", "build", "-o", gustBin, "github.com/gust-mqtt/gust/cmd/gust")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "hostile: building gust:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// peerWanted reports whether the attacks also run against mosquitto.
func peerWanted() bool { return os.Getenv("GUST_HOSTILE_PEER") != "" }

// brokerOpts says how to start a broker process.
type brokerOpts struct {
	// Flags are extra `gust serve` flags (after --listen, --log-level info
	// and --allow-anonymous, which a later flag may override).
	Flags []string
	// NoFile, when > 0, is the process's RLIMIT_NOFILE (soft and hard),
	// set with prlimit.
	NoFile uint64
}

// broker is a running broker process.
type broker struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	Addr string

	log  *logBuffer
	done chan struct{} // closed when the process has exited
}

// logBuffer collects a process's output. Safe from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var listeningRE = regexp.MustCompile(`broker listening.* addr=(\S+)`)

// startBroker starts `gust serve` on a free loopback port and stops it at
// the end of the test.
func startBroker(t testing.TB, o brokerOpts) *broker {
	t.Helper()
	args := []string{gustBin, "serve", "--listen", "127.0.0.1:0", "--log-level", "info", "--allow-anonymous", "--store", "memory"}
	if v := os.Getenv("GUST_IO"); v != "" {
		args = append(args, "--io", v) // the suite runs on either network backend
	}
	args = append(args, o.Flags...)
	b := launch(t, "gust", args, o.NoFile)
	deadline := time.Now().Add(15 * time.Second)
	for b.Addr == "" {
		if m := listeningRE.FindStringSubmatch(b.Log()); m != nil {
			b.Addr = strings.Trim(m[1], `"`)
			break
		}
		if !b.Alive() || time.Now().After(deadline) {
			t.Fatalf("gust serve did not start:\n%s", b.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b
}

// startMosquitto starts Debian's mosquitto on a free loopback port with
// the given extra configuration lines; the test is skipped when it is not
// installed (peer figures are informative, never required).
func startMosquitto(t testing.TB, extra ...string) *broker {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/mosquitto"); err != nil {
			t.Skip("mosquitto not installed")
		}
	}
	port := freePort(t)
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	lines := []string{
		"listener " + strconv.Itoa(port) + " 127.0.0.1",
		"allow_anonymous true", "persistence false", "log_dest stderr",
		"log_type error", "log_type warning", "log_type notice",
	}
	lines = append(lines, extra...)
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := launch(t, "mosquitto", []string{bin, "-c", conf}, 0)
	b.Addr = "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", b.Addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return b
		}
		if !b.Alive() || time.Now().After(deadline) {
			t.Fatalf("mosquitto did not start:\n%s", b.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// launch starts args as a process (under prlimit when nofile > 0) and
// registers its termination with the test.
func launch(t testing.TB, name string, args []string, nofile uint64) *broker {
	t.Helper()
	if nofile > 0 {
		pl, err := exec.LookPath("prlimit")
		if err != nil {
			t.Skip("prlimit not installed (util-linux)")
		}
		n := strconv.FormatUint(nofile, 10)
		args = append([]string{pl, "--nofile=" + n + ":" + n, "--"}, args...)
	}
	b := &broker{t: t, name: name, log: &logBuffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(args[0], args[1:]...)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	prepareProcess(t, b.cmd)
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(b.Log(), 8000))
		}
	})
	return b
}

// stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (b *broker) stop() {
	if !b.Alive() {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}

// PID is the broker's process id (prlimit execs the broker in place).
func (b *broker) PID() int { return b.cmd.Process.Pid }

// Alive reports whether the process is still running.
func (b *broker) Alive() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// Log is everything the process wrote so far.
func (b *broker) Log() string { return b.log.String() }

// WaitLog waits until the process's output contains substr.
func (b *broker) WaitLog(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(b.Log(), substr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RSS is the broker's resident memory in bytes (VmRSS).
func (b *broker) RSS() int64 {
	s, err := bench.ReadProc(b.PID())
	if err != nil {
		b.t.Fatalf("%s: read /proc: %v", b.name, err)
	}
	return s.RSSBytes
}

// CPU is the broker's user plus system CPU time so far.
func (b *broker) CPU() time.Duration {
	s, err := bench.ReadProc(b.PID())
	if err != nil {
		b.t.Fatalf("%s: read /proc: %v", b.name, err)
	}
	return time.Duration(s.CPUSecs * float64(time.Second))
}

// FDs is the number of descriptors the broker has open.
func (b *broker) FDs() int {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(b.PID()) + "/fd")
	if err != nil {
		b.t.Fatalf("%s: read /proc fd: %v", b.name, err)
	}
	return len(ents)
}

// rssSampler follows a broker's peak RSS while an attack runs.
type rssSampler struct {
	start int64
	peak  atomic.Int64
	stop  chan struct{}
	done  chan struct{}
}

// sampleRSS starts polling b's RSS every 20 ms.
func sampleRSS(b *broker) *rssSampler {
	s := &rssSampler{start: b.RSS(), stop: make(chan struct{}), done: make(chan struct{})}
	s.peak.Store(s.start)
	pid := b.PID()
	go func() {
		defer close(s.done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			if p, err := bench.ReadProc(pid); err == nil && p.RSSBytes > s.peak.Load() {
				s.peak.Store(p.RSSBytes)
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the RSS at the start and the peak.
func (s *rssSampler) Stop() (start, peak int64) {
	close(s.stop)
	<-s.done
	return s.start, s.peak.Load()
}

// mib formats a byte count in MiB for log lines.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// probe is a well-behaved client: it publishes a QoS 1 message to its own
// topic every 20 ms and measures the time until its subscription
// delivers it back.
type probe struct {
	t      testing.TB
	client paho.Client
	stop   chan struct{}
	done   chan struct{}

	mu       sync.Mutex
	sentAt   map[int]time.Time
	rtts     []time.Duration
	sent     int
	received int
	errors   int
	lastRecv time.Time
}

// probeStats is what a probe saw.
type probeStats struct {
	Sent, Received, Errors int
	P50, P99, Max          time.Duration
}

func (s probeStats) String() string {
	return fmt.Sprintf("sent %d received %d errors %d p50 %v p99 %v max %v",
		s.Sent, s.Received, s.Errors, s.P50, s.P99, s.Max)
}

var probeSeq atomic.Int64

// startProbe connects a paho client to addr and starts the round trips.
func startProbe(t testing.TB, addr string) *probe {
	t.Helper()
	n := probeSeq.Add(1)
	id := fmt.Sprintf("probe-%d-%d", os.Getpid(), n)
	topic := "probe/" + id
	p := &probe{t: t, stop: make(chan struct{}), done: make(chan struct{}), sentAt: map[int]time.Time{}}
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
		SetKeepAlive(30 * time.Second).SetWriteTimeout(5 * time.Second)
	p.client = paho.NewClient(opts)
	if tok := p.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("probe connect to %s: %v", addr, tok.Error())
	}
	tok := p.client.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		seq, err := strconv.Atoi(string(m.Payload()))
		now := time.Now()
		p.mu.Lock()
		defer p.mu.Unlock()
		if at, ok := p.sentAt[seq]; ok && err == nil {
			delete(p.sentAt, seq)
			p.rtts = append(p.rtts, now.Sub(at))
			p.received++
			p.lastRecv = now
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("probe subscribe: %v", tok.Error())
	}
	go p.run(topic)
	t.Cleanup(func() { p.Stop() })
	return p
}

func (p *probe) run(topic string) {
	defer close(p.done)
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for seq := 0; ; seq++ {
		select {
		case <-p.stop:
			return
		case <-tk.C:
		}
		p.mu.Lock()
		p.sentAt[seq] = time.Now()
		p.sent++
		p.mu.Unlock()
		tok := p.client.Publish(topic, 1, false, strconv.Itoa(seq))
		go func() {
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				p.mu.Lock()
				p.errors++
				p.mu.Unlock()
			}
		}()
	}
}

// Received is the number of round trips completed so far.
func (p *probe) Received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.received
}

// SinceLast is the time since the last completed round trip.
func (p *probe) SinceLast() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastRecv.IsZero() {
		return 0
	}
	return time.Since(p.lastRecv)
}

// Stop ends the round trips (waiting up to 2 s for the last ones) and
// returns the statistics; further calls return the same figures.
func (p *probe) Stop() probeStats {
	select {
	case <-p.stop:
	default:
		close(p.stop)
		<-p.done
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			p.mu.Lock()
			pending := len(p.sentAt)
			p.mu.Unlock()
			if pending == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.client.Disconnect(100)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := probeStats{Sent: p.sent, Received: p.received, Errors: p.errors}
	if len(p.rtts) > 0 {
		r := append([]time.Duration(nil), p.rtts...)
		sort.Slice(r, func(i, j int) bool { return r[i] < r[j] })
		st.P50 = r[len(r)/2]
		st.P99 = r[min(len(r)-1, len(r)*99/100)]
		st.Max = r[len(r)-1]
	}
	return st
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// dialRaw opens a TCP connection to addr, closed at the end of the test.
func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// connectPacket is a CONNECT with clean start and a 60 s keep alive.
func connectPacket(clientID string, v5 bool) []byte {
	p := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, CleanStart: true,
		KeepAlive: 60, ClientID: []byte(clientID)}
	if v5 {
		p.Version = codec.V5
	}
	return codec.AppendConnect(nil, &p)
}

// rawConnect dials addr, sends a CONNECT and reads a successful CONNACK.
func rawConnect(t testing.TB, addr, clientID string, v5 bool) net.Conn {
	t.Helper()
	c := dialRaw(t, addr)
	if _, err := c.Write(connectPacket(clientID, v5)); err != nil {
		t.Fatalf("send CONNECT: %v", err)
	}
	pkt := readPacket(t, c, 5*time.Second)
	v := codec.V311
	if v5 {
		v = codec.V5
	}
	var ack codec.Connack
	if _, err := codec.DecodeConnack(pkt, v, &ack); err != nil {
		t.Fatalf("CONNACK: %v (% x)", err, pkt)
	}
	if ack.ReasonCode != 0 {
		t.Fatalf("CONNACK refused: 0x%02x", byte(ack.ReasonCode))
	}
	return c
}

// readPacket reads one whole MQTT packet from c (fixed header included).
func readPacket(t testing.TB, c net.Conn, timeout time.Duration) []byte {
	t.Helper()
	pkt, err := readPacketErr(c, timeout)
	if err != nil {
		t.Fatalf("read packet: %v", err)
	}
	return pkt
}

// readPacketErr reads one whole MQTT packet from c, or says why it could
// not (io.EOF when the broker closed the connection).
func readPacketErr(c net.Conn, timeout time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	var one [1]byte
	readByte := func() (byte, error) {
		_, err := io.ReadFull(c, one[:])
		return one[0], err
	}
	first, err := readByte()
	if err != nil {
		return nil, err
	}
	hdr := []byte{first}
	n, mul := 0, 1
	for i := 0; ; i++ {
		b, err := readByte()
		if err != nil {
			return nil, err
		}
		hdr = append(hdr, b)
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		if mul *= 128; i == 3 {
			return nil, fmt.Errorf("malformed remaining length % x", hdr)
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	return append(hdr, body...), nil
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// TestHarness checks the harness itself: a broker starts, a probe's round
// trips complete, /proc readings are plausible and a raw client connects.
func TestHarness(t *testing.T) {
	b := startBroker(t, brokerOpts{NoFile: 1000})
	p := startProbe(t, b.Addr)
	c := rawConnect(t, b.Addr, "raw-1", true)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for p.Received() < 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := p.Stop()
	t.Logf("probe: %v; rss %s, cpu %v, fds %d", st, mib(b.RSS()), b.CPU(), b.FDs())
	if st.Received < 10 || st.Errors > 0 {
		t.Fatalf("probe: %v", st)
	}
	if b.RSS() < 1<<20 || b.FDs() < 4 {
		t.Fatalf("implausible /proc readings: rss %d fds %d", b.RSS(), b.FDs())
	}
}
