package engine

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/codec"
)

// interopACL is the ACL file the interop tests give Gust and Mosquitto
// alike: every rule kind (topic read, write, readwrite, deny and no
// access; the anonymous section; user sections; patterns with %c and %u;
// a pattern deny; deny after a grant).
const interopACL = `# anonymous clients
topic read pub/#
topic deny pub/secret
topic write anon/w

user watch
topic readwrite #

user alice
topic readwrite a/#
topic deny a/secret/#
topic write w/only
topic read r/only
topic both/alice

user bob
topic read b/#
topic readwrite x/#
topic deny x/y

pattern write b/%u
pattern readwrite x/%u/#
pattern readwrite c/%c/#
pattern read u/%u/in
pattern deny b/denied
`

// aclProbeTopics are published by watch and tried by every user.
var aclProbeTopics = []string{
	"pub/x", "pub/secret", "anon/w", "a/b", "a/secret/x", "w/only", "r/only", "both/alice",
	"b/x", "b/denied", "b/bob", "x/y", "x/z", "x/bob/1", "x/carol/1", "c/cid-alice/1", "c/cid-anon/1",
	"u/bob/in", "u/alice/in",
}

// aclFilters are the filters every user subscribes to.
var aclFilters = []string{
	"#", "pub/#", "pub/x", "pub/secret", "a/#", "a/+", "a/b", "b/#", "x/#", "x/+", "x/bob/#",
	"c/cid-alice/#", "c/+/1", "u/+/in", "u/bob/in", "r/only", "w/only", "+/+",
}

// aclUser is a client of the interop tests; pass "" is anonymous.
type aclUser struct{ name, pass, id string }

var aclUsers = []aclUser{
	{name: "", id: "cid-anon"},
	{name: "alice", pass: "alice-pw", id: "cid-alice"},
	{name: "bob", pass: "bob-pw", id: "cid-bob"},
	{name: "carol", pass: "carol-pw", id: "cid-carol"}, // no section: patterns only
}

// mosquittoPasswordFile writes a password file with mosquitto_passwd for
// watch and aclUsers, alternating its two hashes.
func mosquittoPasswordFile(t *testing.T, dir string) string {
	t.Helper()
	tool := mosquittoTool(t, "mosquitto_passwd")
	file := filepath.Join(dir, "passwd")
	users := append([]aclUser{{name: "watch", pass: "watch-pw"}}, aclUsers...)
	first := true
	for i, u := range users {
		if u.name == "" {
			continue
		}
		args := []string{"-b", file, u.name, u.pass}
		if i%2 == 1 {
			args = append([]string{"-H", "sha512"}, args...)
		}
		if first {
			args = append([]string{"-c"}, args...)
			first = false
		}
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v\n%s", args, err, out)
		}
	}
	return file
}

// startMosquittoACL starts the installed mosquitto broker on a free
// loopback port with the ACL and password files and returns its address.
func startMosquittoACL(t *testing.T, dir, acl, passwd string) string {
	t.Helper()
	bin := mosquittoTool(t, "mosquitto")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %s 127.0.0.1\nallow_anonymous true\nacl_file %s\npassword_file %s\npersistence false\n", port, acl, passwd)
	if os.Geteuid() == 0 {
		body += "user root\n" // else it drops to user mosquitto, who cannot read the test's files
	}
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// aclClient connects a paho.mqtt.golang 3.1.1 client as u to addr.
func aclClient(t *testing.T, addr string, u aclUser, onMsg mqtt.MessageHandler) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(u.id).SetProtocolVersion(4)
	o.SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(true)
	o.SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
	if u.name != "" {
		o.SetUsername(u.name).SetPassword(u.pass)
	}
	if onMsg != nil {
		o.SetDefaultPublishHandler(onMsg)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s connect to %s: %v", u.id, addr, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// set is a sorted list of distinct strings, safe from any goroutine.
type set struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *set) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]bool)
	}
	s.m[v] = true
}

func (s *set) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.m))
	for v := range s.m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// aclOutcome is what an ACL made of the interop scenario on one broker.
type aclOutcome struct {
	published []string            // "user>topic" that watch received
	granted   map[string]bool     // "user|filter": SUBACK granted
	received  map[string][]string // "user|filter": "retained:topic" and "live:topic" received
	wills     []string            // "user>topic" wills that watch received
	pubackV5  map[string]byte     // "user>topic": v5 PUBACK reason code
}

// aclQuiet is how long no message may arrive before the deliveries of a
// step are taken as complete.
const aclQuiet = 500 * time.Millisecond

// settle waits until n has not moved for aclQuiet (at most 15 s).
func settle(n *atomic.Int64) {
	last := n.Load()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		time.Sleep(aclQuiet)
		cur := n.Load()
		if cur == last {
			return
		}
		last = cur
	}
}

// runACLScenario plays the scenario against the broker at addr: every
// user publishes to every probe topic (watch, allowed all, tells which
// arrived); watch publishes them retained; every user subscribes to every
// filter on its own connection and collects the retained messages, then
// the live ones watch publishes; users leave wills on several topics and
// vanish.
func runACLScenario(t *testing.T, addr string) aclOutcome {
	out := aclOutcome{granted: map[string]bool{}, received: map[string][]string{}, pubackV5: map[string]byte{}}
	var pubs set
	var arrived atomic.Int64 // every message any client of the scenario received
	watch := aclClient(t, addr, aclUser{name: "watch", pass: "watch-pw", id: "watch"}, func(_ mqtt.Client, m mqtt.Message) {
		if !m.Retained() {
			pubs.add(string(m.Payload()) + ">" + m.Topic())
		}
		arrived.Add(1)
	})
	if tok := watch.Subscribe("#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("watch subscribe", tok.Error())
	}
	// Publishes, QoS 1 and 0, by every user.
	for _, u := range aclUsers {
		c := aclClient(t, addr, u, nil)
		for i, topic := range aclProbeTopics {
			tok := c.Publish(topic, byte(i%2), false, "by-"+u.id)
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("%s publish %s: %v", u.id, topic, tok.Error())
			}
		}
	}
	// v5 acknowledgements of alice's QoS 1 publishes.
	pc := dialPahoV5Addr(t, addr, "cid-alice-v5", func(cp *paho.Connect) {
		cp.UsernameFlag, cp.Username = true, "alice"
		cp.PasswordFlag, cp.Password = true, []byte("alice-pw")
	})
	for _, topic := range []string{"w/only", "r/only", "a/secret/x", "b/alice"} {
		out.pubackV5["alice>"+topic] = pubackCode(t, pc, topic, 1)
	}
	settle(&arrived)
	out.published = pubs.list()

	// Retained probes, then every user's subscriptions.
	for _, topic := range aclProbeTopics {
		if tok := watch.Publish(topic, 1, true, "r"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	recv := map[string]*set{}
	for _, u := range aclUsers {
		for _, f := range aclFilters {
			key := u.name + "|" + f
			s := &set{}
			recv[key] = s
			uu := u
			if !strings.HasPrefix(f, "c/") { // those test the %c pattern with the user's own id
				uu.id = fmt.Sprintf("%s-%d", u.id, len(recv))
			}
			c := aclClient(t, addr, uu, func(_ mqtt.Client, m mqtt.Message) {
				kind := "live:"
				if m.Retained() {
					kind = "retained:"
				}
				s.add(kind + m.Topic())
				arrived.Add(1)
			})
			tok := c.Subscribe(f, 0, nil)
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("%s subscribe %s: %v", key, f, tok.Error())
			}
			out.granted[key] = tok.(*mqtt.SubscribeToken).Result()[f] != codec.SubackFailureV3
		}
	}
	settle(&arrived)
	for _, topic := range aclProbeTopics {
		if tok := watch.Publish(topic, 1, false, "live"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	settle(&arrived)
	for k, s := range recv {
		out.received[k] = s.list()
	}

	// Wills.
	for _, w := range []struct {
		u     aclUser
		topic string
	}{
		{u: aclUsers[0], topic: "anon/w"}, {u: aclUsers[0], topic: "pub/will"},
		{u: aclUsers[1], topic: "a/will"}, {u: aclUsers[1], topic: "w/only"}, {u: aclUsers[1], topic: "r/only"},
		{u: aclUsers[1], topic: "a/secret/w"}, {u: aclUsers[2], topic: "b/bob"}, {u: aclUsers[2], topic: "b/denied"},
		{u: aclUsers[3], topic: "x/carol/w"}, {u: aclUsers[3], topic: "c/cid-carol-will/w"},
	} {
		vanishWithWill(t, addr, w.u, w.u.id+"-will", w.topic)
	}
	settle(&arrived)
	for _, p := range pubs.list() {
		if rest, ok := strings.CutPrefix(p, "will-"); ok {
			out.wills = append(out.wills, rest)
		}
	}
	return out
}

// vanishWithWill connects as u with client id id and a will on topic
// (payload "will-<user>"), then closes the socket without DISCONNECT.
func vanishWithWill(t *testing.T, addr string, u aclUser, id, topic string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cp := codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, CleanStart: true, KeepAlive: 30,
		ClientID: []byte(id), WillFlag: true, WillTopic: []byte(topic), WillPayload: []byte("will-" + u.name)}
	if u.name != "" {
		cp.UsernameFlag, cp.Username = true, []byte(u.name)
		cp.PasswordFlag, cp.Password = true, []byte(u.pass)
	}
	if _, err := nc.Write(codec.AppendConnect(nil, &cp)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack := make([]byte, 4)
	if _, err := bufio.NewReader(nc).Read(ack); err != nil || ack[3] != 0 {
		t.Fatalf("%s: CONNACK %x, %v", id, ack, err)
	}
}

// pubackCode publishes to topic at qos (1 or 2) with pc and returns the
// reason code of the PUBACK or PUBREC.
func pubackCode(t *testing.T, pc *pahoV5, topic string, qos byte) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := pc.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte("v5")})
	if r == nil {
		t.Fatalf("publish %s: %v", topic, err) // no acknowledgement at all
	}
	return r.ReasonCode
}

// dialPahoV5Addr is dialPahoV5 for any broker address.
func dialPahoV5Addr(t *testing.T, addr, id string, mod func(*paho.Connect)) *pahoV5 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pc := &pahoV5{msgs: make(chan *paho.Publish, 1024), discs: make(chan *paho.Disconnect, 1)}
	pc.c = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			pc.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case pc.discs <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	})
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if mod != nil {
		mod(cp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if pc.ack, err = pc.c.Connect(ctx, cp); err != nil || pc.ack.ReasonCode != 0 {
		t.Fatalf("paho v5 connect %s: %v %+v", id, err, pc.ack)
	}
	t.Cleanup(func() {
		_ = pc.c.Disconnect(&paho.Disconnect{})
		_ = nc.Close()
	})
	return pc
}

// TestInteropACLSameAsMosquitto runs one ACL file and one password file
// made by mosquitto_passwd on Gust and on the installed Mosquitto, and
// compares what every user could publish, its v5 acknowledgements, what
// every subscription received (retained and live), and which wills went
// out. The one documented difference: Mosquitto grants every SUBSCRIBE
// and filters at delivery, Gust refuses a filter of which no topic is
// readable; so what Mosquitto delivers to such a filter must be nothing.
func TestInteropACLSameAsMosquitto(t *testing.T) {
	dir := t.TempDir()
	passwd := mosquittoPasswordFile(t, dir)
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte(interopACL), 0o600); err != nil {
		t.Fatal(err)
	}
	mosq := runACLScenario(t, startMosquittoACL(t, dir, acl, passwd))
	b := startBroker(t, func(c *Config) {
		c.ACLFile, c.PasswordFile, c.AllowAnonymous = acl, passwd, true
	})
	gust := runACLScenario(t, b.Addr().String())

	if !slices.Equal(gust.published, mosq.published) {
		t.Errorf("publishes that went through differ:\n gust      %v\n mosquitto %v", gust.published, mosq.published)
	}
	if len(gust.published) == 0 || len(gust.published) == len(aclUsers)*len(aclProbeTopics) {
		t.Errorf("%d of %d publishes went through: the scenario tests nothing", len(gust.published), len(aclUsers)*len(aclProbeTopics))
	}
	for k, rc := range mosq.pubackV5 {
		if gust.pubackV5[k] != rc {
			t.Errorf("v5 PUBACK %s: gust %#x, mosquitto %#x", k, gust.pubackV5[k], rc)
		}
	}
	if !slices.Equal(gust.wills, mosq.wills) {
		t.Errorf("wills published differ:\n gust      %v\n mosquitto %v", gust.wills, mosq.wills)
	}
	granted, refused := 0, 0
	for _, u := range aclUsers {
		for _, f := range aclFilters {
			k := u.name + "|" + f
			g, m := gust.received[k], mosq.received[k]
			if gust.granted[k] {
				granted++
				if !slices.Equal(g, m) {
					t.Errorf("%s received differs:\n gust      %v\n mosquitto %v", k, g, m)
				}
				continue
			}
			refused++
			if len(g) > 0 {
				t.Errorf("%s refused on Gust but received %v", k, g)
			}
			if len(m) > 0 {
				t.Errorf("%s: refused on Gust, but Mosquitto granted it and delivered %v", k, m)
			}
		}
	}
	if granted == 0 || refused == 0 {
		t.Errorf("%d filters granted, %d refused: the scenario tests nothing", granted, refused)
	}
}

// startACLBroker starts Gust with interopACL and a password file for
// watch, alice, bob and carol (SCRAM credentials), anonymous clients allowed.
func startACLBroker(t *testing.T, mod func(*Config)) (*Broker, string) {
	t.Helper()
	acl := writeACLFile(t, interopACL)
	users := writeUsersFile(t, "alice", "alice-pw", "bob", "bob-pw", "carol", "carol-pw", "watch", "watch-pw")
	b := startBroker(t, func(c *Config) {
		c.ACLFile, c.PasswordFile, c.AllowAnonymous = acl, users, true
		if mod != nil {
			mod(c)
		}
	})
	return b, acl
}

// mosqSubDebug runs mosquitto_sub -d with args for a second and returns
// its output.
func mosqSubDebug(t *testing.T, b *Broker, args ...string) string {
	t.Helper()
	tool := mosquittoTool(t, "mosquitto_sub")
	h, p := hostPort(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, tool, append([]string{"-h", h, "-p", p, "-d", "-W", "1"}, args...)...).CombinedOutput()
	return string(out)
}

// TestInteropACLMosquittoClients: with mosquitto_sub and mosquitto_pub
// (3.1.1): a refused filter gets SUBACK 0x80 and a granted one its QoS; a
// denied QoS 0, 1 or 2 PUBLISH is acknowledged as usual (mosquitto_pub
// succeeds) but not delivered; a will on a topic its client may not write
// is not published, one it may write is.
func TestInteropACLMosquittoClients(t *testing.T) {
	b, _ := startACLBroker(t, nil)
	alice := []string{"-u", "alice", "-P", "alice-pw"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{args: append([]string{"-t", "a/b/#", "-q", "1"}, alice...), want: "Subscribed (mid: 1): 1"},
		{args: append([]string{"-t", "a/#"}, alice...), want: "Subscribed (mid: 1): 0"}, // a/secret/# withheld at delivery
		{args: append([]string{"-t", "a/secret/#"}, alice...), want: "Subscribed (mid: 1): 128"},
		{args: append([]string{"-t", "w/only"}, alice...), want: "Subscribed (mid: 1): 128"},
		{args: []string{"-t", "pub/x", "-q", "2"}, want: "Subscribed (mid: 1): 2"},
		{args: []string{"-t", "pub/secret"}, want: "Subscribed (mid: 1): 128"},
		{args: []string{"-t", "u/bob/in", "-u", "bob", "-P", "bob-pw"}, want: "Subscribed (mid: 1): 0"}, // pattern %u
		{args: []string{"-t", "u/bob/in", "-u", "carol", "-P", "carol-pw"}, want: "Subscribed (mid: 1): 128"},
	} {
		if out := mosqSubDebug(t, b, tc.args...); !strings.Contains(out, tc.want) {
			t.Errorf("mosquitto_sub %v: want %q in\n%s", tc.args, tc.want, out)
		}
	}

	// alice reads a/b/#; bob publishes there (denied: his section reads
	// b/# and x/#, no pattern grants a/...), then alice herself (granted).
	wait := mosqSub(t, b, append([]string{"-t", "a/b/#", "-q", "2", "-v", "-C", "1", "-W", "10"}, alice...)...)
	waitSubscribed(t, b, 1)
	for _, q := range []string{"0", "1", "2"} {
		mosqPub(t, b, "-u", "bob", "-P", "bob-pw", "-t", "a/b/c", "-q", q, "-m", "denied-"+q)
	}
	mosqPub(t, b, append([]string{"-t", "a/b/c", "-q", "1", "-m", "granted"}, alice...)...)
	if got := wait(); len(got) != 1 || got[0] != "a/b/c granted" {
		t.Errorf("alice received %q, want only the granted message", got)
	}

	// alice's a/# is granted with a read check of each delivery: watch's
	// a/secret/x is withheld, a/x delivered.
	waitFor(t, "alice's subscription gone", func() bool { return b.subCount.Load() == 0 })
	wait = mosqSub(t, b, append([]string{"-t", "a/#", "-v", "-C", "1", "-W", "10"}, alice...)...)
	waitSubscribed(t, b, 1)
	mosqPub(t, b, "-u", "watch", "-P", "watch-pw", "-t", "a/secret/x", "-q", "1", "-m", "withheld")
	mosqPub(t, b, "-u", "watch", "-P", "watch-pw", "-t", "a/x", "-q", "1", "-m", "read")
	if got := wait(); len(got) != 1 || got[0] != "a/x read" {
		t.Errorf("alice (a/#) received %q, want only a/x", got)
	}

	// Wills: alice may write w/only but not r/only; watch reads both.
	tool := mosquittoTool(t, "mosquitto_sub")
	h, p := hostPort(t, b)
	waitFor(t, "alice's subscription gone", func() bool { return b.subCount.Load() == 0 })
	wills := mosqSub(t, b, "-u", "watch", "-P", "watch-pw", "-t", "w/only", "-t", "r/only", "-v", "-W", "3")
	waitSubscribed(t, b, 2)
	for _, topic := range []string{"w/only", "r/only"} {
		victim := exec.Command(tool, append([]string{"-h", h, "-p", p, "-t", "a/b/x", "--will-topic", topic,
			"--will-payload", "bye", "-i", "victim-" + strings.ReplaceAll(topic, "/", "-")}, alice...)...)
		if err := victim.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the victim subscribed", func() bool { return b.subCount.Load() == 3 })
		_ = victim.Process.Kill()
		_ = victim.Wait()
		waitFor(t, "the victim gone", func() bool { return b.subCount.Load() == 2 })
	}
	if got := wills(); len(got) != 1 || got[0] != "w/only bye" {
		t.Errorf("wills published %q, want only w/only's", got)
	}
}

// TestInteropACLPahoV5: with paho.golang (MQTT 5) a refused filter gets
// SUBACK 0x87, a denied QoS 1 PUBLISH PUBACK 0x87 and QoS 2 PUBREC 0x87; a
// denied QoS 0 PUBLISH is dropped and the connection stays; nothing the
// subscriber may not read reaches it through a filter granted with a read
// check (a/# beside a/secret/#), retained messages and shared
// subscriptions included, and the withheld deliveries are counted.
func TestInteropACLPahoV5(t *testing.T) {
	b, _ := startACLBroker(t, nil)
	addr := b.Addr().String()
	login := func(user string) func(*paho.Connect) {
		return func(cp *paho.Connect) {
			cp.UsernameFlag, cp.Username = true, user
			cp.PasswordFlag, cp.Password = true, []byte(user+"-pw")
		}
	}
	watch := dialPahoV5Addr(t, addr, "watch", login("watch"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Retained messages alice may and may not read.
	for _, topic := range []string{"a/b/r", "a/secret/r"} {
		if _, err := watch.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: []byte("r")}); err != nil {
			t.Fatal(err)
		}
	}
	alice := dialPahoV5Addr(t, addr, "alice", login("alice"))
	sa, err := alice.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "a/b/#", QoS: 1}, {Topic: "a/#", QoS: 1}, {Topic: "w/only"}, {Topic: "$share/g/a/b/+", QoS: 1}, {Topic: "$share/g/a/#"},
	}})
	if sa == nil {
		t.Fatal(err) // an error also reports the refused filters, with the SUBACK
	}
	if want := []byte{1, 1, 0x87, 1, 0}; !slices.Equal(sa.Reasons, want) {
		t.Errorf("SUBACK reasons %#x, want %#x", sa.Reasons, want)
	}
	// a/b/r through a/b/# and through a/#; a/secret/r through neither.
	for range 2 {
		if m := alice.next(t, 5*time.Second); m.Topic != "a/b/r" || !m.Retain {
			t.Errorf("retained %q (retain %v), want a/b/r", m.Topic, m.Retain)
		}
	}
	if _, err := watch.c.Publish(ctx, &paho.Publish{Topic: "a/secret/live", QoS: 1, Payload: []byte("withheld")}); err != nil {
		t.Fatal(err)
	}

	bob := dialPahoV5Addr(t, addr, "bob", login("bob"))
	for _, tc := range []struct {
		topic string
		qos   byte
		want  byte
	}{
		{topic: "a/b/1", qos: 1, want: 0x87},
		{topic: "a/b/2", qos: 2, want: 0x87},
		{topic: "x/z", qos: 1, want: 0},
		{topic: "x/y", qos: 2, want: 0x87},
	} {
		if got := pubackCode(t, bob, tc.topic, tc.qos); got != tc.want {
			t.Errorf("bob QoS %d to %s: reason %#x, want %#x", tc.qos, tc.topic, got, tc.want)
		}
	}
	if _, err := bob.c.Publish(ctx, &paho.Publish{Topic: "a/b/0", Payload: []byte("q0")}); err != nil {
		t.Fatal(err)
	}
	if got := pubackCode(t, alice, "a/b/ok", 1); got != 0 {
		t.Fatalf("alice's own publish: reason %#x", got)
	}
	// alice gets her own message three times (through a/b/# and a/#
	// merged, the shared a/b/+ and the shared a/#), nothing of bob's and
	// not watch's a/secret/live.
	var topics []string
	for done := false; !done; {
		select {
		case m := <-alice.msgs:
			topics = append(topics, m.Topic)
		case d := <-bob.discs:
			t.Fatalf("bob disconnected: %#x", d.ReasonCode)
		case <-time.After(500 * time.Millisecond):
			done = true
		}
	}
	if want := []string{"a/b/ok", "a/b/ok", "a/b/ok"}; !slices.Equal(topics, want) {
		t.Errorf("alice received %q, want %q", topics, want)
	}
	st, err := b.LoopStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var withheld uint64
	for _, l := range st {
		withheld += l.ACLReadDenied
	}
	if withheld == 0 {
		t.Error("no delivery counted as withheld by the read check")
	}
}

// TestACLReload: ReloadACLFile applies new rules to connected clients at
// their next PUBLISH (the cached decisions are dropped); a bad file keeps
// the previous rules and is logged with its name and line.
func TestACLReload(t *testing.T) {
	var logs syncBuffer
	b, acl := startACLBroker(t, func(c *Config) { c.Logger = logTo(&logs) })
	addr := b.Addr().String()
	watch := aclClient(t, addr, aclUser{name: "watch", pass: "watch-pw", id: "watch"}, nil)
	got := make(chan string, 16)
	if tok := watch.Subscribe("#", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	carol := aclClient(t, addr, aclUser{name: "carol", pass: "carol-pw", id: "carol"}, nil)
	publishes := func(topic string) bool {
		t.Helper()
		if tok := carol.Publish(topic, 1, false, "x"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		// A marker from the same connection arrives after the message,
		// if that went through: routing keeps one publisher's order.
		if tok := carol.Publish("x/carol/sync", 1, false, "x"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		arrived := false
		for {
			select {
			case tp := <-got:
				if tp == "x/carol/sync" {
					return arrived
				}
				arrived = arrived || tp == topic
			case <-time.After(5 * time.Second):
				t.Fatal("marker message lost")
			}
		}
	}
	if publishes("new/carol") {
		t.Fatal("carol published to new/carol before the reload")
	}
	if !publishes("x/carol/1") {
		t.Fatal("carol could not publish to x/carol/1")
	}
	if err := os.WriteFile(acl, []byte(interopACL+"user carol\ntopic write new/carol\ntopic deny x/carol/1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.ReloadACLFile(); err != nil {
		t.Fatal(err)
	}
	if !publishes("new/carol") || publishes("x/carol/1") {
		t.Fatal("the reloaded rules are not applied to a connected client")
	}

	if err := os.WriteFile(acl, []byte("user carol\ntopic write #\ntopic sometimes x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.ReloadACLFile(); err == nil {
		t.Fatal("a bad file reloaded")
	}
	if l := logs.String(); !strings.Contains(l, "acl file not reloaded") || !strings.Contains(l, acl+":3:") {
		t.Errorf("bad file not logged with its line:\n%s", l)
	}
	if publishes("a/b") || !publishes("new/carol") {
		t.Error("a bad file changed the rules")
	}
}

// TestPasswordFileEmptyWarns: a password file without users starts, with
// a warning saying that every login with a user name will be refused.
func TestPasswordFileEmptyWarns(t *testing.T) {
	var logs syncBuffer
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	startBroker(t, func(c *Config) { c.PasswordFile, c.Logger = path, logTo(&logs) })
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "password file has no users") {
		t.Errorf("no warning for an empty password file:\n%s", l)
	}
}

// TestInteropMosquittoPasswdLogin: mosquitto_pub logs in to Gust with a
// password file written by mosquitto_passwd, in both its hashes, and a
// wrong password is refused.
func TestInteropMosquittoPasswdLogin(t *testing.T) {
	passwd := mosquittoPasswordFile(t, t.TempDir())
	b := startBroker(t, func(c *Config) { c.PasswordFile, c.AllowAnonymous = passwd, false })
	for _, u := range aclUsers[1:] { // alice ($7$), bob ($6$), carol ($7$)
		mosqPub(t, b, "-u", u.name, "-P", u.pass, "-t", "pw/m", "-m", "x", "-q", "1")
	}
	tool := mosquittoTool(t, "mosquitto_pub")
	h, p := hostPort(t, b)
	out, err := exec.Command(tool, "-h", h, "-p", p, "-u", "alice", "-P", "wrong", "-t", "pw/m", "-m", "x").CombinedOutput()
	if err == nil {
		t.Fatalf("wrong password accepted: %s", out)
	}
}

// aclSubscriber connects u (clean session as given) and subscribes to
// filter at QoS 1; received topics arrive on the channel.
func aclSubscriber(t *testing.T, addr string, u aclUser, clean bool, filter string) (mqtt.Client, chan string) {
	t.Helper()
	got := make(chan string, 64)
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(u.id).SetProtocolVersion(4)
	o.SetAutoReconnect(false).SetConnectRetry(false).SetCleanSession(clean).SetConnectTimeout(5 * time.Second)
	o.SetUsername(u.name).SetPassword(u.pass)
	o.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() })
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	if filter != "" {
		tok := c.Subscribe(filter, 1, nil)
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil || tok.(*mqtt.SubscribeToken).Result()[filter] != 1 {
			t.Fatalf("subscribe %s: %v", filter, tok.Error())
		}
	}
	return c, got
}

// expectTopics publishes each topic from watch and returns the ones that
// reached got within a short while.
func expectTopics(t *testing.T, watch mqtt.Client, got chan string, topics ...string) []string {
	t.Helper()
	for _, tp := range topics {
		if tok := watch.Publish(tp, 1, false, "x"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	var out []string
	for {
		select {
		case tp := <-got:
			out = append(out, tp)
		case <-time.After(500 * time.Millisecond):
			sort.Strings(out)
			return out
		}
	}
}

// TestACLReloadRevokesSubscriptions: a reload that takes a read right away
// drops the subscriptions of connected clients it covered; the others
// stay.
func TestACLReloadRevokesSubscriptions(t *testing.T) {
	b, acl := startACLBroker(t, nil)
	addr := b.Addr().String()
	watch := aclClient(t, addr, aclUser{name: "watch", pass: "watch-pw", id: "watch"}, nil)
	_, got := aclSubscriber(t, addr, aclUsers[1], true, "a/b/#")
	_, got2 := aclSubscriber(t, addr, aclUsers[2], true, "x/z")
	if r := expectTopics(t, watch, got, "a/b/1"); !slices.Equal(r, []string{"a/b/1"}) {
		t.Fatalf("before the reload alice got %q", r)
	}
	if err := os.WriteFile(acl, []byte(strings.Replace(interopACL, "topic readwrite a/#", "topic readwrite a/c/#", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.ReloadACLFile(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice's subscription dropped", func() bool { return b.subCount.Load() == 1 })
	if r := expectTopics(t, watch, got, "a/b/2"); len(r) != 0 {
		t.Errorf("after the reload alice got %q", r)
	}
	if r := expectTopics(t, watch, got2, "x/z"); !slices.Equal(r, []string{"x/z"}) {
		t.Errorf("bob's granted subscription lost: %q", r)
	}
}

// TestACLResumedSessionRechecked: a persistent session resumed by another
// user with the same client id keeps only the subscriptions that user may
// read.
func TestACLResumedSessionRechecked(t *testing.T) {
	b, _ := startACLBroker(t, nil)
	addr := b.Addr().String()
	watch := aclClient(t, addr, aclUser{name: "watch", pass: "watch-pw", id: "watch"}, nil)
	alice := aclUser{name: "alice", pass: "alice-pw", id: "shared-id"}
	c, _ := aclSubscriber(t, addr, alice, false, "a/b/#")
	tok := c.Subscribe("x/z", 1, nil)
	if !tok.WaitTimeout(5*time.Second) || tok.(*mqtt.SubscribeToken).Result()["x/z"] != 0x80 {
		t.Fatal("alice granted x/z")
	}
	c.Disconnect(0)
	waitOffline(t, b, "shared-id")
	bob := aclUser{name: "bob", pass: "bob-pw", id: "shared-id"}
	_, got := aclSubscriber(t, addr, bob, false, "x/z")
	if r := expectTopics(t, watch, got, "a/b/1", "x/z"); !slices.Equal(r, []string{"x/z"}) {
		t.Errorf("bob, resuming alice's session, got %q, want only x/z", r)
	}
}

// TestACLReadCheckAfterRestart: a persistent session's a/# (granted with a
// read check beside alice's a/secret/# deny) survives a restart; what is
// queued for it while it is offline after the restart, before any client
// of it is there to check, is checked when alice resumes: a/x arrives,
// a/secret/x does not.
func TestACLReadCheckAfterRestart(t *testing.T) {
	acl := writeACLFile(t, interopACL)
	users := writeUsersFile(t, "alice", "alice-pw", "watch", "watch-pw")
	dir := t.TempDir()
	conf := func(c *Config) {
		c.ACLFile, c.PasswordFile, c.AllowAnonymous = acl, users, true
		c.Store, c.DataDir = StoreDisk, dir
	}
	alice := aclUser{name: "alice", pass: "alice-pw", id: "alice-durable"}
	b := startBrokerNoCleanup(t, conf)
	c, _ := aclSubscriber(t, b.Addr().String(), alice, false, "a/#")
	c.Disconnect(0)
	waitOffline(t, b, alice.id)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	b = startBroker(t, conf)
	addr := b.Addr().String()
	watch := aclClient(t, addr, aclUser{name: "watch", pass: "watch-pw", id: "watch"}, nil)
	for _, tp := range []string{"a/secret/x", "a/x"} {
		if tok := watch.Publish(tp, 1, false, "queued"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	_, got := aclSubscriber(t, addr, alice, false, "")
	var topics []string
	for done := false; !done; {
		select {
		case tp := <-got:
			topics = append(topics, tp)
		case <-time.After(time.Second):
			done = true
		}
	}
	if !slices.Equal(topics, []string{"a/x"}) {
		t.Errorf("alice resumed and received %q, want [a/x]", topics)
	}
}

// TestACLDenyReasonUnspecified: with acl_deny_reason unspecified an MQTT 5
// client (paho.golang) gets 0x80 without a Reason String for a refused
// filter and a denied QoS 1 PUBLISH, where not-authorized gives 0x87 with
// one.
func TestACLDenyReasonUnspecified(t *testing.T) {
	for _, tc := range []struct {
		reason string
		code   byte
		text   bool
	}{
		{reason: ACLDenyNotAuthorized, code: 0x87, text: true},
		{reason: ACLDenyUnspecified, code: 0x80},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			b, _ := startACLBroker(t, func(c *Config) { c.ACLDenyReason = tc.reason })
			bob := dialPahoV5Addr(t, b.Addr().String(), "bob", func(cp *paho.Connect) {
				cp.UsernameFlag, cp.Username = true, "bob"
				cp.PasswordFlag, cp.Password = true, []byte("bob-pw")
			})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			sa, _ := bob.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "a/#", QoS: 1}}})
			if sa == nil || len(sa.Reasons) != 1 || sa.Reasons[0] != tc.code {
				t.Fatalf("SUBACK %+v, want reason %#x", sa, tc.code)
			}
			if got := sa.Properties != nil && sa.Properties.ReasonString != ""; got != tc.text {
				t.Errorf("SUBACK Reason String present %v, want %v", got, tc.text)
			}
			r, _ := bob.c.Publish(ctx, &paho.Publish{Topic: "a/b", QoS: 1, Payload: []byte("x")})
			if r == nil || r.ReasonCode != tc.code {
				t.Fatalf("PUBACK %+v, want reason %#x", r, tc.code)
			}
			if got := r.Properties != nil && r.Properties.ReasonString != ""; got != tc.text {
				t.Errorf("PUBACK Reason String present %v, want %v", got, tc.text)
			}
		})
	}
}
