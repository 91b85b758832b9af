package crash

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// Bounds of TestKillQueued. Each publisher sends at most perRun messages
// a run, so the offline sessions hold at most kills*perRun messages per
// publisher, well under --max-queued-messages (queueFlags) and the
// default --max-queued-bytes: no message is dropped for a full queue.
const (
	perRun        = 15
	sessionExpiry = 86400 // seconds, for the v5 subscribers
	drainQuiet    = 3 * time.Second
	drainTimeout  = 10 * time.Minute
)

var queueFlags = []string{"--max-queued-messages", "1000000"}

// mclient is a raw MQTT 3.1.1 or 5 connection.
type mclient struct {
	*client
	v codec.Version
}

// dialV connects as id with version v and reads the CONNACK; expiry is
// the v5 Session Expiry Interval (3.1.1 is persistent when !clean).
func dialV(addr string, v codec.Version, id string, clean bool, expiry uint32) (*mclient, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &mclient{client: &client{nc: nc, r: bufio.NewReader(nc)}, v: v}
	p := &codec.Connect{ProtocolName: []byte("MQTT"), Version: v, CleanStart: clean, ClientID: []byte(id), KeepAlive: 60}
	if v == codec.V5 && expiry > 0 {
		p.Props.SessionExpiry = expiry
		p.Props.Set(codec.PropSessionExpiry)
	}
	if err := c.write(codec.AppendConnect(nil, p)); err != nil {
		nc.Close()
		return nil, err
	}
	pkt, err := c.read(codec.TypeConnack)
	if err != nil {
		nc.Close()
		return nil, err
	}
	var ack codec.Connack
	if _, err := codec.DecodeConnack(pkt, v, &ack); err != nil {
		nc.Close()
		return nil, err
	}
	if ack.ReasonCode != 0 {
		nc.Close()
		return nil, fmt.Errorf("connack %#x", byte(ack.ReasonCode))
	}
	c.present = ack.SessionPresent
	return c, nil
}

// next returns the next packet, whatever its type, waiting at most d.
func (c *mclient) next(d time.Duration) ([]byte, error) {
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
	return pkt, nil
}

// ack reads an acknowledgement of type want for pid and reports whether
// its reason code says success.
func (c *mclient) ack(want codec.Type, pid uint16) (bool, error) {
	pkt, err := c.read(want)
	if err != nil {
		return false, err
	}
	var a codec.Ack
	if _, err := codec.DecodeAck(pkt, c.v, &a); err != nil {
		return false, err
	}
	if a.PacketID != pid {
		return false, fmt.Errorf("%v for packet id %d, want %d", want, a.PacketID, pid)
	}
	return a.ReasonCode < 0x80, nil
}

func (c *mclient) sendAck(t codec.Type, pid uint16) error {
	return c.write(codec.AppendAck(nil, c.v, &codec.Ack{Type: t, PacketID: pid}))
}

// publisher sends numbered QoS 1 or 2 messages to its topic, one at a
// time, on a clean session, and records which were acknowledged (PUBACK,
// or PUBCOMP for QoS 2) and which were sent without acknowledgement.
type publisher struct {
	name    string
	v       codec.Version
	qos     byte
	acked   []string
	unacked []string
}

// run publishes up to perRun messages, pausing at random between them,
// until the broker goes away or deadline passes.
func (p *publisher) run(addr string, run int, deadline time.Time) {
	c, err := dialV(addr, p.v, fmt.Sprintf("%s-%d", p.name, run), true, 0)
	if err != nil {
		return
	}
	defer c.nc.Close()
	topic := []byte("cq/" + p.name)
	for seq := range perRun {
		if time.Now().After(deadline) {
			return
		}
		payload := fmt.Sprintf("%s/%d/%d", p.name, run, seq)
		ok, err := p.publish(c, topic, payload, uint16(seq+1))
		if !ok {
			p.unacked = append(p.unacked, payload)
		} else {
			p.acked = append(p.acked, payload)
		}
		if err != nil {
			return
		}
		time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
	}
}

// publish sends one message and reports whether its publisher was told it
// is delivered: PUBACK, or PUBREC then PUBCOMP, with success codes.
func (p *publisher) publish(c *mclient, topic []byte, payload string, pid uint16) (bool, error) {
	if err := c.write(codec.AppendPublish(nil, p.v, &codec.Publish{Topic: topic, Payload: []byte(payload),
		QoS: p.qos, PacketID: pid})); err != nil {
		return false, err
	}
	if p.qos == 1 {
		return c.ack(codec.TypePuback, pid)
	}
	if ok, err := c.ack(codec.TypePubrec, pid); !ok || err != nil {
		return false, err
	}
	if err := c.sendAck(codec.TypePubrel, pid); err != nil {
		return false, err
	}
	return c.ack(codec.TypePubcomp, pid)
}

// subscriber is a persistent session and what its client received over
// every connection: got counts the deliveries of each payload (every QoS 1
// PUBLISH; a QoS 2 PUBLISH once, its resends before PUBCOMP being the same
// delivery), pending holds the QoS 2 PUBLISHes whose PUBCOMP was not sent
// (the receiver's side of the session, kept across connections).
type subscriber struct {
	id      string
	v       codec.Version
	filter  string
	qos     byte // granted QoS
	online  bool // consumes during the runs
	drops   bool // drops its connection now and then during the runs
	group   bool // a member of the shared subscription
	pending map[uint16]string
	got     map[string]int
	faults  []string
	// resent counts the PUBLISHes sent again with DUP, and the PUBRELs
	// sent again for a delivery already completed: signs that kills fell
	// inside deliveries.
	resent, pubrelAgain int
	dropped             int // connections dropped
}

func (s *subscriber) fault(format string, args ...any) {
	s.faults = append(s.faults, s.id+": "+fmt.Sprintf(format, args...))
}

// setup creates the session and its subscription, then disconnects.
func (s *subscriber) setup(addr string) error {
	c, err := dialV(addr, s.v, s.id, s.v == codec.V5, sessionExpiry)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	if err := c.write(codec.AppendSubscribe(nil, s.v, &codec.Subscribe{PacketID: 1,
		Filters: []codec.Subscription{{Filter: []byte(s.filter), QoS: s.qos}}})); err != nil {
		return err
	}
	pkt, err := c.read(codec.TypeSuback)
	if err != nil {
		return err
	}
	var sa codec.Suback
	if _, err := codec.DecodeSuback(pkt, s.v, &sa); err != nil {
		return err
	}
	if len(sa.ReasonCodes) != 1 || byte(sa.ReasonCodes[0]) != s.qos {
		return fmt.Errorf("%s: suback %v, want QoS %d", s.id, sa.ReasonCodes, s.qos)
	}
	return c.write(codec.AppendDisconnect(nil, s.v, &codec.Disconnect{}))
}

var (
	errDrainDeadline = errors.New("drain deadline passed")
	errDropped       = errors.New("connection dropped by the subscriber")
)

// consumeOpts says how a subscriber consumes.
type consumeOpts struct {
	deadline time.Time
	// quiet > 0: return nil once nothing came for quiet (the drain).
	quiet time.Duration
	// slow: pause at random before acknowledging, so that kills fall
	// between a delivery and its acknowledgement.
	slow bool
	// dropAfter > 0: close the connection, without DISCONNECT, after
	// that many packets.
	dropAfter int
	// connected, if not nil, is called once the CONNACK came or the
	// connection failed.
	connected func()
}

// live runs s during a run: it consumes slowly and, if s.drops, now and
// then drops its connection and comes back, until the broker goes away.
func (s *subscriber) live(addr string, deadline time.Time, connected func()) {
	for time.Now().Before(deadline) {
		o := consumeOpts{deadline: deadline, slow: true, connected: connected}
		if s.drops && rand.IntN(2) == 0 {
			o.dropAfter = 1 + rand.IntN(40)
		}
		connected = nil
		if err := s.consume(addr, o); !errors.Is(err, errDropped) {
			return
		}
		s.dropped++
	}
}

// consume resumes the session and acknowledges what comes until the
// connection fails, or as o says.
func (s *subscriber) consume(addr string, o consumeOpts) error {
	c, err := dialV(addr, s.v, s.id, false, sessionExpiry)
	if o.connected != nil {
		o.connected()
	}
	if err != nil {
		return err
	}
	defer c.nc.Close()
	if !c.present {
		s.fault("session not present on reconnection")
	}
	wait := 10 * time.Second
	if o.quiet > 0 {
		wait = o.quiet
	}
	for n := 1; time.Now().Before(o.deadline); n++ {
		pkt, err := c.next(wait)
		var ne net.Error
		if o.quiet > 0 && errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		if err != nil {
			return err
		}
		if o.slow && rand.IntN(4) == 0 {
			time.Sleep(time.Duration(1+rand.IntN(10)) * time.Millisecond)
		}
		if err := s.handle(c, pkt); err != nil {
			return err
		}
		if n == o.dropAfter {
			return errDropped
		}
	}
	return errDrainDeadline
}

// handle records one packet from the broker and acknowledges it.
func (s *subscriber) handle(c *mclient, pkt []byte) error {
	switch t := codec.Type(pkt[0] >> 4); t {
	case codec.TypePublish:
		var p codec.Publish
		if _, err := codec.DecodePublish(pkt, s.v, &p); err != nil {
			return err
		}
		payload := string(p.Payload)
		if want := min(pubQoS(payload), s.qos); p.QoS != want {
			s.fault("%q delivered at QoS %d, want %d", payload, p.QoS, want)
		}
		old, inFlight := s.pending[p.PacketID]
		switch {
		case p.QoS == 1:
			if inFlight {
				s.fault("packet id %d of QoS 2 %q, not completed, reused for QoS 1 %q", p.PacketID, old, payload)
			}
			s.got[payload]++
			if p.Dup {
				s.resent++
			}
			return c.sendAck(codec.TypePuback, p.PacketID)
		case p.QoS == 2 && inFlight:
			if old != payload {
				s.fault("packet id %d of QoS 2 %q, not completed, reused for %q", p.PacketID, old, payload)
			} else if !p.Dup {
				s.fault("QoS 2 %q (packet id %d) sent again without DUP", payload, p.PacketID)
			}
			s.resent++
		case p.QoS == 2:
			s.pending[p.PacketID] = payload
			s.got[payload]++
		default:
			s.fault("%q at QoS %d", payload, p.QoS)
			return nil
		}
		return c.sendAck(codec.TypePubrec, p.PacketID)
	case codec.TypePubrel:
		var a codec.Ack
		if _, err := codec.DecodeAck(pkt, s.v, &a); err != nil {
			return err
		}
		if _, ok := s.pending[a.PacketID]; !ok {
			s.pubrelAgain++ // the broker missed our PUBCOMP
		}
		delete(s.pending, a.PacketID)
		return c.sendAck(codec.TypePubcomp, a.PacketID)
	default:
		return fmt.Errorf("%s: unexpected %v", s.id, t)
	}
}

// pubQoS is the QoS a payload was published at: its publisher's name
// ends in it.
func pubQoS(payload string) byte {
	name, _, _ := strings.Cut(payload, "/")
	if name == "" {
		return 0
	}
	return name[len(name)-1] - '0'
}

// TestKillQueued publishes QoS 1 and QoS 2 messages (3.1.1 and v5) into
// persistent sessions (online and consuming, offline the whole time, or
// members of a shared subscription) while the broker (--fsync always, or
// GUST_CRASH_FSYNC) is killed with SIGKILL at random moments and restarted
// on the same data directory; the online subscribers resume after each
// restart, and some drop their connection now and then and come back.
// After the last restart every subscriber drains. Every message
// whose publisher got its PUBACK or PUBCOMP has reached every session it
// was routed to (one member of the group) at least once at QoS 1 and
// exactly once at QoS 2; no QoS 2 message, acknowledged or not, arrived
// twice.
func TestKillQueued(t *testing.T) {
	dir, logs := keepOnFailure(t)
	n := kills()
	pubs := []*publisher{
		{name: "p3q1", v: codec.V311, qos: 1}, {name: "p3q2", v: codec.V311, qos: 2},
		{name: "p5q1", v: codec.V5, qos: 1}, {name: "p5q2", v: codec.V5, qos: 2},
	}
	subs := []*subscriber{
		{id: "on3", v: codec.V311, filter: "cq/#", qos: 2, online: true, drops: true},
		{id: "on5", v: codec.V5, filter: "cq/#", qos: 2, online: true},
		{id: "off3", v: codec.V311, filter: "cq/#", qos: 1},
		{id: "off5", v: codec.V5, filter: "cq/#", qos: 2},
		{id: "g3", v: codec.V311, filter: "$share/g/cq/#", qos: 2, online: true, drops: true, group: true},
		{id: "g5", v: codec.V5, filter: "$share/g/cq/#", qos: 2, online: true, group: true},
		{id: "goff", v: codec.V5, filter: "$share/g/cq/#", qos: 2, group: true},
	}
	b := start(t, dir, queueFlags...)
	logs.add(b)
	for _, s := range subs {
		s.pending, s.got = map[uint16]string{}, map[string]int{}
		if err := s.setup(b.addr); err != nil {
			t.Fatal(err)
		}
	}
	b.stop(t) // the sessions are stored whatever --fsync says
	began := time.Now()
	for run := range n {
		b := start(t, dir, queueFlags...)
		logs.add(b)
		killAt := time.Duration(20+rand.IntN(280)) * time.Millisecond
		kill := time.After(killAt)
		deadline := time.Now().Add(killAt + 15*time.Second)
		// The publishers start once the group's online members are
		// back, and g5 keeps its connection: the broker gives a shared
		// subscription's message to a live member only, so one
		// published while none is live goes to no session of the
		// group. The other sessions get what comes while their clients
		// reconnect.
		var wg, live sync.WaitGroup
		for _, s := range subs {
			if !s.online {
				continue
			}
			var connected func()
			if s.group {
				live.Add(1)
				connected = live.Done
			}
			wg.Go(func() { s.live(b.addr, deadline, connected) })
		}
		live.Wait()
		for _, p := range pubs {
			wg.Go(func() { p.run(b.addr, run, deadline) })
		}
		<-kill
		b.kill()
		wg.Wait()
		brokerFailed(t, b, fmt.Sprintf("run %d", run))
	}
	b = start(t, dir, queueFlags...)
	logs.add(b)
	t.Logf("after %d kills in %v: %s", n, time.Since(began).Round(time.Millisecond), recoveredLine(b.log()))
	drain(t, b, subs)
	checkQueued(t, n, pubs, subs)
}

// stop shuts the broker down with SIGTERM and waits for it to exit.
func (b *broker) stop(t *testing.T) {
	t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		b.kill()
		t.Fatalf("the broker did not stop on SIGTERM:\n%s", b.log())
	}
	if !strings.Contains(b.log(), "store recovered") || b.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("the broker stopped with exit code %d:\n%s", b.cmd.ProcessState.ExitCode(), b.log())
	}
}

// brokerLogs keeps the logs of the brokers a test started.
type brokerLogs struct {
	brokers []*broker
}

func (l *brokerLogs) add(b *broker) { l.brokers = append(l.brokers, b) }

// keepOnFailure returns a data directory and the brokers' logs; if the
// test fails they stay, under os.TempDir(), for a look, and the test says
// where.
func keepOnFailure(t *testing.T) (string, *brokerLogs) {
	t.Helper()
	dir, err := os.MkdirTemp("", "gust-crash-data-")
	if err != nil {
		t.Fatal(err)
	}
	logs := new(brokerLogs)
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
			return
		}
		var all strings.Builder
		for i, b := range logs.brokers {
			fmt.Fprintf(&all, "=== broker %d\n%s", i, b.log())
		}
		path := dir + ".log"
		if err := os.WriteFile(path, []byte(all.String()), 0o644); err != nil {
			t.Log(err)
		}
		t.Logf("kept the data directory %s and the brokers' logs %s", dir, path)
	})
	return dir, logs
}

// brokerFailed fails the test if the broker's log shows a panic.
func brokerFailed(t *testing.T, b *broker, when string) {
	t.Helper()
	log := b.log()
	if strings.Contains(log, "panic") || strings.Contains(log, "fatal error") {
		t.Fatalf("%s: the broker crashed on its own:\n%s", when, log)
	}
	for line := range strings.Lines(log) {
		if strings.Contains(line, "level=ERROR") {
			t.Logf("%s: %s", when, strings.TrimSpace(line))
		}
	}
}

// recoveredLine returns the broker's recovery log line.
func recoveredLine(log string) string {
	for line := range strings.Lines(log) {
		if strings.Contains(line, "store recovered") {
			return strings.TrimSpace(line)
		}
	}
	return "no recovery line"
}

// drain has every subscriber resume its session and take what it is owed,
// until nothing comes for drainQuiet.
func drain(t *testing.T, b *broker, subs []*subscriber) {
	t.Helper()
	deadline := time.Now().Add(drainTimeout)
	began := time.Now()
	errs := make([]error, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Go(func() { errs[i] = s.consume(b.addr, consumeOpts{deadline: deadline, quiet: drainQuiet}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("drain %s: %v", subs[i].id, err)
		}
	}
	brokerFailed(t, b, "drain")
	t.Logf("drained in %v", time.Since(began).Round(time.Millisecond))
}

// queueTally is what checkQueued counts.
type queueTally struct {
	published, acked, delivered, dupQoS1, unackedArrived int
	resent, pubrelAgain                                  int
	lost, dupQoS2, phantom, faults                       int
}

// checkQueued checks what each subscriber (and the group, as one) got
// against what the publishers were told.
func checkQueued(t *testing.T, n int, pubs []*publisher, subs []*subscriber) {
	t.Helper()
	qos := map[string]byte{} // payload: publish QoS
	acked := map[string]bool{}
	var tl queueTally
	for _, p := range pubs {
		for _, m := range p.acked {
			qos[m], acked[m] = p.qos, true
		}
		for _, m := range p.unacked {
			qos[m] = p.qos
		}
		tl.published += len(p.acked) + len(p.unacked)
		tl.acked += len(p.acked)
	}
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	group := &subscriber{id: "$share/g", qos: 2, got: map[string]int{}}
	checked := 1 // the group
	for _, s := range subs {
		tl.faults += len(s.faults)
		tl.resent += s.resent
		tl.pubrelAgain += s.pubrelAgain
		problems = append(problems, s.faults...)
		if len(s.pending) > 0 {
			tl.faults++
			report("%s: QoS 2 deliveries never released (no PUBREL) after the drain: %v", s.id, s.pending)
		}
		for m, k := range s.got {
			tl.delivered += k
			if s.group {
				group.got[m] += k
			}
		}
		if !s.group {
			checked++
			checkGot(s, qos, acked, &tl, report)
		}
	}
	checkGot(group, qos, acked, &tl, report)
	fail := t.Errorf
	if fsync() != "always" {
		fail = t.Logf // allowed by the fsync setting: reported
	}
	sort.Strings(problems)
	for i, p := range problems {
		if i == 50 {
			fail("... %d more", len(problems)-i)
			break
		}
		fail("%s", p)
	}
	if tl.phantom > 0 {
		t.Errorf("%d deliveries of messages never published", tl.phantom)
	}
	if tl.acked == 0 {
		t.Fatal("no publish was acknowledged in any run")
	}
	t.Logf("fsync %s: %d kills; %d published, %d acknowledged, %d delivered (to %d sessions and the group: %d checked), "+
		"%d QoS 1 duplicates, %d unacknowledged arrived, %d resent with DUP, %d PUBRELs again; "+
		"wrong: %d lost, %d QoS 2 duplicates, %d faults",
		fsync(), n, tl.published, tl.acked, tl.delivered, checked-1, checked, tl.dupQoS1, tl.unackedArrived, tl.resent, tl.pubrelAgain,
		tl.lost, tl.dupQoS2, tl.faults)
	if os.Getenv("GUST_CRASH_VERBOSE") != "" {
		for _, s := range subs {
			t.Logf("%s: %d distinct messages, %d resent, %d PUBRELs again, %d connections dropped",
				s.id, len(s.got), s.resent, s.pubrelAgain, s.dropped)
		}
	}
}

// checkGot checks s's deliveries: every acknowledged message at least
// once, once at QoS 2; no message twice at QoS 2; none never published.
func checkGot(s *subscriber, qos map[string]byte, acked map[string]bool, tl *queueTally, report func(string, ...any)) {
	for m, q := range qos {
		k, eff := s.got[m], min(q, s.qos)
		switch {
		case k == 0 && acked[m]:
			tl.lost++
			report("%s: acknowledged QoS %d %q never delivered", s.id, q, m)
		case k > 1 && eff == 2:
			tl.dupQoS2++
			report("%s: QoS 2 %q delivered %d times (acknowledged %v)", s.id, m, k, acked[m])
		case k > 1:
			tl.dupQoS1 += k - 1
		}
		if k > 0 && !acked[m] {
			tl.unackedArrived++
		}
	}
	for m := range s.got {
		if _, ok := qos[m]; !ok {
			tl.phantom++
			report("%s: %q was never published", s.id, m)
		}
	}
}

// TestQueuedPeerReset has a persistent subscriber reset its connection
// (SO_LINGER 0) again and again while QoS 1 and QoS 2 messages flow to it,
// mixed in each round: a write to the reset connection fails and closes it
// while the broker flushes bytes held for a store commit. The broker must
// stay up, and the subscriber get every acknowledged message.
func TestQueuedPeerReset(t *testing.T) {
	dir, logs := keepOnFailure(t)
	b := start(t, dir, queueFlags...)
	logs.add(b)
	s := &subscriber{id: "rst", v: codec.V311, filter: "cq/#", qos: 2, pending: map[uint16]string{}, got: map[string]int{}}
	if err := s.setup(b.addr); err != nil {
		t.Fatal(err)
	}
	pub, err := dialV(b.addr, codec.V311, "mixed", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.nc.Close()
	stop := make(chan struct{})
	var acked []string
	var wg sync.WaitGroup
	wg.Go(func() { acked = publishMixed(pub, stop) })
	deadline := time.Now().Add(3 * time.Second)
	resets := 0
	for ; time.Now().Before(deadline); resets++ {
		c, err := dialV(b.addr, codec.V311, s.id, false, 0)
		if err != nil {
			t.Fatalf("reconnection %d: %v\n%s", resets, err, b.log())
		}
		until := time.Now().Add(time.Duration(1+rand.IntN(20)) * time.Millisecond)
		for time.Now().Before(until) {
			pkt, err := c.next(time.Second)
			if err != nil {
				break
			}
			if err := s.handle(c, pkt); err != nil {
				break
			}
		}
		_ = c.nc.(*net.TCPConn).SetLinger(0)
		c.nc.Close()
	}
	close(stop)
	wg.Wait()
	brokerFailed(t, b, fmt.Sprintf("after %d resets", resets))
	select {
	case <-b.done:
		t.Fatalf("the broker exited after %d resets:\n%s", resets, b.log())
	default:
	}
	if err := s.consume(b.addr, consumeOpts{deadline: time.Now().Add(time.Minute), quiet: drainQuiet}); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, m := range acked {
		if s.got[m] == 0 {
			lost++
		}
	}
	if lost > 0 || len(s.faults) > 0 {
		t.Errorf("%d of %d acknowledged messages lost; faults %v", lost, len(acked), s.faults)
	}
	t.Logf("%d resets, %d messages acknowledged, %d delivered", resets, len(acked), len(s.got))
}

// publishMixed publishes batches of QoS 1 and QoS 2 messages, each batch
// in one write so that the broker routes it in one round, until stop; it
// returns the payloads acknowledged.
func publishMixed(c *mclient, stop <-chan struct{}) []string {
	var acked []string
	for batch := 0; ; batch++ {
		select {
		case <-stop:
			return acked
		default:
		}
		var buf []byte
		payloads := make([]string, 8)
		for i := range payloads {
			payloads[i] = fmt.Sprintf("mixq%d/%d/%d", 1+i%2, batch, i)
			buf = codec.AppendPublish(buf, codec.V311, &codec.Publish{Topic: []byte("cq/mixed"),
				Payload: []byte(payloads[i]), QoS: byte(1 + i%2), PacketID: uint16(i + 1)})
		}
		if c.write(buf) != nil {
			return acked
		}
		// 4 PUBACKs and 4 PUBRECs, in order; then the PUBRELs.
		for i := range payloads {
			want := codec.TypePuback
			if i%2 == 1 {
				want = codec.TypePubrec
			}
			if ok, err := c.ack(want, uint16(i+1)); !ok || err != nil {
				return acked
			}
			if i%2 == 0 {
				acked = append(acked, payloads[i])
			}
		}
		for i := 1; i < len(payloads); i += 2 {
			if c.sendAck(codec.TypePubrel, uint16(i+1)) != nil {
				return acked
			}
			if ok, err := c.ack(codec.TypePubcomp, uint16(i+1)); !ok || err != nil {
				return acked
			}
			acked = append(acked, payloads[i])
		}
	}
}
