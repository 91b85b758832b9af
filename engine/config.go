package engine

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gust-mqtt/gust/engine/auth"
	"github.com/gust-mqtt/gust/engine/cluster"
	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/engine/persist"
)

// Config holds every setting of the broker. The zero value is not usable;
// start from DefaultConfig and override fields. Config is bound to the
// `gust serve` flags and its TOML file, hence the toml tags; durations are
// written in TOML as strings such as "10s".
type Config struct {
	// Listen is the TCP address to listen on, "host:port". Port 0 picks a
	// free port; Broker.Addr reports the one bound. Default "127.0.0.1:1883":
	// loopback only, as Mosquitto 2 without a listener; ":1883" listens on
	// every interface.
	Listen string `toml:"listen"`

	// Listeners are the broker's listeners, each with its transport and
	// settings (listeners.go). Empty means one plain TCP listener on
	// Listen; when set, Listen is not used.
	Listeners []Listener `toml:"listener"`

	// TLSHandshakes bounds the TLS handshakes in progress, every TLS
	// listener together: each runs on a goroutine of its own off the event
	// loops, for at most ConnectTimeout. A socket accepted past it is
	// closed at once, counted ($SYS/broker/tls/handshakes/refused) and
	// logged. Default 1024.
	TLSHandshakes int `toml:"tls_handshakes"`

	// WebSocket builds the Layer of each connection of a ws or wss
	// listener, over the raw connection (ws) or its TLS Layer (wss): it is
	// the WebSocket transport's hook. It is called once per listener at
	// Start with the listener's settings and returns the listener's Wrap
	// builder; nil means package transport's (Broker.webSocket).
	WebSocket func(l Listener) (func(under network.Conn) network.Layer, error) `toml:"-"`

	// Cluster joins this broker to other nodes over NATS
	// (engine/cluster): messages, retained messages and their clears
	// published on any node reach the matching subscribers of every node.
	// Off by default.
	Cluster cluster.Config `toml:"-"`

	// Loops is the number of event loops; 0 means one per CPU core.
	Loops int `toml:"loops"`

	// IO is the network backend of the event loops: IOEpoll (gnet's epoll
	// loops), IOUring (io_uring rings: one submission per loop round for
	// every connection's writes, multishot receives into shared buffers)
	// or IOAuto (io_uring where the kernel offers what it needs, else
	// epoll, with a log line saying why).
	IO string `toml:"io"`

	// MaxConnections caps the number of concurrently open client
	// connections, counted from accept to close; a connection past it is
	// closed as soon as it is accepted (counted in
	// $SYS/broker/connections/refused, logged at most once a second), so
	// a burst cannot exceed it. 0 (the default) derives it at start from
	// the descriptor limit (RLIMIT_NOFILE, its soft limit first raised to
	// the hard one): the limit less a reserve for the broker's own
	// descriptors, max(64, 2%) plus 4 per event loop; the start-up log says
	// what was chosen. -1 means no cap: connections are then bounded by the
	// descriptor limit alone, and accepts that fail for want of one are
	// refused and backed off. A value above the derived one is allowed
	// (logged as a warning).
	MaxConnections int `toml:"max_connections"`

	// MaxPacketSize is the largest MQTT packet (fixed header included), in
	// bytes, the broker accepts; a larger one closes the connection. It must
	// be between 16 and 268435460 (the largest the protocol can express).
	MaxPacketSize int `toml:"max_packet_size"`

	// MaxInflight is the number of QoS 1 and 2 messages the broker sends to
	// one client without waiting for their acknowledgement (the in-flight
	// window; like Mosquitto's max_inflight_messages). 1..65535.
	MaxInflight int `toml:"max_inflight"`

	// MaxQueuedMessages bounds the messages waiting for one session while
	// its in-flight window is full or while it is offline (like Mosquitto's
	// max_queued_messages). Past it new messages are dropped and counted.
	MaxQueuedMessages int `toml:"max_queued_messages"`

	// MaxOutboundBytes bounds the bytes written to one connection that the
	// kernel has not yet accepted. Past it QoS 0 messages are dropped and
	// counted and QoS 1/2 messages wait in the session queue. At most 1 GiB.
	MaxOutboundBytes int `toml:"max_outbound_bytes"`

	// ConnectTimeout is how long a new connection may take to send its
	// CONNECT before it is closed.
	ConnectTimeout time.Duration `toml:"connect_timeout"`

	// SlowConsumerTimeout is how long a connection may stay over
	// MaxOutboundBytes before it is disconnected as a slow consumer.
	SlowConsumerTimeout time.Duration `toml:"slow_consumer_timeout"`

	// QoS0Backpressure stops reading a publisher whose QoS 0 message found
	// every online subscriber it went to congested (over half of
	// MaxOutboundBytes unsent, or its event loop's MaxHandoverBytes
	// spent), for a millisecond at a time, instead of reading its messages
	// to drop them; its socket's flow control slows it down. A message with
	// one uncongested subscriber never holds its publisher.
	QoS0Backpressure bool `toml:"qos0_backpressure"`

	// KeepAliveMin is the smallest keep alive the broker honours; a client
	// asking for less (but not 0) is held to this value. 0 disables the bound.
	KeepAliveMin time.Duration `toml:"keep_alive_min"`

	// KeepAliveMax is the largest keep alive the broker honours, including
	// for clients that ask for 0 (no keep alive); 0 disables the bound. In
	// MQTT 5 it is announced to the client as Server Keep Alive.
	KeepAliveMax time.Duration `toml:"keep_alive_max"`

	// SysInterval is the period of the $SYS/broker/... publications; 0
	// disables them.
	SysInterval time.Duration `toml:"sys_interval"`

	// TrimIdle returns freed memory to the operating system once the broker
	// has been quiet (no connection opened or closed, no PUBLISH received)
	// for this long after some activity: a storm of connections or messages
	// leaves garbage that the Go runtime would otherwise give back only over
	// minutes. It costs one garbage collection per quiet spell. 0 disables
	// it. Default 5s.
	TrimIdle time.Duration `toml:"trim_idle"`

	// LogLevel is the minimum level of the broker's log lines: "debug",
	// "info", "warn" or "error". Ignored when Logger is set.
	LogLevel string `toml:"log_level"`

	// LogFormat is how log lines are written on standard error: "text"
	// (key=value) or "json" (one object per line). Ignored when Logger is
	// set. Default "text".
	LogFormat string `toml:"log_format"`

	// ConnectionMessages logs, at info, one line per client connected,
	// refused or disconnected (with the reason), as Mosquitto's
	// connection_messages does. Turn it off for very high connection
	// rates. Default true.
	ConnectionMessages bool `toml:"connection_messages"`

	// Logger receives the broker's structured log lines. Nil means a text
	// handler on standard error at LogLevel.
	Logger *slog.Logger `toml:"-"`

	// AllowAnonymous lets clients connect without a user name. Default true.
	AllowAnonymous bool `toml:"allow_anonymous"`

	// AllowZeroLengthClientID lets a client with clean session connect with
	// an empty client identifier; the broker assigns one [MQTT-3.1.3-6].
	AllowZeroLengthClientID bool `toml:"allow_zero_length_client_id"`

	// MaxClientIDLength is the longest client identifier accepted, in bytes.
	MaxClientIDLength int `toml:"max_client_id_length"`

	// MaxSessionExpiry caps how long an offline persistent session is kept.
	// For MQTT 3.1.1 clean-session-0 sessions it is their lifetime; 0 keeps
	// them forever (until the broker stops).
	MaxSessionExpiry time.Duration `toml:"max_session_expiry"`

	// ReceiveMaximum is the number of unacknowledged QoS 1/2 messages a
	// client may send to the broker at once (announced in MQTT 5 CONNACK).
	ReceiveMaximum int `toml:"receive_maximum"`

	// RetainAvailable enables retained messages. Default true.
	RetainAvailable bool `toml:"retain_available"`

	// MaximumQoS is the highest QoS the broker accepts in a PUBLISH and
	// grants to a subscription (0, 1 or 2; default 2). Below 2 it is
	// announced in MQTT 5 CONNACK; a PUBLISH above it closes the connection
	// (v5: DISCONNECT 0x9B).
	MaximumQoS int `toml:"maximum_qos"`

	// TopicAliasMaximum is the highest Topic Alias an MQTT 5 client may
	// use towards the broker (announced in CONNACK); 0 disables aliases.
	TopicAliasMaximum int `toml:"topic_alias_maximum"`

	// WildcardSubAvailable lets clients subscribe to filters with '+' or
	// '#'. When false, such a filter is refused (v5 SUBACK 0xA2, 3.1.1
	// 0x80) and MQTT 5 CONNACK says Wildcard Subscription Available 0.
	// Default true.
	WildcardSubAvailable bool `toml:"wildcard_subscription_available"`

	// SubIDAvailable accepts MQTT 5 Subscription Identifiers. When false,
	// CONNACK says Subscription Identifiers Available 0 and a SUBSCRIBE
	// carrying one closes the connection with DISCONNECT 0xA1. Default true.
	SubIDAvailable bool `toml:"subscription_identifier_available"`

	// SharedSubAvailable enables shared subscriptions ($share/{group}/...).
	// When false, a shared filter is refused (v5 SUBACK 0x9E, 3.1.1 0x80)
	// and MQTT 5 CONNACK says Shared Subscription Available 0. Default true.
	SharedSubAvailable bool `toml:"shared_subscription_available"`

	// Authenticator checks the credentials of each plain CONNECT (no MQTT
	// 5 Authentication Method). Nil accepts every client (subject to
	// AllowAnonymous). An auth.CachedAuthenticator (such as the
	// PasswordFile's store) answers what it can on the client's event loop
	// and has the rest checked by the AuthWorkers goroutines; any other
	// runs on the event loop and must not block.
	Authenticator Authenticator `toml:"-"`

	// AuthWorkers is the number of goroutines that run the full password
	// checks of the Authenticator (PBKDF2 for PasswordFile: a login that
	// misses the cache of verified logins, such as a wrong password) away
	// from the event loops, so at most this many run at once. 0 means half
	// the CPUs the Go runtime uses (GOMAXPROCS), at least 1: a flood of
	// wrong passwords then leaves the other half to the event loops.
	AuthWorkers int `toml:"auth_workers"`

	// AuthQueue bounds the CONNECTs waiting for an AuthWorkers goroutine.
	// One that finds the queue full is refused at once (CONNACK 0x03
	// Server unavailable; MQTT 5: 0x89 Server busy), logged (one line per
	// 10 s at most) and counted ($SYS/broker/auth/queue full). Each waiting
	// CONNECT holds a copy of its credentials.
	AuthQueue int `toml:"auth_queue"`

	// Authoriser checks each PUBLISH and SUBSCRIBE. Nil allows everything.
	Authoriser Authoriser `toml:"-"`

	// KeepUsernames keeps each connection's user name for the operations
	// view (Broker.Clients filters and lists it); it is kept anyway with
	// an Authoriser or an ACL file. It costs the connections that send a
	// user name the name and a clientExt (about 200 bytes).
	KeepUsernames bool `toml:"-"`

	// AuthMethods maps MQTT 5 Authentication Method names to the enhanced
	// authentication methods the broker offers (MQTT 5 section 4.12). A
	// CONNECT naming any other method is refused with CONNACK 0x8C.
	AuthMethods map[string]AuthMethod `toml:"-"`

	// PasswordFile names a users file (see auth.ParseUsers; `gust passwd`
	// writes it). When set, New loads it: user name and password CONNECTs
	// are checked against it (it becomes the Authenticator, which must
	// then be nil) and SCRAM-SHA-256 enhanced authentication is offered
	// unless AuthMethods already has it. AllowAnonymous still applies;
	// `gust serve` turns it off unless allow_anonymous is set explicitly.
	PasswordFile string `toml:"password_file"`

	// ACLFile names an access control list file in Mosquitto's format
	// (see ACL): who may publish (write) and subscribe (read) where. When
	// set, New loads it; Broker.ReloadACLFile reads it again (SIGHUP for
	// `gust serve`). A denied PUBLISH is acknowledged but not delivered
	// (v5 QoS 1/2: PUBACK/PUBREC 0x87), a denied SUBSCRIBE filter gets
	// SUBACK 0x87 (3.1.1: 0x80), a will the client may not write is not
	// published. Publish decisions are cached per event loop (aclCacheBytes).
	ACLFile string `toml:"acl_file"`

	// ACLDenyReason is what an MQTT 5 client is told of an ACL refusal:
	// ACLDenyNotAuthorized (SUBACK, PUBACK or PUBREC 0x87 Not authorized,
	// with a Reason String) or ACLDenyUnspecified (0x80 Unspecified error
	// without a Reason String: the client learns nothing of the rules, as
	// MQTT 5 allows a server that does not wish to reveal the reason; no
	// 0x80 acknowledgement carries a Reason String then). 3.1.1 has only
	// 0x80 for a refused filter either way.
	ACLDenyReason string `toml:"acl_deny_reason"`

	// Store is where durable state goes: StoreMemory (nothing survives a
	// restart) or StoreDisk (under DataDir): retained messages, persistent
	// sessions with their subscriptions, wills and queued and in-flight
	// QoS 1/2 messages; an acknowledgement that promises any of them waits
	// until it is durable (durable.go). Default memory here; `gust serve`
	// defaults to disk.
	Store string `toml:"store"`
	// DataDir is the disk store's directory; default "gust-data".
	DataDir string `toml:"data_dir"`
	// Fsync says what a crash may lose of what was acknowledged: "always"
	// (nothing: each commit group is synced before its acknowledgements
	// go), a duration such as "10ms" (at most that window), or "never"
	// (the operating system decides). Default always.
	Fsync string `toml:"fsync"`
	// StoreMemTableBytes is the size of the disk store's in-memory table,
	// where records wait for a flush to the store's files; up to four take
	// memory at once. A larger one lets more short-lived records (a queued
	// message and its acknowledgement) meet in memory; a smaller one keeps
	// each write's insert cheaper.
	StoreMemTableBytes int64 `toml:"store_memtable_bytes"`
	// Persist, if set, is the store to use instead of the one Store names
	// (tests); the caller keeps it open.
	Persist persist.Store `toml:"-"`

	// Limits. Each bounds a resource a client can make the broker hold;
	// the defaults let a 1 GB machine survive any client and can be raised.
	// A client that meets one gets a reason code where MQTT has one, and
	// the broker logs it (at most once a second per limit) and counts it
	// in $SYS (sys.go).

	// MaxSessions bounds the sessions the broker keeps, online and offline
	// (persistent sessions whose client is away). A CONNECT that needs a
	// new session past it discards the offline session that went offline
	// longest ago; when every session is online the CONNECT is refused
	// (CONNACK 0x97 Quota exceeded, 3.1.1: 0x03 Server unavailable). A
	// session with a few subscriptions costs about 1 KB.
	MaxSessions int `toml:"max_sessions"`

	// MaxSubscriptionsPerClient bounds the subscriptions one session
	// holds. A SUBSCRIBE filter past it is refused (SUBACK 0x97 Quota
	// exceeded, 3.1.1: 0x80); replacing a subscription is always allowed.
	MaxSubscriptionsPerClient int `toml:"max_subscriptions_per_client"`

	// MaxRetainedMessages bounds the number of retained messages. A
	// retained PUBLISH for a new topic past it is not stored: an MQTT 5
	// QoS 1/2 PUBLISH is refused (PUBACK/PUBREC 0x97 Quota exceeded) and
	// not delivered, any other is delivered to the live subscribers only.
	// Replacing or clearing a retained message is always allowed.
	MaxRetainedMessages int `toml:"max_retained_messages"`

	// MaxRetainedBytes bounds the bytes of retained messages (topic,
	// payload and properties), with the reaction of MaxRetainedMessages; a
	// replacement is refused only if it is larger than the message it
	// replaces and would pass the bound.
	MaxRetainedBytes int `toml:"max_retained_bytes"`

	// MaxQueuedBytes bounds the bytes of the QoS 1/2 messages one session
	// holds: queued (while its client is away or its in-flight window is
	// full) and sent but not acknowledged. A message is counted by its
	// topic, payload and properties plus 64 bytes, for every session it
	// waits in. Past it a message that would be queued is dropped and
	// counted, like past MaxQueuedMessages; a live session's publishers
	// are throttled from half of it (throttle.go).
	MaxQueuedBytes int `toml:"max_queued_bytes"`

	// MaxQueuedBytesTotal bounds the MaxQueuedBytes measure summed over
	// every session; past it a message that would be queued is dropped
	// and counted.
	MaxQueuedBytesTotal int `toml:"max_queued_bytes_total"`

	// MaxHandoverBytes bounds the bytes of QoS 0 messages other event
	// loops have handed to one loop and it has not yet written (a loop
	// that lags behind its producers); past it further QoS 0 messages for
	// that loop are dropped and counted. QoS 1/2 messages are bounded by
	// the session queues instead. It is checked once per batch, so a loop
	// may hold up to one batch more per other loop.
	MaxHandoverBytes int `toml:"max_handover_bytes"`

	// MaxDelayedWills bounds the MQTT 5 wills waiting for their Will
	// Delay Interval. A will past it (or past MaxDelayedWillBytes) is
	// published at once instead of after its delay: the subscribers still
	// learn that the client went away, and nothing is held.
	MaxDelayedWills int `toml:"max_delayed_wills"`

	// MaxDelayedWillBytes bounds the bytes (topic, payload and
	// properties) of the wills waiting for their delay, with the reaction
	// of MaxDelayedWills.
	MaxDelayedWillBytes int `toml:"max_delayed_will_bytes"`

	// MaxTopicLevels is the most levels ('/'-separated parts) a topic name
	// or filter may have: PUBLISH topics, SUBSCRIBE and UNSUBSCRIBE filters
	// and will topics. Past it a v5 PUBLISH gets PUBACK/PUBREC 0x90 (QoS
	// 1/2) or DISCONNECT 0x90 (QoS 0), a 3.1.1 publisher is disconnected,
	// a filter gets SUBACK 0x8F (3.1.1: 0x80) or v5 UNSUBACK 0x8F and a
	// will topic CONNACK 0x90 (3.1.1: the connection is closed). Each
	// level costs a trie or retained-tree node. 1..65536; default 200
	// (Mosquitto's limit).
	MaxTopicLevels int `toml:"max_topic_levels"`

	// MaxTopicLength is the longest topic name or filter, in bytes, with
	// the same reactions as MaxTopicLevels. Topics are kept as keys of the
	// trie, the retained store, the match cache and topic aliases, so one
	// long topic is paid for several times. 1..65535 (the protocol's
	// maximum); default 4096.
	MaxTopicLength int `toml:"max_topic_length"`

	// MaxSubscribeFilters is the most topic filters one SUBSCRIBE may
	// carry. The filters past it are refused one by one, SUBACK 0x97
	// (3.1.1: 0x80); the others are handled as usual. >= 1; default 1000.
	MaxSubscribeFilters int `toml:"max_subscribe_filters"`

	// MaxUserProperties is the most MQTT 5 User Properties one incoming
	// packet (or will) may carry. A CONNECT past it is refused with
	// CONNACK 0x97, any other packet closes the connection with
	// DISCONNECT 0x97. 1..65535; default 64.
	MaxUserProperties int `toml:"max_user_properties"`

	// TopicAliasBytes bounds the topics an MQTT 5 connection has been given
	// broker-assigned Topic Aliases for, in bytes (each alias counts its
	// topic plus 64 bytes of bookkeeping). A topic that does not fit, or
	// that is longer than 1/16 of it, is sent in full. 0 assigns no
	// aliases; default 64 KiB.
	TopicAliasBytes int `toml:"topic_alias_bytes"`

	// MatchCacheBytes bounds each event loop's cache of subscription match
	// results, in bytes (topics, results and bookkeeping). The cache is
	// emptied when full, and a result larger than 1/64 of it is not
	// cached. 0 disables the cache; default 8 MiB.
	MatchCacheBytes int `toml:"match_cache_bytes"`

	// MaxPartialBytes bounds the bytes held, summed over every connection,
	// by packets larger than 4 KiB that have not arrived whole: each is
	// assembled in a buffer of its declared length, taken from this budget
	// when its fixed header arrives (smaller ones wait in the connection's
	// read buffer). A packet that would pass it closes its connection (v5:
	// DISCONNECT 0x97 Quota exceeded); the broker logs it (at most once a
	// second) and counts it ($SYS/broker/partial/refused). At least
	// MaxPacketSize.
	MaxPartialBytes int `toml:"max_partial_bytes"`

	// MaxTakeoverBytes bounds the bytes a connection may send after its
	// CONNECT while the broker waits for the previous connection of the
	// same client id, on another event loop, to let the session go. Past
	// it the connection is closed (it has no CONNACK yet, so without a
	// DISCONNECT), logged (at most once a second) and counted
	// ($SYS/broker/takeover/closed).
	MaxTakeoverBytes int `toml:"max_takeover_bytes"`

	// MemoryLimit is the soft memory limit given to the Go runtime (see
	// runtime/debug.SetMemoryLimit, like GOMEMLIMIT): near it the garbage
	// collector works harder and returns memory to the operating system
	// sooner. MemoryLimitAuto (the default, "auto") takes 3/4 of the
	// machine's memory or of the cgroup's memory limit when lower; 0 leaves
	// the runtime's limit alone. A GOMEMLIMIT environment variable takes
	// precedence over it. Start logs the limit chosen and why.
	MemoryLimit ByteSize `toml:"memory_limit"`

	// TrimExcess returns memory to the operating system after a spike
	// even while traffic continues (the idle trim, TrimIdle, waits for
	// quiet): when the memory the Go runtime holds exceeds twice the live
	// heap by more than TrimExcess for 2 s, or many connections have
	// closed while it holds more than TrimExcess, the broker collects
	// garbage and returns the free memory (at most once per 5 s, backing
	// off to once per 2 min while that frees little). Counted in
	// $SYS/broker/memory/spike trims. 0 disables it.
	TrimExcess int `toml:"trim_excess"`
}

// ConnectInfo is a read-only view of an accepted-so-far CONNECT, given to
// the Authenticator and AuthMethods (see auth.ConnectInfo).
type ConnectInfo = auth.ConnectInfo

// ClientInfo identifies a connected client to the Authoriser. It is owned
// by the connection's event loop and valid only during the call.
type ClientInfo struct {
	ClientID        string
	Username        string
	ProtocolVersion byte
}

// Authenticator decides whether a plain CONNECT may connect (see
// auth.Authenticator, and auth.CachedAuthenticator for checks too slow for
// an event loop).
type Authenticator = auth.Authenticator

// AuthMethod is one MQTT 5 enhanced authentication method (MQTT 5 section
// 4.12), such as auth.SCRAM (see auth.Method).
type AuthMethod = auth.Method

// AuthExchange is one connection's authentication conversation (see
// auth.Exchange).
type AuthExchange = auth.Exchange

// Authoriser decides what a connected client may publish and subscribe to.
// Its methods run on the client's event loop and must not block.
type Authoriser interface {
	// CanPublish reports whether the client may publish to topic. A refused
	// PUBLISH is acknowledged but not delivered [MQTT-3.3.5-2].
	CanPublish(client *ClientInfo, topic []byte, qos byte, retain bool) bool
	// CanSubscribe reports whether the client may subscribe to filter; a
	// refusal is answered with SUBACK code 0x87 (3.1.1: 0x80).
	CanSubscribe(client *ClientInfo, filter []byte, qos byte) bool
}

// MaxPacketSizeLimit is the largest packet MQTT can express: 1 byte of
// header, 4 bytes of remaining length and 268435455 bytes of body.
const MaxPacketSizeLimit = 1 + 4 + 268435455

// DefaultConfig returns the default settings: listen on 127.0.0.1:1883 (loopback only), one event
// loop per core, limits close to Mosquitto's defaults.
func DefaultConfig() Config {
	return Config{
		Listen: "127.0.0.1:1883",
		Cluster: cluster.Config{PendingMessages: cluster.DefaultPendingMessages, PendingBytes: cluster.DefaultPendingBytes,
			ClaimQueue: cluster.DefaultClaimQueue},
		TLSHandshakes:           1024,
		Loops:                   0,
		IO:                      IOEpoll,
		ACLDenyReason:           ACLDenyNotAuthorized,
		MaxConnections:          0,
		MaxPacketSize:           1 << 20, // like EMQX's 1 MiB max_packet_size
		MaxInflight:             20,      // Mosquitto max_inflight_messages
		MaxQueuedMessages:       1000,    // Mosquitto max_queued_messages
		MaxOutboundBytes:        4 << 20,
		SlowConsumerTimeout:     10 * time.Second,
		QoS0Backpressure:        true,
		ConnectTimeout:          10 * time.Second,
		KeepAliveMin:            0,
		KeepAliveMax:            0,
		SysInterval:             10 * time.Second, // Mosquitto sys_interval
		TrimIdle:                5 * time.Second,
		LogLevel:                "info",
		LogFormat:               "text",
		ConnectionMessages:      true,
		Store:                   StoreMemory,
		DataDir:                 "gust-data",
		Fsync:                   "always",
		StoreMemTableBytes:      persist.DefaultMemTableSize,
		AllowAnonymous:          true,
		AllowZeroLengthClientID: true,
		MaxClientIDLength:       65535,
		MaxSessionExpiry:        0,
		ReceiveMaximum:          65535,
		RetainAvailable:         true,
		MaximumQoS:              2,
		TopicAliasMaximum:       10, // Mosquitto max_topic_alias
		WildcardSubAvailable:    true,
		SubIDAvailable:          true,
		SharedSubAvailable:      true,

		// Limits, for a 1 GB machine (see the fields' comments).
		MaxSessions:               100_000,
		MaxSubscriptionsPerClient: 1000,
		MaxRetainedMessages:       100_000,
		MaxRetainedBytes:          64 << 20,
		MaxQueuedBytes:            32 << 20,
		MaxQueuedBytesTotal:       256 << 20,
		MaxHandoverBytes:          64 << 20,
		MaxDelayedWills:           100_000,
		MaxDelayedWillBytes:       64 << 20,
		MaxTopicLevels:            200,  // Mosquitto's limit (CVE-2019-11779)
		MaxTopicLength:            4096, // 16x AWS IoT's 256 bytes; 1/16 of the protocol's
		MaxSubscribeFilters:       1000,
		MaxUserProperties:         64,
		TopicAliasBytes:           64 << 10,
		MatchCacheBytes:           8 << 20,
		MaxPartialBytes:           256 << 20,
		MaxTakeoverBytes:          64 << 10,
		MemoryLimit:               MemoryLimitAuto,
		TrimExcess:                64 << 20,

		// Login.
		AuthWorkers: 0,
		AuthQueue:   1024,
	}
}

// Validate checks every field and returns an error naming the first bad
// one, or nil.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil && len(c.Listeners) == 0 {
		return fmt.Errorf("%w: listen %q: %v", ErrConfig, c.Listen, err)
	}
	if err := c.validateListeners(); err != nil {
		return err
	}
	if err := c.Cluster.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	checks := []struct {
		ok   bool
		name string
		val  any
		want string
	}{
		{c.Loops >= 0 && c.Loops <= 1024, "loops", c.Loops, "0..1024"},
		{c.MaxConnections >= -1, "max_connections", c.MaxConnections, "-1 (no cap), 0 (derived from the descriptor limit) or a count"},
		{c.MaxPacketSize >= 16 && c.MaxPacketSize <= MaxPacketSizeLimit, "max_packet_size", c.MaxPacketSize, "16..268435460"},
		{c.MaxInflight >= 1 && c.MaxInflight <= 65535, "max_inflight", c.MaxInflight, "1..65535"},
		{c.MaxQueuedMessages >= 0, "max_queued_messages", c.MaxQueuedMessages, ">= 0"},
		{c.MaxOutboundBytes >= 1024 && c.MaxOutboundBytes <= 1<<30, "max_outbound_bytes", c.MaxOutboundBytes, "1024..1073741824"},
		{c.SlowConsumerTimeout > 0, "slow_consumer_timeout", c.SlowConsumerTimeout, "> 0"},
		{c.ConnectTimeout > 0, "connect_timeout", c.ConnectTimeout, "> 0"},
		{c.TLSHandshakes >= 1 && c.TLSHandshakes <= 1<<20, "tls_handshakes", c.TLSHandshakes, "1..1048576"},
		{c.KeepAliveMin >= 0 && c.KeepAliveMin <= 65535*time.Second, "keep_alive_min", c.KeepAliveMin, "0..65535s"},
		{c.KeepAliveMax >= 0 && c.KeepAliveMax <= 65535*time.Second, "keep_alive_max", c.KeepAliveMax, "0..65535s"},
		{c.KeepAliveMax == 0 || c.KeepAliveMin <= c.KeepAliveMax, "keep_alive_min", c.KeepAliveMin, "<= keep_alive_max"},
		{c.SysInterval == 0 || c.SysInterval >= 100*time.Millisecond, "sys_interval", c.SysInterval, "0 or >= 100ms"},
		{c.TrimIdle >= 0, "trim_idle", c.TrimIdle, ">= 0"},
		{c.Logger != nil || validLevel(c.LogLevel), "log_level", c.LogLevel, "debug, info, warn or error"},
		{c.IO == IOEpoll || c.IO == IOUring || c.IO == IOAuto, "io", c.IO, "epoll, io_uring or auto"},
		{c.ACLDenyReason == ACLDenyNotAuthorized || c.ACLDenyReason == ACLDenyUnspecified, "acl_deny_reason", c.ACLDenyReason,
			ACLDenyNotAuthorized + " or " + ACLDenyUnspecified},
		{c.Logger != nil || c.LogFormat == "" || c.LogFormat == "text" || c.LogFormat == "json", "log_format", c.LogFormat, "text or json"},
		{c.Store == StoreMemory || c.Store == StoreDisk, "store", c.Store, "memory or disk"},
		{c.Store != StoreDisk || c.DataDir != "", "data_dir", c.DataDir, "a directory path"},
		{validFsync(c.Fsync), "fsync", c.Fsync, "always, never, or a duration such as 10ms"},
		{c.StoreMemTableBytes >= 1<<20 && c.StoreMemTableBytes <= 1<<30, "store_memtable_bytes", c.StoreMemTableBytes, "1048576 (1 MiB) to 1073741824 (1 GiB)"},
		{c.MaxClientIDLength >= 23 && c.MaxClientIDLength <= 65535, "max_client_id_length", c.MaxClientIDLength, "23..65535"},
		{c.MaxSessionExpiry >= 0, "max_session_expiry", c.MaxSessionExpiry, ">= 0"},
		{c.ReceiveMaximum >= 1 && c.ReceiveMaximum <= 65535, "receive_maximum", c.ReceiveMaximum, "1..65535"},
		{c.MaximumQoS >= 0 && c.MaximumQoS <= 2, "maximum_qos", c.MaximumQoS, "0..2"},
		{c.TopicAliasMaximum >= 0 && c.TopicAliasMaximum <= 65535, "topic_alias_maximum", c.TopicAliasMaximum, "0..65535"},
		{c.PasswordFile == "" || c.Authenticator == nil, "password_file", c.PasswordFile, "unset when an Authenticator is given"},

		// Limits.
		{c.MaxSessions >= 1, "max_sessions", c.MaxSessions, ">= 1"},
		{c.MaxSubscriptionsPerClient >= 1, "max_subscriptions_per_client", c.MaxSubscriptionsPerClient, ">= 1"},
		{c.MaxRetainedMessages >= 0, "max_retained_messages", c.MaxRetainedMessages, ">= 0"},
		{c.MaxRetainedBytes >= 0, "max_retained_bytes", c.MaxRetainedBytes, ">= 0"},
		{c.MaxQueuedBytes >= 1024, "max_queued_bytes", c.MaxQueuedBytes, ">= 1024"},
		{c.MaxQueuedBytesTotal >= c.MaxQueuedBytes, "max_queued_bytes_total", c.MaxQueuedBytesTotal, ">= max_queued_bytes"},
		{c.MaxHandoverBytes >= 64<<10, "max_handover_bytes", c.MaxHandoverBytes, ">= 65536"},
		{c.MaxDelayedWills >= 0, "max_delayed_wills", c.MaxDelayedWills, ">= 0"},
		{c.MaxDelayedWillBytes >= 0, "max_delayed_will_bytes", c.MaxDelayedWillBytes, ">= 0"},
		{c.MaxTopicLevels >= 1 && c.MaxTopicLevels <= 65536, "max_topic_levels", c.MaxTopicLevels, "1..65536"},
		{c.MaxTopicLength >= 1 && c.MaxTopicLength <= 65535, "max_topic_length", c.MaxTopicLength, "1..65535"},
		{c.MaxSubscribeFilters >= 1, "max_subscribe_filters", c.MaxSubscribeFilters, ">= 1"},
		{c.MaxUserProperties >= 1 && c.MaxUserProperties <= 65535, "max_user_properties", c.MaxUserProperties, "1..65535"},
		{c.TopicAliasBytes >= 0, "topic_alias_bytes", c.TopicAliasBytes, ">= 0"},
		{c.MatchCacheBytes >= 0, "match_cache_bytes", c.MatchCacheBytes, ">= 0"},
		{c.MaxPartialBytes >= c.MaxPacketSize, "max_partial_bytes", c.MaxPartialBytes, ">= max_packet_size"},
		{c.MaxTakeoverBytes >= 0, "max_takeover_bytes", c.MaxTakeoverBytes, ">= 0"},
		{c.MemoryLimit >= MemoryLimitAuto, "memory_limit", c.MemoryLimit, "auto, 0 (leave the runtime's) or a size such as 1073741824, 512MiB or 1GiB"},
		{c.TrimExcess >= 0, "trim_excess", c.TrimExcess, ">= 0 (0: off)"},

		// Login.
		{c.AuthWorkers >= 0 && c.AuthWorkers <= 1024, "auth_workers", c.AuthWorkers, "0 (automatic) or 1..1024"},
		{c.AuthQueue >= 0 && c.AuthQueue <= 1<<20, "auth_queue", c.AuthQueue, "0..1048576"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return fmt.Errorf("%w: %s = %v, want %s", ErrConfig, ch.name, ch.val, ch.want)
		}
	}
	return nil
}

func validLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "warning", "error":
		return true
	}
	return false
}

// slogLevel maps LogLevel to a slog level; Validate has checked it.
func slogLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// The values of Config.ACLDenyReason.
const (
	ACLDenyNotAuthorized = "not-authorized"
	ACLDenyUnspecified   = "unspecified"
)

// The values of Config.IO.
const (
	IOEpoll = "epoll"
	IOUring = "io_uring"
	IOAuto  = "auto"
)

// The values of Config.Store.
const (
	StoreMemory = "memory"
	StoreDisk   = "disk"
)

func validFsync(s string) bool {
	_, err := persist.ParseSync(s)
	return err == nil
}
