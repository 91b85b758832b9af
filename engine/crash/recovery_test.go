package crash

import (
	"bufio"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
)

// recoverySize is the state a recovery test writes to the store.
type recoverySize struct {
	retained int // retained messages
	sessions int // persistent sessions, one subscription each
	queued   int // queued deliveries over every session
	fanout   int // sessions each queued message goes to
	payload  int // bytes of each payload
}

// recoverySizes is the state of TestRecoveryTime: small enough for make
// test, or with GUST_RECOVERY_FULL=1 1M retained messages and 100k
// persistent sessions holding 1M queued messages. GUST_RECOVERY_RETAINED,
// _SESSIONS, _QUEUED, _FANOUT and _PAYLOAD override each figure.
func recoverySizes() recoverySize {
	z := recoverySize{retained: 20_000, sessions: 2_000, queued: 20_000, fanout: 2, payload: 64}
	if os.Getenv("GUST_RECOVERY_FULL") == "1" {
		z.retained, z.sessions, z.queued = 1_000_000, 100_000, 1_000_000
	}
	for _, f := range []struct {
		env string
		v   *int
	}{
		{"GUST_RECOVERY_RETAINED", &z.retained},
		{"GUST_RECOVERY_SESSIONS", &z.sessions},
		{"GUST_RECOVERY_QUEUED", &z.queued},
		{"GUST_RECOVERY_FANOUT", &z.fanout},
		{"GUST_RECOVERY_PAYLOAD", &z.payload},
	} {
		if n, err := strconv.Atoi(os.Getenv(f.env)); err == nil && n >= 0 {
			*f.v = n
		}
	}
	z.fanout = max(1, min(z.fanout, z.sessions))
	z.sessions -= z.sessions % z.fanout // whole groups
	return z
}

// perSession is how many messages each session holds.
func (z recoverySize) perSession() int {
	if z.sessions == 0 {
		return 0
	}
	return z.queued / z.sessions
}

// messages is how many message records the deliveries share.
func (z recoverySize) messages() int { return z.sessions / z.fanout * z.perSession() }

func recClientID(i int) string { return fmt.Sprintf("rec-%06d", i) }

func retainedTopic(i int) string { return fmt.Sprintf("r/%d/%d", i/1000, i%1000) }

// queuedPayload is the payload of message j of group g, padded to n bytes.
func queuedPayload(g, j, n int) []byte {
	p := fmt.Appendf(nil, "q/%d/%d", g, j)
	for len(p) < n {
		p = append(p, '.')
	}
	return p
}

// fillStore writes z into a new store in dir through the persist API, as
// a broker would have left it: sessions in groups of z.fanout, each
// subscribed at QoS 1 to its group's topics q/{g}/#, and each message of
// a group stored once and queued, in order, to every session of it.
func fillStore(t *testing.T, dir string, z recoverySize) {
	t.Helper()
	st, err := persist.OpenDisk(dir, persist.DiskOptions{Sync: persist.Sync{Every: persist.Never}, Ballast: -1})
	if err != nil {
		t.Fatal(err)
	}
	var b persist.Batch
	flush := func(force bool) {
		if b.Len() == 0 || !force && b.Len() < 20_000 {
			return
		}
		done := make(chan error, 1)
		st.Commit(&b, func(err error) { done <- err })
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		b.Reset()
	}
	retained := make([]byte, z.payload)
	for i := range retained {
		retained[i] = 'r'
	}
	for i := range z.retained {
		b.PutRetained(&persist.Retained{Topic: []byte(retainedTopic(i)), Payload: retained, QoS: 1})
		flush(false)
	}
	offline := time.Now().Add(-time.Minute).UnixNano()
	k := z.perSession()
	seq := uint64(0)
	for g := range z.sessions / z.fanout {
		for j := range k {
			b.PutMessage(&persist.Message{ID: uint64(g*k + j + 1), Topic: fmt.Appendf(nil, "q/%d/%d", g, j),
				Payload: queuedPayload(g, j, z.payload), QoS: 1})
		}
		for s := g * z.fanout; s < (g+1)*z.fanout; s++ {
			id := recClientID(s)
			b.PutSession(&persist.Session{ClientID: id, Version: byte(codec.V311), Expiry: 0xFFFFFFFF, OfflineAt: offline})
			b.PutSubscription(&persist.Subscription{ClientID: id, Filter: fmt.Appendf(nil, "q/%d/#", g), QoS: 1})
			for j := range k {
				seq++
				b.PutDelivery(&persist.Delivery{ClientID: id, Seq: seq, MessageID: uint64(g*k + j + 1), QoS: 1, State: persist.Queued})
			}
		}
		flush(false)
	}
	flush(true)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// dirBytes is the size of the files under dir, the disk-full reserve
// left out.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "gust-ballast" {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// procStatus returns the kB figures of fields (VmRSS, VmHWM) of pid.
func procStatus(t *testing.T, pid int, fields ...string) []int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := make([]int64, len(fields))
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for i, want := range fields {
			if name == want {
				v, _ := strings.CutSuffix(strings.TrimSpace(val), " kB")
				out[i], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return out
}

// procCPU is the CPU time pid has used, user and system.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(b), ") ") // the command may hold spaces
	f := strings.Fields(after)
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

var recoveryCounts = regexp.MustCompile(`msg="store recovered".* retained=(\d+) sessions=(\d+) subscriptions=(\d+) .*queued=(\d+) messages=(\d+) .*took=(\S+)`)

// TestRecoveryTime fills a store with retained messages and persistent
// sessions holding queued messages, starts the broker on it, and
// measures the time from the process's start to its accepting
// connections; then it checks that sessions get their queued messages
// and a retained message is there.
func TestRecoveryTime(t *testing.T) {
	z := recoverySizes()
	dir := t.TempDir()
	t0 := time.Now()
	fillStore(t, dir, z)
	fill := time.Since(t0)
	size := dirBytes(t, dir)
	t.Logf("filled %d retained, %d sessions, %d queued deliveries of %d messages (%d B payloads) in %v: %.1f MiB on disk",
		z.retained, z.sessions, z.sessions*z.perSession(), z.messages(), z.payload, fill.Round(time.Millisecond), float64(size)/(1<<20))

	t0 = time.Now()
	b := start(t, dir, "--max-sessions", strconv.Itoa(z.sessions+100),
		"--max-retained-messages", strconv.Itoa(z.retained+100), "--max-retained-bytes", strconv.Itoa(4<<30),
		"--max-queued-bytes-total", strconv.Itoa(16<<30))
	listen := time.Since(t0)
	cpu := procCPU(t, b.cmd.Process.Pid)
	mem := procStatus(t, b.cmd.Process.Pid, "VmRSS", "VmHWM")
	m := recoveryCounts.FindStringSubmatch(b.log())
	if m == nil {
		t.Fatalf("no recovery line:\n%s", b.log())
	}
	took, err := time.ParseDuration(m[6])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start to listening %v (store recovered in %v), CPU time %v; RSS %.1f MiB, peak %.1f MiB",
		listen.Round(time.Millisecond), took.Round(time.Millisecond), cpu, float64(mem[0])/1024, float64(mem[1])/1024)
	for i, want := range []int{z.retained, z.sessions, z.sessions, z.sessions * z.perSession(), z.messages()} {
		if got, _ := strconv.Atoi(m[i+1]); got != want {
			t.Errorf("recovery line %q: field %d is %d, want %d", m[0], i+1, got, want)
		}
	}

	for _, s := range []int{0, z.sessions / 2, z.sessions - 1} {
		if s < 0 || z.sessions == 0 {
			break
		}
		checkRecoveredQueue(t, b.addr, s, z)
	}
	if z.retained > 0 {
		checkRetained(t, b.addr, z.retained-1, z.payload)
	}
}

// checkRecoveredQueue resumes session s and reads its queued messages, in order.
func checkRecoveredQueue(t *testing.T, addr string, s int, z recoverySize) {
	t.Helper()
	c, err := dialWith(addr, &codec.Connect{ClientID: []byte(recClientID(s)), KeepAlive: 60})
	if err != nil {
		t.Fatal(err)
	}
	defer c.nc.Close()
	if !c.present {
		t.Fatalf("session %s not present", recClientID(s))
	}
	g := s / z.fanout
	for j := range z.perSession() {
		pkt, err := c.read(codec.TypePublish)
		if err != nil {
			t.Fatalf("session %s, message %d: %v", recClientID(s), j, err)
		}
		var p codec.Publish
		if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil {
			t.Fatal(err)
		}
		if want := queuedPayload(g, j, z.payload); string(p.Payload) != string(want) || p.QoS != 1 {
			t.Fatalf("session %s, message %d: QoS %d %q, want QoS 1 %q", recClientID(s), j, p.QoS, p.Payload, want)
		}
		if err := c.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})); err != nil {
			t.Fatal(err)
		}
	}
	if pkt, err := c.readWithin(codec.TypePublish, 200*time.Millisecond); err == nil {
		t.Fatalf("session %s: a message past its queue: % x", recClientID(s), pkt)
	}
}

// checkRetained subscribes to retained topic i and reads its message.
func checkRetained(t *testing.T, addr string, i, n int) {
	t.Helper()
	c, err := dial(addr, "rec-checker")
	if err != nil {
		t.Fatal(err)
	}
	defer c.nc.Close()
	topic := retainedTopic(i)
	if err := c.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte(topic), QoS: 1}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.read(codec.TypeSuback); err != nil {
		t.Fatal(err)
	}
	pkt, err := c.read(codec.TypePublish)
	if err != nil {
		t.Fatalf("retained %s: %v", topic, err)
	}
	var p codec.Publish
	if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil {
		t.Fatal(err)
	}
	if string(p.Topic) != topic || !p.Retain || len(p.Payload) != n {
		t.Fatalf("retained %s: got %q retain %v, %d bytes", topic, p.Topic, p.Retain, len(p.Payload))
	}
}

// spaceSize is the load of TestSpaceReclaim.
type spaceSize struct {
	sessions int // offline persistent subscribers
	messages int // QoS 1 messages published to all of them
	payload  int // bytes of each payload
}

// spaceSizes is the load of TestSpaceReclaim: 50 MiB of payloads for
// make test (enough for the store to move them out of its memtables), or
// with GUST_RECOVERY_FULL=1 50k messages of 2 KiB queued to 20 sessions
// (1M deliveries); GUST_SPACE_SESSIONS, _MESSAGES and _PAYLOAD override
// each figure.
func spaceSizes() spaceSize {
	z := spaceSize{sessions: 2, messages: 25_000, payload: 2048}
	if os.Getenv("GUST_RECOVERY_FULL") == "1" {
		z = spaceSize{sessions: 20, messages: 50_000, payload: 2048}
	}
	for _, f := range []struct {
		env string
		v   *int
	}{
		{"GUST_SPACE_SESSIONS", &z.sessions},
		{"GUST_SPACE_MESSAGES", &z.messages},
		{"GUST_SPACE_PAYLOAD", &z.payload},
	} {
		if n, err := strconv.Atoi(os.Getenv(f.env)); err == nil && n > 0 {
			*f.v = n
		}
	}
	return z
}

// diskUse is the size of a data directory's files by kind.
type diskUse struct{ tables, logs, other int64 }

func (u diskUse) total() int64 { return u.tables + u.logs + u.other }

func (u diskUse) String() string {
	return fmt.Sprintf("%.2f MiB (tables %.2f, logs %.2f, other %.2f)", mib(u.total()), mib(u.tables), mib(u.logs), mib(u.other))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// measureDir sums the files of dir by kind, the disk-full reserve left
// out.
func measureDir(t *testing.T, dir string) diskUse {
	t.Helper()
	var u diskUse
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted by the store meanwhile
			}
			t.Fatal(err)
		}
		switch n := e.Name(); {
		case e.IsDir(), n == "gust-ballast":
		case strings.HasSuffix(n, ".sst"):
			u.tables += info.Size()
		case strings.HasSuffix(n, ".log"):
			u.logs += info.Size()
		default:
			u.other += info.Size()
		}
	}
	return u
}

// terminate shuts b down with SIGTERM and waits for it to exit.
func terminate(t *testing.T, b *broker) {
	t.Helper()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("broker did not stop:\n%s", b.log())
	}
}

// spaceSession connects persistent session id (clean session 0).
func spaceSession(t *testing.T, addr, id string) *client {
	t.Helper()
	c, err := dialWith(addr, &codec.Connect{ClientID: []byte(id), KeepAlive: 60})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// publishPipelined publishes n QoS 1 messages to topic with up to window
// of them unacknowledged, and returns once every PUBACK has come.
func publishPipelined(t *testing.T, addr, topic string, n, size, window int) {
	t.Helper()
	c, err := dial(addr, "space-pub")
	if err != nil {
		t.Fatal(err)
	}
	defer c.nc.Close()
	payload := make([]byte, size)
	rnd := rand.NewChaCha8([32]byte{})
	w := bufio.NewWriter(c.nc)
	var buf []byte
	send := func(i int) {
		_, _ = rnd.Read(payload) // incompressible, like most payloads
		buf = codec.AppendPublish(buf[:0], codec.V311, &codec.Publish{Topic: []byte(topic), Payload: payload, QoS: 1, PacketID: uint16(i%65535 + 1)})
		if _, err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	sent := 0
	for ; sent < min(n, window); sent++ {
		send(sent)
	}
	for acked := 0; acked < n; acked++ {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.read(codec.TypePuback); err != nil {
			t.Fatalf("PUBACK %d of %d: %v", acked, n, err)
		}
		if sent < n {
			send(sent)
			sent++
		}
	}
}

// drainSession reads n QoS 1 messages on c and acknowledges each.
func drainSession(t *testing.T, c *client, n int) {
	t.Helper()
	w := bufio.NewWriter(c.nc)
	for i := range n {
		pkt, err := c.read(codec.TypePublish)
		if err != nil {
			t.Fatalf("message %d of %d: %v", i, n, err)
		}
		var p codec.Publish
		if _, err := codec.DecodePublish(pkt, codec.V311, &p); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID})); err != nil {
			t.Fatal(err)
		}
		if c.r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestSpaceReclaim queues QoS 1 messages for offline persistent sessions
// through a real broker, drains them, and measures the data directory:
// at the start, at its peak, after the drain, and after a restart. What
// was acknowledged must not stay on disk.
func TestSpaceReclaim(t *testing.T) {
	z := spaceSizes()
	dir := t.TempDir()
	flags := []string{"--max-queued-messages", strconv.Itoa(z.messages), "--max-queued-bytes", strconv.Itoa(1 << 30),
		"--max-queued-bytes-total", strconv.Itoa(16 << 30)}
	b := start(t, dir, flags...)
	ids := make([]string, z.sessions)
	for i := range ids {
		ids[i] = fmt.Sprintf("space-%d", i)
		c := spaceSession(t, b.addr, ids[i])
		if err := c.write(codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 1,
			Filters: []codec.Subscription{{Filter: []byte("space/#"), QoS: 1}}})); err != nil {
			t.Fatal(err)
		}
		if _, err := c.read(codec.TypeSuback); err != nil {
			t.Fatal(err)
		}
		_ = c.nc.Close()
	}
	begin := measureDir(t, dir)

	t0 := time.Now()
	publishPipelined(t, b.addr, "space/x", z.messages, z.payload, 1000)
	pub := time.Since(t0)
	peak := measureDir(t, dir)
	t0 = time.Now()
	for _, id := range ids {
		c := spaceSession(t, b.addr, id)
		drainSession(t, c, z.messages)
		_ = c.write([]byte{0xE0, 0}) // DISCONNECT
		_ = c.nc.Close()
	}
	t.Logf("%d messages of %d B queued to %d offline sessions in %v, drained in %v",
		z.messages, z.payload, z.sessions, pub.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
	drained := measureDir(t, dir)
	// The store compacts deleted data in the background: wait for the
	// tables to shrink to a twentieth of the peak.
	t0 = time.Now()
	later := drained
	for later.tables > begin.tables+peak.total()/20 && time.Since(t0) < 30*time.Second {
		time.Sleep(250 * time.Millisecond)
		later = measureDir(t, dir)
	}
	reclaimed := time.Since(t0)
	terminate(t, b)
	b = start(t, dir, flags...)
	restarted := measureDir(t, dir)
	t.Logf("data directory: start %v", begin)
	t.Logf("  peak %v", peak)
	t.Logf("  drained %v", drained)
	t.Logf("  %v later %v", reclaimed.Round(time.Millisecond), later)
	t.Logf("  restarted %v", restarted)
	if m := recoveryCounts.FindStringSubmatch(b.log()); m == nil || m[4] != "0" || m[5] != "0" {
		t.Errorf("after the drain the store still holds deliveries or messages: %q", m)
	}
	if limit := begin.tables + peak.total()/20; later.tables > limit {
		t.Errorf("tables of %d bytes %v after the drain: more than %d (peak %d)", later.tables, reclaimed, limit, peak.total())
	}
	// Near the start: the drained messages are gone from the tables.
	// The log files are pebble's write-ahead log, which it recycles: their
	// size follows its memtables, not what was queued.
	if kept, limit := restarted.tables+restarted.other, begin.tables+begin.other+peak.total()/20; kept > limit {
		t.Errorf("tables and other files of %d bytes after the drain and a restart: more than %d (start %v, peak %v)",
			kept, limit, begin, peak)
	}
}
