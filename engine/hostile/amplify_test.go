package hostile

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// Amplification attacks: a few kilobytes or megabytes sent that the broker
// would turn into hundreds of megabytes held (per-loop match cache, deep
// topics, outgoing topic aliases, User Properties) or into seconds of one
// loop's time (a SUBSCRIBE repeating one filter over many retained
// messages). Each test runs the attack against `gust serve` with its
// defaults (plus the flags named), asserts the RSS growth and that a probe
// client keeps its round trips, and logs Mosquitto's figures with
// GUST_HOSTILE_PEER set.

// amplifyBound is the RSS growth an amplification attack may cause.
const amplifyBound = 50 << 20

// amplification is one attack: setup builds the state it needs (not
// counted in the RSS growth), attack sends it.
type amplification struct {
	setup  func(t *testing.T, addr string)
	attack func(t *testing.T, b *broker)
}

// ampResult is what one run of an amplification measured.
type ampResult struct {
	growth int64 // peak RSS during the attack minus RSS before it
	after  int64 // RSS a moment after the attack, minus RSS before it
	took   time.Duration
	probe  probeStats
}

func (r ampResult) String() string {
	return fmt.Sprintf("RSS +%s peak, +%s after; attack took %v; probe %v",
		mib(r.growth), mib(r.after), r.took.Round(time.Millisecond), r.probe)
}

// runAmplification runs a on b while a probe does its round trips.
func runAmplification(t *testing.T, b *broker, a amplification) ampResult {
	t.Helper()
	if a.setup != nil {
		a.setup(t, b.Addr)
	}
	p := startProbe(t, b.Addr)
	time.Sleep(200 * time.Millisecond)
	s := sampleRSS(b)
	start := time.Now()
	a.attack(t, b)
	took := time.Since(start)
	time.Sleep(500 * time.Millisecond) // let the broker finish what it was sent
	// The probe must still be served after the attack.
	before := p.Received()
	deadline := time.Now().Add(10 * time.Second)
	for p.Received() < before+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	rss0, peak := s.Stop()
	return ampResult{growth: peak - rss0, after: b.RSS() - rss0, took: took, probe: p.Stop()}
}

// checkAmplification asserts r against the bound and that the probe was
// served throughout.
func checkAmplification(t *testing.T, b *broker, r ampResult) {
	t.Helper()
	if !b.Alive() {
		t.Fatalf("broker died:\n%s", tail(b.Log(), 4000))
	}
	if r.growth > amplifyBound {
		t.Errorf("RSS grew by %s, want < %s", mib(r.growth), mib(amplifyBound))
	}
	if r.probe.Received < 5 || r.probe.Errors > 0 {
		t.Errorf("probe not served: %v", r.probe)
	}
}

// peer runs a against Mosquitto when GUST_HOSTILE_PEER is set and logs
// its figures.
func peer(t *testing.T, a amplification) {
	if !peerWanted() {
		return
	}
	m := startMosquitto(t)
	t.Logf("mosquitto: %v", runAmplification(t, m, a))
}

// attackErr ends an attack that could not go on: the test fails against
// gust; against a peer, which may refuse what gust accepts, it is logged.
func attackErr(t *testing.T, b *broker, what string, err error) {
	t.Helper()
	if b.name == "gust" {
		t.Fatalf("%s: %v", what, err)
	}
	t.Logf("%s: %s: %v", b.name, what, err)
}

// mqttConn is a raw client connection.
type mqttConn struct {
	net.Conn
	v codec.Version
}

// dialMQTT connects with CONNECT p and returns the connection and the
// CONNACK reason code. Safe from any goroutine (errors are returned).
func dialMQTT(addr string, p *codec.Connect) (*mqttConn, codec.ReasonCode, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, 0, err
	}
	if p.ProtocolName == nil {
		p.ProtocolName = []byte("MQTT")
	}
	if _, err := c.Write(codec.AppendConnect(nil, p)); err != nil {
		c.Close()
		return nil, 0, err
	}
	pkt, err := readPacketErr(c, 10*time.Second)
	if err != nil {
		c.Close()
		return nil, 0, fmt.Errorf("CONNACK: %w", err)
	}
	var ack codec.Connack
	if _, err := codec.DecodeConnack(pkt, p.Version, &ack); err != nil {
		c.Close()
		return nil, 0, fmt.Errorf("CONNACK: %w", err)
	}
	return &mqttConn{Conn: c, v: p.Version}, ack.ReasonCode, nil
}

// connectOK is dialMQTT that fails the test unless the CONNACK accepts,
// and closes the connection at the end of the test. Test goroutine only.
func connectOK(t *testing.T, addr string, p *codec.Connect) *mqttConn {
	t.Helper()
	c, rc, err := dialMQTT(addr, p)
	if err != nil {
		t.Fatalf("connect %s: %v", p.ClientID, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if rc != 0 {
		t.Fatalf("connect %s: CONNACK 0x%02x", p.ClientID, byte(rc))
	}
	return c
}

func v3Connect(id string, clean bool) *codec.Connect {
	return &codec.Connect{Version: codec.V311, CleanStart: clean, KeepAlive: 60, ClientID: []byte(id)}
}

func v5Connect(id string) *codec.Connect {
	return &codec.Connect{Version: codec.V5, CleanStart: true, KeepAlive: 60, ClientID: []byte(id)}
}

// subscribe sends one SUBSCRIBE and returns the SUBACK's codes.
func (c *mqttConn) subscribe(pid uint16, qos byte, filters ...string) ([]codec.ReasonCode, error) {
	p := codec.Subscribe{PacketID: pid}
	for _, f := range filters {
		p.Filters = append(p.Filters, codec.Subscription{Filter: []byte(f), QoS: qos})
	}
	if _, err := c.Write(codec.AppendSubscribe(nil, c.v, &p)); err != nil {
		return nil, err
	}
	for {
		pkt, err := readPacketErr(c, 20*time.Second)
		if err != nil {
			return nil, err
		}
		if codec.Type(pkt[0]>>4) != codec.TypeSuback {
			continue // retained messages may come first
		}
		var ack codec.Suback
		if _, err := codec.DecodeSuback(pkt, c.v, &ack); err != nil {
			return nil, err
		}
		return ack.ReasonCodes, nil
	}
}

// publish sends a PUBLISH.
func (c *mqttConn) publish(p *codec.Publish) error {
	_, err := c.Write(codec.AppendPublish(nil, c.v, p))
	return err
}

// closed reads until the broker closes c and returns the reason code of
// the v5 DISCONNECT it sent first (0 if none) and the other packet types
// it sent meanwhile.
func (c *mqttConn) closed(timeout time.Duration) (codec.ReasonCode, []codec.Type, error) {
	var rc codec.ReasonCode
	var seen []codec.Type
	for {
		pkt, err := readPacketErr(c, timeout)
		if errors.Is(err, io.EOF) || err != nil && strings.Contains(err.Error(), "reset") {
			return rc, seen, nil
		}
		if err != nil {
			return rc, seen, err
		}
		typ := codec.Type(pkt[0] >> 4)
		if typ == codec.TypeDisconnect && c.v == codec.V5 {
			var d codec.Disconnect
			if _, err := codec.DecodeDisconnect(pkt, c.v, &d); err == nil {
				rc = d.ReasonCode
			}
			continue
		}
		seen = append(seen, typ)
	}
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(n, workers int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// offlineSubscribers leaves n offline persistent sessions subscribed to
// filter at qos.
func offlineSubscribers(t *testing.T, addr, prefix, filter string, qos byte, n int) {
	t.Helper()
	err := parallel(n, 8, func(i int) error {
		c, rc, err := dialMQTT(addr, v3Connect(fmt.Sprintf("%s-%d", prefix, i), false))
		if err != nil {
			return err
		}
		defer c.Close()
		if rc != 0 {
			return fmt.Errorf("CONNACK 0x%02x", byte(rc))
		}
		if _, err := c.subscribe(1, qos, filter); err != nil {
			return err
		}
		_, err = c.Write(codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
		return err
	})
	if err != nil {
		t.Fatalf("offline subscribers: %v", err)
	}
}

// TestAmplifyMatchCacheFanout: 10,000 offline QoS 0 subscriptions on
// amp/#, then 1-byte publishes to distinct topics. Each match result has
// 10,000 deliveries (400 KB); the per-loop match cache must not keep one
// per topic.
func TestAmplifyMatchCacheFanout(t *testing.T) {
	const subs, pubs = 10000, 2000
	a := amplification{
		setup: func(t *testing.T, addr string) { offlineSubscribers(t, addr, "amp", "amp/#", 0, subs) },
		attack: func(t *testing.T, b *broker) {
			c := connectOK(t, b.Addr, v3Connect("amp-pub", true))
			for i := 0; i < pubs; i++ {
				if err := c.publish(&codec.Publish{Topic: fmt.Appendf(nil, "amp/%d", i), Payload: []byte{'x'}}); err != nil {
					t.Fatal(err)
				}
			}
			pingRoundTrip(t, c)
		},
	}
	b := startBroker(t, brokerOpts{})
	r := runAmplification(t, b, a)
	t.Logf("gust: %d subscribers, %d publishes to distinct topics: %v", subs, pubs, r)
	checkAmplification(t, b, r)
	peer(t, a)
}

// TestAmplifyMatchCacheLongTopics: publishes to distinct 65,000-byte
// topics that nobody subscribes to; the cache must not keep their topics.
// max_topic_length is raised to the protocol's maximum so that the topics
// reach the cache.
func TestAmplifyMatchCacheLongTopics(t *testing.T) {
	const pubs, size = 3000, 65000
	a := amplification{
		attack: func(t *testing.T, b *broker) {
			c := connectOK(t, b.Addr, v3Connect("long-pub", true))
			topic := []byte(strings.Repeat("x", size))
			for i := 0; i < pubs; i++ {
				copy(topic, fmt.Sprintf("long/%d/", i))
				if err := c.publish(&codec.Publish{Topic: topic, Payload: []byte{'x'}}); err != nil {
					t.Fatal(err)
				}
			}
			pingRoundTrip(t, c)
		},
	}
	b := startBroker(t, brokerOpts{Flags: []string{"--max-topic-length", "65535", "--max-outbound-bytes", "262144"}})
	r := runAmplification(t, b, a)
	t.Logf("gust: %d publishes to distinct %d-byte topics: %v", pubs, size, r)
	checkAmplification(t, b, r)
	peer(t, a)
}

// pingRoundTrip sends PINGREQ and waits for PINGRESP: everything sent
// before it has been read by the broker.
func pingRoundTrip(t *testing.T, c *mqttConn) {
	t.Helper()
	if _, err := c.Write(codec.AppendPingreq(nil)); err != nil {
		t.Fatal(err)
	}
	for {
		pkt, err := readPacketErr(c, 60*time.Second)
		if err != nil {
			t.Fatalf("waiting for PINGRESP: %v", err)
		}
		if codec.Type(pkt[0]>>4) == codec.TypePingresp {
			return
		}
	}
}

// TestAmplifyTopicDepth: 100 SUBSCRIBEs of deep filters, then 100 retained
// PUBLISHes of deep topics, each different from its first level on so
// that they share no trie node. With the default limits the filters are
// refused (SUBACK 0x80) and the publishers closed; the broker logs it.
func TestAmplifyTopicDepth(t *testing.T) {
	const n = 100
	// deep returns a topic of size bytes, size-len(i)+1 levels, unique to i.
	deep := func(i, size int) []byte {
		s := fmt.Sprint(i)
		return []byte(s + strings.Repeat("/", size-len(s)))
	}
	cases := []struct {
		name string
		size int
	}{
		{"length", 65535}, // past max_topic_length (and max_topic_levels)
		{"levels", 4000},  // within max_topic_length, past max_topic_levels
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refused := 0
			a := amplification{attack: func(t *testing.T, b *broker) {
				c := connectOK(t, b.Addr, v3Connect("deep-sub", true))
				for i := 0; i < n; i++ {
					codes, err := c.subscribe(uint16(i+1), 0, string(deep(i, tc.size)))
					if err != nil {
						attackErr(t, b, fmt.Sprintf("SUBSCRIBE %d", i), err) // Mosquitto closes the connection
						break
					}
					if codes[0] == codec.ReasonCode(codec.SubackFailureV3) {
						refused++
					}
				}
				for i := 0; i < n; i++ {
					p, _, err := dialMQTT(b.Addr, v3Connect(fmt.Sprintf("deep-pub-%d", i), true))
					if err != nil {
						t.Fatal(err)
					}
					_ = p.publish(&codec.Publish{Topic: deep(n+i, tc.size), Payload: []byte("x"), Retain: true})
					if !p.pingOK() {
						refused++
					}
					p.Close()
				}
			}}
			b := startBroker(t, brokerOpts{})
			r := runAmplification(t, b, a)
			t.Logf("gust: %d subscribes and %d retained publishes of %d-byte topics (%d levels): %v; %d refused",
				n, n, tc.size, tc.size, r, refused)
			checkAmplification(t, b, r)
			if refused != 2*n {
				t.Errorf("%d of %d refused, want all", refused, 2*n)
			}
			if !b.WaitLog("topic refused", time.Second) {
				t.Errorf("no log line for the refused topics")
			}
			peer(t, a)
		})
	}
}

// pingOK sends PINGREQ and reports whether PINGRESP came back before the
// broker closed the connection.
func (c *mqttConn) pingOK() bool {
	if _, err := c.Write(codec.AppendPingreq(nil)); err != nil {
		return false
	}
	for {
		pkt, err := readPacketErr(c, 10*time.Second)
		if err != nil {
			return false
		}
		if codec.Type(pkt[0]>>4) == codec.TypePingresp {
			return true
		}
	}
}

// TestAmplifyTopicAliases: 10 MQTT 5 subscribers taking up to 1024 topic
// aliases each receive 512 distinct 65,000-byte topics. Each connection's
// alias topics are bounded by topic_alias_bytes. max_outbound_bytes is
// small so that the subscribers' unsent bytes (bounded by it, and by
// design up to 4 MiB each) do not hide what the alias tables keep.
func TestAmplifyTopicAliases(t *testing.T) {
	const subs, topics, size = 10, 512, 65000
	a := amplification{
		setup: func(t *testing.T, addr string) {
			for i := 0; i < subs; i++ {
				p := v5Connect(fmt.Sprintf("alias-sub-%d", i))
				p.Props.TopicAliasMaximum = 1024
				p.Props.Set(codec.PropTopicAliasMaximum)
				c := connectOK(t, addr, p)
				if _, err := c.subscribe(1, 0, "alias/#"); err != nil {
					t.Fatal(err)
				}
				go func() { _, _ = io.Copy(io.Discard, c) }()
			}
		},
		attack: func(t *testing.T, b *broker) {
			c := connectOK(t, b.Addr, v3Connect("alias-pub", true))
			topic := []byte(strings.Repeat("y", size))
			for i := 0; i < topics; i++ {
				copy(topic, fmt.Sprintf("alias/%d/", i))
				if err := c.publish(&codec.Publish{Topic: topic, Payload: []byte{'x'}}); err != nil {
					t.Fatal(err)
				}
				// One at a time: the subscribers' outbound buffers stay
				// small, so the growth measured is what the broker keeps.
				pingRoundTrip(t, c)
			}
			pingRoundTrip(t, c)
			time.Sleep(time.Second)
		},
	}
	b := startBroker(t, brokerOpts{Flags: []string{"--max-topic-length", "65535", "--max-outbound-bytes", "262144"}})
	r := runAmplification(t, b, a)
	t.Logf("gust: %d alias-taking subscribers, %d distinct %d-byte topics: %v", subs, topics, size, r)
	checkAmplification(t, b, r)
	if !strings.Contains(b.Log(), "topic aliases full") {
		t.Errorf("the alias bound was not reached: no \"topic aliases full\" in the log")
	}
	peer(t, a)
}

// TestAmplifySubscribeDuplicates: one SUBSCRIBE repeating '#' 20,000 times
// over 10,000 retained messages. The retained store is walked once per
// distinct filter, filters past max_subscribe_filters are refused, and the
// loop is not held for seconds.
func TestAmplifySubscribeDuplicates(t *testing.T) {
	const retained, copies = 10000, 20000
	var stall time.Duration
	var codes []codec.ReasonCode
	a := amplification{
		setup: func(t *testing.T, addr string) {
			c := connectOK(t, addr, v3Connect("dup-retain", true))
			for i := 0; i < retained; i++ {
				if err := c.publish(&codec.Publish{Topic: fmt.Appendf(nil, "r/%d", i), Payload: []byte("retained"), Retain: true}); err != nil {
					t.Fatal(err)
				}
			}
			pingRoundTrip(t, c)
		},
		attack: func(t *testing.T, b *broker) {
			c := connectOK(t, b.Addr, v3Connect("dup-sub", true))
			filters := make([]string, copies)
			for i := range filters {
				filters[i] = "#"
			}
			start := time.Now()
			var err error
			got, err := c.subscribe(1, 0, filters...)
			if b.name != "gust" {
				t.Logf("%s: SUBACK after %v (%v)", b.name, time.Since(start).Round(time.Millisecond), err)
				return
			}
			codes, stall = got, time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
		},
	}
	b := startBroker(t, brokerOpts{})
	r := runAmplification(t, b, a)
	granted := 0
	for _, c := range codes {
		if c < 0x80 {
			granted++
		}
	}
	t.Logf("gust: SUBSCRIBE with %d x '#' over %d retained: SUBACK after %v (%d granted, %d refused); probe max %v; %v",
		copies, retained, stall.Round(time.Millisecond), granted, len(codes)-granted, r.probe.Max, r)
	checkAmplification(t, b, r)
	if len(codes) != copies {
		t.Fatalf("SUBACK has %d codes, want %d", len(codes), copies)
	}
	if granted == 0 || granted == copies {
		t.Errorf("%d of %d filters granted, want the first max_subscribe_filters", granted, copies)
	}
	if stall > 2*time.Second {
		t.Errorf("SUBACK after %v: the loop was held", stall)
	}
	peer(t, a)
}

// TestAmplifyUserProperties: QoS 1 PUBLISHes carrying 100,000 empty User
// Properties (500 KB each) for an offline QoS 1 subscriber. Each would be
// queued with a 4.8 MB property list; the broker refuses the packet
// (DISCONNECT 0x97) at max_user_properties.
func TestAmplifyUserProperties(t *testing.T) {
	const msgs, props = 20, 100000
	var reasons []codec.ReasonCode
	a := amplification{
		setup: func(t *testing.T, addr string) { offlineSubscribers(t, addr, "up", "up/#", 1, 1) },
		attack: func(t *testing.T, b *broker) {
			p := codec.Publish{Topic: []byte("up/x"), QoS: 1, PacketID: 1, Payload: []byte("x")}
			p.Props.User = make([]codec.UserProperty, props)
			pkt := codec.AppendPublish(nil, codec.V5, &p)
			for i := 0; i < msgs; i++ {
				c := connectOK(t, b.Addr, v5Connect(fmt.Sprintf("up-pub-%d", i)))
				if _, err := c.Write(pkt); err != nil {
					t.Fatal(err)
				}
				_, _ = c.Write(codec.AppendDisconnect(nil, codec.V5, &codec.Disconnect{}))
				rc, _, err := c.closed(10 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				reasons = append(reasons, rc)
			}
		},
	}
	b := startBroker(t, brokerOpts{})
	r := runAmplification(t, b, a)
	t.Logf("gust: %d QoS 1 PUBLISHes with %d User Properties each for an offline subscriber: %v; DISCONNECT codes %v", msgs, props, r, reasons)
	checkAmplification(t, b, r)
	for _, rc := range reasons {
		if rc != codec.ReasonQuotaExceeded {
			t.Fatalf("DISCONNECT codes %v, want 0x97 each", reasons)
		}
	}
	peer(t, a)
}
