package loadgen

import (
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// Mode selects what the clients of a run do.
type Mode string

// Modes of a run.
const (
	// ModeConn opens Conns connections at ConnectRate and holds them idle
	// (with keep alive) for Duration.
	ModeConn Mode = "conn"
	// ModePub runs only publishers (subscribers live elsewhere).
	ModePub Mode = "pub"
	// ModeSub runs only subscribers; loss is estimated from sequence gaps.
	ModeSub Mode = "sub"
	// ModePubSub runs publishers and subscribers in one process, so the
	// expected delivery count, and from it the loss, is known exactly.
	ModePubSub Mode = "pubsub"
)

// StampSize is the size of the stamp at the start of every payload.
const StampSize = 16

// Config describes one bounded load run. Zero fields take the defaults of
// DefaultConfig through Normalize.
type Config struct {
	// Addr is the broker's host:port.
	Addr string
	// Mode says which clients run (conn, pub, sub, pubsub).
	Mode Mode
	// Version is the MQTT protocol level: codec.V311 or codec.V5.
	Version codec.Version

	// Publishers is the number of publishing connections.
	Publishers int
	// Subscribers is the number of subscribing connections.
	Subscribers int
	// SlowSubscribers is how many of the Subscribers stop reading right
	// after their SUBACK (a stuck consumer); they are left out of the
	// expected deliveries and of the latency figures.
	SlowSubscribers int
	// Conns is the number of idle connections in conn mode.
	Conns int

	// PubTopic is the publish topic; %i is replaced by the publisher index
	// and %n by the message sequence number.
	PubTopic string
	// SubTopic is the subscription filter; %i is the subscriber index.
	SubTopic string
	// QoS is the QoS of publishes and subscriptions.
	QoS byte
	// Retain sets the RETAIN flag on publishes.
	Retain bool
	// PayloadSize is the payload size in bytes (at least StampSize).
	PayloadSize int
	// Rate is the publish rate per publisher in messages per second; 0
	// means as fast as the socket (QoS 0) or the inflight window allows.
	Rate float64
	// Inflight is the QoS 1/2 window of unacknowledged publishes per publisher.
	Inflight int
	// Count bounds the messages per publisher (0: bounded by Duration only).
	Count int
	// Duration bounds the publish phase (conn mode: the hold time).
	Duration time.Duration
	// Drain is how long to wait after the publish phase for deliveries
	// still in flight.
	Drain time.Duration
	// ExpectRetained makes each subscriber wait for this many messages
	// (retained messages delivered on subscribe) instead of for publishers.
	ExpectRetained int

	// Settle is a pause between every client being ready and the first
	// publish: time for subscriptions to reach the other nodes of a
	// cluster, which a SUBACK from one node does not wait for.
	Settle time.Duration

	// ConnectRate is the connection rate in connections per second over
	// all clients (0: as fast as possible, at most ConnectBurst pending).
	ConnectRate float64
	// ConnectBurst bounds connections in progress per loop.
	ConnectBurst int
	// ConnectTimeout bounds the wait for all clients to be ready.
	ConnectTimeout time.Duration
	// KeepAlive is the keep alive of CONNECT in seconds.
	KeepAlive uint16
	// CleanStart is the Clean Session / Clean Start flag.
	CleanStart bool
	// SessionExpiry is the MQTT 5 Session Expiry Interval in seconds sent
	// in CONNECT (0: the session ends with the connection). With
	// CleanStart false it makes v5 sessions persistent.
	SessionExpiry uint32
	// PersistentSubs makes the subscribers, and only them, keep their
	// sessions across connections: Clean Session 0 (v5: Clean Start 0 and
	// a Session Expiry Interval of SubSessionExpiry seconds), so the broker
	// keeps their subscriptions and queues their QoS 1/2 messages while
	// they are away.
	PersistentSubs bool
	// SubSessionExpiry is the v5 Session Expiry Interval of persistent
	// subscribers in seconds (default 3600).
	SubSessionExpiry uint32
	// Offline sends the subscribers away during the publish phase: they
	// connect and subscribe, disconnect, the publishers send their Count
	// messages and wait for every acknowledgement, then the subscribers
	// reconnect (subscribing again only if the broker lost the session)
	// and drain what their sessions queued. It needs PersistentSubs, QoS 1
	// or 2, a Count, and pubsub mode.
	Offline bool
	// TopicCycle, when > 0, makes %n in PubTopic the message sequence
	// number modulo TopicCycle, so each publisher updates the same
	// TopicCycle topics in turn.
	TopicCycle int
	// Username and Password are sent in CONNECT when non-empty.
	Username, Password string

	// TLS, when set, makes every connection TLS with this client
	// configuration (handshake within ConnectTimeout).
	TLS *tls.Config
	// ClientPrefix prefixes every client identifier.
	ClientPrefix string
	// WebSocket makes every client speak MQTT over WebSocket (ws://Addr
	// WSPath): an upgrade request first, then masked binary frames, one per
	// flush.
	WebSocket bool
	// WSPath is the WebSocket request path (default "/mqtt").
	WSPath string
	// PubAddrs and SubAddrs, when not empty, spread the publishers and the
	// subscribers over several brokers (the nodes of a cluster): publisher
	// i connects to PubAddrs[i % len], subscriber i to SubAddrs[i % len];
	// an empty list leaves that role on Addr. ConnAddrs does the same for
	// the idle connections of conn mode.
	PubAddrs, SubAddrs, ConnAddrs []string
	// LocalAddrs are source IPs spread over the connections (round-robin),
	// needed past about 64k connections to one broker address.
	LocalAddrs []string

	// Loops is the number of event loops (default GOMAXPROCS).
	Loops int
	// Progress receives a human-readable line each second when non-nil.
	Progress io.Writer
	// JSON receives one JSON object per second and the result when non-nil.
	JSON io.Writer
}

// DefaultConfig returns the configuration of a 10-second pub/sub run of
// 10 publishers and 1 subscriber at QoS 0 against 127.0.0.1:1883.
func DefaultConfig() Config {
	return Config{
		Addr:           "127.0.0.1:1883",
		Mode:           ModePubSub,
		Version:        codec.V311,
		Publishers:     10,
		Subscribers:    1,
		PubTopic:       "gust/load/%i",
		SubTopic:       "gust/load/#",
		PayloadSize:    64,
		Inflight:       64,
		Duration:       10 * time.Second,
		Drain:          2 * time.Second,
		ConnectBurst:   256,
		ConnectTimeout: 60 * time.Second,
		KeepAlive:      60,
		CleanStart:     true,
		ClientPrefix:   "gl",
	}
}

// Normalize fills zero fields with defaults and checks the configuration.
func (c *Config) Normalize() error {
	d := DefaultConfig()
	if c.Addr == "" {
		return ErrNoAddr
	}
	if c.Mode == "" {
		c.Mode = d.Mode
	}
	if c.WSPath == "" {
		c.WSPath = "/mqtt"
	}
	if c.Version == 0 {
		c.Version = d.Version
	}
	if c.Version != codec.V311 && c.Version != codec.V5 {
		return ErrVersion
	}
	if c.QoS > 2 {
		return ErrQoS
	}
	if c.PayloadSize == 0 {
		c.PayloadSize = d.PayloadSize
	}
	if c.PayloadSize < StampSize {
		return ErrPayloadSize
	}
	if c.PubTopic == "" {
		c.PubTopic = d.PubTopic
	}
	if c.SubTopic == "" {
		c.SubTopic = d.SubTopic
	}
	if c.Inflight <= 0 {
		c.Inflight = d.Inflight
	}
	if c.Inflight > 65535 {
		c.Inflight = 65535
	}
	if c.Drain == 0 {
		c.Drain = d.Drain
	}
	if c.ConnectBurst <= 0 {
		c.ConnectBurst = d.ConnectBurst
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.ClientPrefix == "" {
		c.ClientPrefix = d.ClientPrefix + strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	}
	if c.Loops <= 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.Duration <= 0 && (c.Count <= 0 || c.Mode == ModeConn) && c.ExpectRetained <= 0 {
		return ErrUnbounded
	}
	if c.PersistentSubs && c.SubSessionExpiry == 0 {
		c.SubSessionExpiry = 3600
	}
	if c.Offline && (!c.PersistentSubs || c.QoS == 0 || c.Count <= 0 || c.Mode != ModePubSub ||
		c.Publishers <= 0 || c.Subscribers <= 0 || c.SlowSubscribers > 0) {
		return ErrOffline
	}
	for _, list := range [][]string{c.PubAddrs, c.SubAddrs, c.ConnAddrs} {
		for _, a := range list {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return ErrRoleAddr
			}
		}
	}
	for _, a := range c.LocalAddrs {
		if net.ParseIP(a) == nil {
			return ErrLocalAddr
		}
	}
	return c.checkClients()
}

func (c *Config) checkClients() error {
	switch c.Mode {
	case ModeConn:
		if c.Conns <= 0 {
			return ErrNoClients
		}
		c.Publishers, c.Subscribers = 0, 0
	case ModePub:
		if c.Publishers <= 0 {
			return ErrNoClients
		}
		c.Subscribers, c.Conns = 0, 0
	case ModeSub:
		if c.Subscribers <= 0 {
			return ErrNoClients
		}
		c.Publishers, c.Conns = 0, 0
	case ModePubSub:
		if c.Publishers <= 0 && c.Subscribers <= 0 {
			return ErrNoClients
		}
		c.Conns = 0
	default:
		return ErrMode
	}
	if c.SlowSubscribers > c.Subscribers {
		c.SlowSubscribers = c.Subscribers
	}
	return nil
}

// expand replaces %i with idx and %n with n in pattern.
func expand(pattern string, idx, n int) string {
	if !strings.Contains(pattern, "%") {
		return pattern
	}
	s := strings.ReplaceAll(pattern, "%i", strconv.Itoa(idx))
	return strings.ReplaceAll(s, "%n", strconv.Itoa(n))
}

// sharedGroup splits "$share/group/filter" into group and filter; for a
// plain filter group is "".
func sharedGroup(filter string) (group, plain string) {
	if !strings.HasPrefix(filter, "$share/") {
		return "", filter
	}
	rest := filter[len("$share/"):]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

// MatchTopic reports whether the MQTT topic filter matches the topic name
// (wildcards + and #; a leading $ is not matched by wildcards [MQTT-4.7.2-1]).
func MatchTopic(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore && !tmore {
			return true
		}
		if !tmore {
			// "a/#" also matches the parent level "a".
			return frest == "#"
		}
		if !fmore {
			return false
		}
		filter, topic = frest, trest
	}
}
