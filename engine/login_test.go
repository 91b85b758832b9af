package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
)

// plainConnack connects user/pass with MQTT 3.1.1 and returns the CONNACK
// return code.
func plainConnack(t *testing.T, b *Broker, user, pass string) codec.ReasonCode {
	t.Helper()
	r := dialRaw(t, b)
	return r.connect(&codec.Connect{ClientID: []byte("c-" + user), CleanStart: true,
		UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(pass)}).ReasonCode
}

// countingAuth is auth.Users counting the full checks running at once.
type countingAuth struct {
	*auth.Users
	running, peak, calls atomic.Int64
	// onLoop counts the checks called from an event loop's packet
	// handling (client.onTraffic on the stack).
	onLoop atomic.Int64
}

func (a *countingAuth) Authenticate(info *ConnectInfo) error {
	n := a.running.Add(1)
	defer a.running.Add(-1)
	a.calls.Add(1)
	buf := make([]byte, 16<<10)
	if bytes.Contains(buf[:runtime.Stack(buf, false)], []byte("engine.(*client).onTraffic")) {
		a.onLoop.Add(1)
	}
	for p := a.peak.Load(); n > p && !a.peak.CompareAndSwap(p, n); p = a.peak.Load() {
	}
	return a.Users.Authenticate(info)
}

// gatedAuth is a CachedAuthenticator that answers at once only for
// clients without a user name (accepted): each Authenticate announces
// itself on entered and waits for release, then accepts the password
// "good" only.
type gatedAuth struct {
	entered chan string // the user name of each check that starts
	release chan struct{}
	calls   atomic.Int64
}

func newGatedAuth() *gatedAuth {
	return &gatedAuth{entered: make(chan string, 16), release: make(chan struct{})}
}

func (a *gatedAuth) AuthenticateCached(info *ConnectInfo) (bool, error) {
	return !info.UsernameFlag, nil
}

func (a *gatedAuth) Authenticate(info *ConnectInfo) error {
	a.calls.Add(1)
	a.entered <- string(info.Username)
	<-a.release
	if string(info.Password) != "good" {
		return ErrBadCredentials
	}
	return nil
}

// waitEntered waits for the check of user to start.
func (a *gatedAuth) waitEntered(t *testing.T, user string) {
	t.Helper()
	select {
	case u := <-a.entered:
		if u != user {
			t.Fatalf("check started: got %v, want %v", u, user)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no check started for", user)
	}
}

// dialChecked sends login on a new connection and returns it once its
// check has started. The worker takes the next check only once it is back
// from the last one, after that one's CONNACK went out: a login that comes
// before is refused as Server busy, and is sent again.
func (a *gatedAuth) dialChecked(t *testing.T, b *Broker, login []byte) *rawConn {
	t.Helper()
	for range 10 {
		c := dialRaw(t, b)
		c.write(login)
		select {
		case <-a.entered:
			return c
		case <-time.After(time.Second):
			_ = c.nc.Close()
		}
	}
	t.Fatal("no check started")
	return nil
}

// loginPacket is an MQTT CONNECT of id as user/pass, v5 or 3.1.1.
func loginPacket(id, user, pass string, v5 bool) []byte {
	p := &codec.Connect{Version: codec.V311, ProtocolName: []byte("MQTT"), ClientID: []byte(id), CleanStart: true,
		UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(pass)}
	if v5 {
		p.Version = codec.V5
	}
	return codec.AppendConnect(nil, p)
}

// readConnack reads a CONNACK of version v and returns its code.
func (r *rawConn) readConnack(v codec.Version) codec.ReasonCode {
	r.t.Helper()
	var ack codec.Connack
	_, err := codec.DecodeConnack(r.mustRead(codec.TypeConnack), v, &ack)
	if err != nil {
		r.t.Fatal(err)
	}
	return ack.ReasonCode
}

// TestReloadPasswordFile: Broker.ReloadPasswordFile swaps in a changed
// file for new logins, plain and SCRAM; a bad file keeps the old users
// and is logged naming the file and line. Nothing logged holds a password
// or a proof.
func TestReloadPasswordFile(t *testing.T) {
	var logs syncBuffer
	path := writeUsersFile(t, "alice", "s3cret", "bob", "hunter2")
	b := startBroker(t, func(c *Config) {
		c.PasswordFile = path
		c.Logger = logTo(&logs)
	})
	if got := plainConnack(t, b, "alice", "s3cret"); got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	if got := plainConnack(t, b, "carol", "pa55"); got != codec.ReasonCode(codec.ConnackBadUsernameOrPassword) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(codec.ConnackBadUsernameOrPassword))
	}

	if err := os.Rename(writeUsersFile(t, "alice", "n3w", "carol", "pa55"), path); err != nil {
		t.Fatal(err)
	}
	if err := b.ReloadPasswordFile(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "password file reloaded") {
		t.Fatal(logs.String())
	}
	if got := plainConnack(t, b, "alice", "s3cret"); got != codec.ReasonCode(codec.ConnackBadUsernameOrPassword) {
		t.Fatalf("old password: got %v, want %v", got, codec.ReasonCode(codec.ConnackBadUsernameOrPassword))
	}
	if got := plainConnack(t, b, "alice", "n3w"); got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	if got := plainConnack(t, b, "carol", "pa55"); got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	if got := plainConnack(t, b, "bob", "hunter2"); got != codec.ReasonCode(codec.ConnackBadUsernameOrPassword) {
		t.Fatalf("deleted user: got %v, want %v", got, codec.ReasonCode(codec.ConnackBadUsernameOrPassword))
	}
	_, ack := rawSCRAMAs(t, b, "scram-carol", "carol", "pa55")
	if ack.ReasonCode != codec.ReasonSuccess {
		t.Fatalf("SCRAM after reload: got %v, want %v", ack.ReasonCode, codec.ReasonSuccess)
	}

	if err := os.WriteFile(path, []byte("# broken\ncarol:SCRAM-SHA-256$4096:c2FsdA==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := b.ReloadPasswordFile()
	if !(errors.Is(err, auth.ErrUsersFile) && strings.Contains(err.Error(), path+":2:")) {
		t.Fatal(err)
	}
	if !(strings.Contains(logs.String(), "password file not reloaded") && strings.Contains(logs.String(), path+":2:")) {
		t.Fatal(logs.String())
	}
	if got := plainConnack(t, b, "carol", "pa55"); got != codec.ReasonCode(0) {
		t.Fatalf("old users kept after a bad file: got %v, want %v", got, codec.ReasonCode(0))
	}

	// A wrong SCRAM proof and wrong passwords leave no secret in the logs.
	_, ack = rawSCRAMAs(t, b, "scram-bad", "carol", "wrong-pw")
	if ack.ReasonCode != codec.ReasonBadUsernameOrPassword {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonBadUsernameOrPassword)
	}
	if got := plainConnack(t, b, "alice", "wr0ng"); got != codec.ReasonCode(codec.ConnackBadUsernameOrPassword) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(codec.ConnackBadUsernameOrPassword))
	}
	for _, secret := range []string{"s3cret", "n3w", "pa55", "wrong-pw", "wr0ng"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatal("log holds", secret)
		}
	}
}

// loginFlood is what runLoginFlood measured.
type loginFlood struct {
	rtts     []time.Duration // the probe's QoS 1 round trips, sorted
	codes    map[byte]int    // CONNACK return codes the flood got
	failures int             // flood connections that got no CONNACK
}

// p returns the q-quantile of the probe's round trips.
func (f *loginFlood) p(q float64) time.Duration {
	if len(f.rtts) == 0 {
		return 0
	}
	return f.rtts[min(len(f.rtts)-1, int(q*float64(len(f.rtts))))]
}

// runLoginFlood runs attackers goroutines, each looping on raw MQTT 3.1.1
// CONNECTs of user alice with a wrong password (one connection each,
// waiting for its CONNACK), for d, while a probe logged in as alice:s3cret
// publishes QoS 1 messages to itself every 10 ms and times each round
// trip (PUBLISH sent to PUBLISH received).
func runLoginFlood(t *testing.T, b *Broker, attackers int, d time.Duration) *loginFlood {
	t.Helper()
	probe := dialRaw(t, b)
	if got := probe.connect(&codec.Connect{ClientID: []byte("probe"), CleanStart: true, KeepAlive: 60,
		UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("s3cret")}).ReasonCode; got != codec.ReasonCode(codec.ConnackAccepted) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(codec.ConnackAccepted))
	}
	probe.subscribe(1, "probe/rt", 1)

	var (
		mu  sync.Mutex
		res = &loginFlood{codes: make(map[byte]int)}
		wg  sync.WaitGroup
	)
	stop := make(chan struct{})
	wrong := codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, ProtocolName: []byte("MQTT"), CleanStart: true,
		ClientID: []byte("flood"), UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("wrong")})
	for range attackers {
		wg.Go(func() {
			buf := make([]byte, 4)
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, ok := byte(0), false
				if nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second); err == nil {
					_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
					if _, err := nc.Write(wrong); err == nil {
						if _, err := io.ReadFull(nc, buf); err == nil && buf[0] == 0x20 {
							code, ok = buf[3], true
						}
					}
					_ = nc.Close()
				}
				mu.Lock()
				if ok {
					res.codes[code]++
				} else {
					res.failures++
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the flood is under way
	var pid uint16
	for end := time.Now().Add(d); time.Now().Before(end); {
		pid = pid%1000 + 1
		start := time.Now()
		probe.publish(&codec.Publish{Topic: []byte("probe/rt"), QoS: 1, PacketID: pid, Payload: []byte("x")})
		for got := false; !got; {
			pkt, err := probe.read(10 * time.Second)
			if err != nil {
				t.Fatal(err, "probe read")
			}
			switch codec.Type(pkt[0] >> 4) {
			case codec.TypePublish:
				got = true
				res.rtts = append(res.rtts, time.Since(start))
				p := decodePublish(t, pkt)
				probe.write(codec.AppendAck(nil, codec.V311, &codec.Ack{Type: codec.TypePuback, PacketID: p.PacketID}))
			case codec.TypePuback:
			default:
				t.Fatalf("probe got packet type %d", pkt[0]>>4)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	slices.Sort(res.rtts)
	return res
}

// TestLoginFloodKeepsLoopResponsive: a flood of wrong-password CONNECTs on
// a broker with one event loop leaves the round trips of a logged-in
// client on that loop fast, because the PBKDF2 checks run on the
// AuthWorkers goroutines, never more of them at once; the CONNECTs the
// full queue turns away get CONNACK 0x03 at once, are counted and logged.
func TestLoginFloodKeepsLoopResponsive(t *testing.T) {
	const workers, queue, attackers = 2, 4, 8
	var logs syncBuffer
	// Sixteen times the default iteration count: some 15 ms of PBKDF2 per
	// wrong password, which a loop running the checks could not hide.
	cr, err := auth.NewCredential([]byte("s3cret"), 16*auth.DefaultIterations)
	if err != nil {
		t.Fatal(err)
	}
	u, err := auth.ParseUsers(strings.NewReader(auth.FormatUserLine("alice", &cr)+"\n"), "users")
	if err != nil {
		t.Fatal(err)
	}
	a := &countingAuth{Users: u}
	b := startBroker(t, func(c *Config) {
		c.Loops = 1
		c.Authenticator = a
		c.AllowAnonymous = false
		c.AuthQueue = queue
		c.Logger = logTo(&logs)
	})
	quiet := runLoginFlood(t, b, 0, 2*time.Second)
	f := runLoginFlood(t, b, attackers, 3*time.Second)
	st := b.Stats()
	t.Logf("probe round trips: quiet p50 %v p99 %v max %v (%d); flood p50 %v p99 %v max %v (%d)",
		quiet.p(0.5), quiet.p(0.99), quiet.p(1), len(quiet.rtts), f.p(0.5), f.p(0.99), f.p(1), len(f.rtts))
	t.Logf("flood CONNACKs %v, without CONNACK %d; checks %d, at once at most %d; queue full %d",
		f.codes, f.failures, st.AuthChecks, a.peak.Load(), st.AuthQueueFull)

	// No check runs on the loop; and the probe's typical round trip stays
	// under one check's time (its tail depends on how loaded the machine
	// is: the flood's clients and the workers take both cores).
	if n := a.onLoop.Load(); n != 0 {
		t.Fatal(n, "password checks ran on the event loop")
	}
	if bound := 15 * time.Millisecond; f.p(0.5) >= bound {
		t.Fatal("probe p50 under the flood", f.p(0.5), "over", bound)
	}
	if !(a.peak.Load() >= 1 && a.peak.Load() <= workers) {
		t.Fatal("checks at once:", a.peak.Load(), "workers:", workers)
	}
	if f.codes[codec.ConnackBadUsernameOrPassword] <= 0 {
		t.Fatal("no wrong password refused", f.codes)
	}
	if f.codes[codec.ConnackServerUnavailable] <= 0 {
		t.Fatal("no CONNECT refused for the full queue", f.codes)
	}
	if len(f.codes) != 2 {
		t.Fatalf("%s: got %v, want %v", fmt.Sprint("CONNACK codes", f.codes), len(f.codes), 2)
	}
	if st.AuthQueueFull < uint64(f.codes[codec.ConnackServerUnavailable]) {
		t.Fatal("queue-full counter", st.AuthQueueFull)
	}
	if st.AuthChecks < uint64(f.codes[codec.ConnackBadUsernameOrPassword]) {
		t.Fatal("checks counter", st.AuthChecks)
	}
	lines := strings.Count(logs.String(), `level=WARN msg="login refused: password check queue full`)
	if !(lines >= 1 && lines <= 5) {
		t.Fatal("queue-full log lines (at most one a second over 3 s):", lines)
	}
	if strings.Contains(logs.String(), "wrong") {
		t.Fatal("password in the log")
	}
}

// startGatedBroker starts a one-loop broker whose Authenticator is a
// gatedAuth with one worker and room for queue waiting checks.
func startGatedBroker(t *testing.T, queue int, mod func(*Config)) (*Broker, *gatedAuth) {
	t.Helper()
	a := newGatedAuth()
	b := startBroker(t, func(c *Config) {
		c.Loops = 1
		c.Authenticator = a
		c.AuthWorkers, c.AuthQueue = 1, queue
		if mod != nil {
			mod(c)
		}
	})
	t.Cleanup(func() { close(a.release) }) // before Shutdown waits for the worker
	return b, a
}

// TestLoginCodesAfterCheck: a parked CONNECT gets its CONNACK from the
// check's verdict (v5 0x86, 3.1.1 0x04, or success), with every packet the
// client sent behind it then handled in order; a CONNECT finding the queue
// full gets v5 0x89 Server busy or 3.1.1 0x03 at once; a client that logs
// in anonymously meanwhile is served.
func TestLoginCodesAfterCheck(t *testing.T) {
	b, a := startGatedBroker(t, 0, nil)

	// The only worker is busy with this one: nothing waits in the queue.
	good := dialRaw(t, b)
	good.write(append(loginPacket("good", "alice", "good", false),
		codec.AppendSubscribe(nil, codec.V311, &codec.Subscribe{PacketID: 7,
			Filters: []codec.Subscription{{Filter: []byte("t"), QoS: 1}}})...))
	a.waitEntered(t, "alice")

	busy5 := dialRaw(t, b)
	busy5.write(loginPacket("busy5", "bob", "good", true))
	if got := busy5.readConnack(codec.V5); got != codec.ReasonServerBusy {
		t.Fatalf("got %v, want %v", got, codec.ReasonServerBusy)
	}
	busy5.expectClosed(3 * time.Second)
	busy3 := dialRaw(t, b)
	busy3.write(loginPacket("busy3", "bob", "good", false))
	if got := busy3.readConnack(codec.V311); got != codec.ReasonCode(codec.ConnackServerUnavailable) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(codec.ConnackServerUnavailable))
	}
	busy3.expectClosed(3 * time.Second)
	if got := b.Stats().AuthQueueFull; got != uint64(2) {
		t.Fatalf("got %v, want %v", got, uint64(2))
	}

	anon := dialRaw(t, b) // no user name: nothing to check
	if got := anon.connect(&codec.Connect{ClientID: []byte("anon"), CleanStart: true}).ReasonCode; got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}

	a.release <- struct{}{}
	if got := good.readConnack(codec.V311); got != codec.ReasonCode(codec.ConnackAccepted) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(codec.ConnackAccepted))
	}
	good.mustRead(codec.TypeSuback) // sent before the CONNACK, handled after it

	for _, v5 := range []bool{true, false} {
		bad := a.dialChecked(t, b, loginPacket("bad", "alice", "wrong", v5))
		a.release <- struct{}{}
		if v5 {
			if got := bad.readConnack(codec.V5); got != codec.ReasonBadUsernameOrPassword {
				t.Fatalf("got %v, want %v", got, codec.ReasonBadUsernameOrPassword)
			}
		} else {
			if got := bad.readConnack(codec.V311); got != codec.ReasonCode(codec.ConnackBadUsernameOrPassword) {
				t.Fatalf("got %v, want %v", got, codec.ReasonCode(codec.ConnackBadUsernameOrPassword))
			}
		}
		bad.expectClosed(3 * time.Second)
	}
	if got := b.Stats().AuthChecks; got != uint64(3) {
		t.Fatalf("got %v, want %v", got, uint64(3))
	}
	if got := b.Stats().ClientsConnected; got != int64(2) {
		t.Fatalf("got %v, want %v", got, int64(2))
	}
}

// TestLoginTakeoverAfterCheck: a parked CONNECT whose client id is online
// takes the session over once its check passes.
func TestLoginTakeoverAfterCheck(t *testing.T) {
	b, a := startGatedBroker(t, 4, nil)
	first := dialRaw(t, b)
	first.write(loginPacket("same", "alice", "good", false))
	a.waitEntered(t, "alice")
	a.release <- struct{}{}
	if got := first.readConnack(codec.V311); got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}

	second := dialRaw(t, b)
	second.write(loginPacket("same", "alice", "good", false))
	a.waitEntered(t, "alice")
	a.release <- struct{}{}
	if got := second.readConnack(codec.V311); got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	first.expectClosed(3 * time.Second) // [MQTT-3.1.4-2]
	if got := a.calls.Load(); got != int64(2) {
		t.Fatalf("got %v, want %v", got, int64(2))
	}
}

// TestLoginClientGoneDuringCheck: a client that closes while its check
// runs, or while it waits in the queue, or that is closed by the connect
// timeout meanwhile, is forgotten: the running check's verdict is dropped
// on the loop (no CONNACK, no session), the queued check never runs, and
// the broker goes on serving logins.
func TestLoginClientGoneDuringCheck(t *testing.T) {
	b, a := startGatedBroker(t, 4, func(c *Config) { c.ConnectTimeout = 300 * time.Millisecond })

	running := dialRaw(t, b)
	running.write(loginPacket("running", "alice", "good", false))
	a.waitEntered(t, "alice")
	queued := dialRaw(t, b)
	queued.write(loginPacket("queued", "bob", "good", false))
	timedOut := dialRaw(t, b)
	timedOut.write(loginPacket("slow", "carol", "good", false))
	waitFor(t, "three clients", func() bool { return b.open.Load() == 3 })
	if err := running.nc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := queued.nc.Close(); err != nil {
		t.Fatal(err)
	}
	timedOut.expectClosed(5 * time.Second) // the connect timeout counts while parked
	waitFor(t, "clients closed", func() bool { return b.open.Load() == 0 })

	a.release <- struct{}{} // running's verdict: accepted, for nobody
	waitFor(t, "verdict", func() bool { return b.Stats().AuthChecks == 1 })
	next := dialRaw(t, b)
	next.write(loginPacket("next", "dave", "good", false))
	a.waitEntered(t, "dave") // queued's and timedOut's checks were skipped
	a.release <- struct{}{}
	if got := next.readConnack(codec.V311); got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	if got := a.calls.Load(); got != int64(2) {
		t.Fatalf("got %v, want %v", got, int64(2))
	}
	if got := b.Stats().ClientsConnected; got != int64(1) {
		t.Fatalf("got %v, want %v", got, int64(1))
	}
	if got := b.sessions.len(); got != 1 {
		t.Fatalf("got %v, want %v", got, 1)
	}
}

// TestLoginParkedInputBound: a client that sends more than
// checkMaxBuffered bytes while its CONNECT waits for its check is closed,
// counted and logged; another client is served meanwhile.
func TestLoginParkedInputBound(t *testing.T) {
	var logs syncBuffer
	b, a := startGatedBroker(t, 4, func(c *Config) { c.Logger = logTo(&logs) })
	r := dialRaw(t, b)
	r.write(loginPacket("flooder", "alice", "good", false))
	a.waitEntered(t, "alice")
	junk := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("t"), Payload: make([]byte, 64<<10)})
	go func() { // the broker closes the connection mid-write
		for range 2 * checkMaxBuffered / len(junk) {
			if _, err := r.nc.Write(junk); err != nil {
				return
			}
		}
	}()
	r.expectClosed(5 * time.Second)
	if got := b.Stats().AuthInputOverflow; got != uint64(1) {
		t.Fatalf("got %v, want %v", got, uint64(1))
	}
	if !strings.Contains(logs.String(), "sent too much before its CONNACK") {
		t.Fatal("no log line")
	}

	other := dialRaw(t, b)
	if got := other.connect(&codec.Connect{ClientID: []byte("other"), CleanStart: true}).ReasonCode; got != codec.ReasonCode(0) {
		t.Fatalf("got %v, want %v", got, codec.ReasonCode(0))
	}
	a.release <- struct{}{}
	waitFor(t, "verdict", func() bool { return b.Stats().AuthChecks == 1 })
	if got := b.Stats().ClientsConnected; got != int64(1) {
		t.Fatalf("got %v, want %v", got, int64(1))
	}
}
