package engine

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gust-mqtt/gust/engine/auth"
)

// Config holds every setting of the broker. The zero value is not usable;
// start from DefaultConfig and override fields. Config is bound to the
// `gust serve` flags and its TOML file, hence the toml tags; durations are
// written in TOML as strings such as "10s".
type Config struct {
	// Listen is the TCP address to listen on, "host:port". Port 0 picks a
	// free port; Broker.Addr reports the one bound. Default ":1883".
	Listen string `toml:"listen"`

	// Loops is the number of gnet event loops; 0 means one per CPU core.
	Loops int `toml:"loops"`

	// MaxConnections caps the number of concurrently open client
	// connections; connections past it are closed on accept. 0 means no cap.
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
	// counted and QoS 1/2 messages wait in the session queue.
	MaxOutboundBytes int `toml:"max_outbound_bytes"`

	// ConnectTimeout is how long a new connection may take to send its
	// CONNECT before it is closed.
	ConnectTimeout time.Duration `toml:"connect_timeout"`

	// SlowConsumerTimeout is how long a connection may stay over
	// MaxOutboundBytes before it is disconnected as a slow consumer.
	SlowConsumerTimeout time.Duration `toml:"slow_consumer_timeout"`

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
	// refusal is answered with SUBACK code 0x80.
	CanSubscribe(client *ClientInfo, filter []byte, qos byte) bool
}

// MaxPacketSizeLimit is the largest packet MQTT can express: 1 byte of
// header, 4 bytes of remaining length and 268435455 bytes of body.
const MaxPacketSizeLimit = 1 + 4 + 268435455

// DefaultConfig returns the default settings: listen on :1883, one event
// loop per core, limits close to Mosquitto's defaults.
func DefaultConfig() Config {
	return Config{
		Listen:                  ":1883",
		Loops:                   0,
		MaxConnections:          0,
		MaxPacketSize:           1 << 20, // like EMQX's 1 MiB max_packet_size
		MaxInflight:             20,      // Mosquitto max_inflight_messages
		MaxQueuedMessages:       1000,    // Mosquitto max_queued_messages
		MaxOutboundBytes:        4 << 20,
		SlowConsumerTimeout:     10 * time.Second,
		ConnectTimeout:          10 * time.Second,
		KeepAliveMin:            0,
		KeepAliveMax:            0,
		SysInterval:             10 * time.Second, // Mosquitto sys_interval
		TrimIdle:                5 * time.Second,
		LogLevel:                "info",
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
		AuthWorkers:             0,
		AuthQueue:               1024,
	}
}

// Validate checks every field and returns an error naming the first bad
// one, or nil.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("%w: listen %q: %v", ErrConfig, c.Listen, err)
	}
	checks := []struct {
		ok   bool
		name string
		val  any
		want string
	}{
		{c.Loops >= 0 && c.Loops <= 1024, "loops", c.Loops, "0..1024"},
		{c.MaxConnections >= 0, "max_connections", c.MaxConnections, ">= 0"},
		{c.MaxPacketSize >= 16 && c.MaxPacketSize <= MaxPacketSizeLimit, "max_packet_size", c.MaxPacketSize, "16..268435460"},
		{c.MaxInflight >= 1 && c.MaxInflight <= 65535, "max_inflight", c.MaxInflight, "1..65535"},
		{c.MaxQueuedMessages >= 0, "max_queued_messages", c.MaxQueuedMessages, ">= 0"},
		{c.MaxOutboundBytes >= 1024, "max_outbound_bytes", c.MaxOutboundBytes, ">= 1024"},
		{c.SlowConsumerTimeout > 0, "slow_consumer_timeout", c.SlowConsumerTimeout, "> 0"},
		{c.ConnectTimeout > 0, "connect_timeout", c.ConnectTimeout, "> 0"},
		{c.KeepAliveMin >= 0 && c.KeepAliveMin <= 65535*time.Second, "keep_alive_min", c.KeepAliveMin, "0..65535s"},
		{c.KeepAliveMax >= 0 && c.KeepAliveMax <= 65535*time.Second, "keep_alive_max", c.KeepAliveMax, "0..65535s"},
		{c.KeepAliveMax == 0 || c.KeepAliveMin <= c.KeepAliveMax, "keep_alive_min", c.KeepAliveMin, "<= keep_alive_max"},
		{c.SysInterval == 0 || c.SysInterval >= 100*time.Millisecond, "sys_interval", c.SysInterval, "0 or >= 100ms"},
		{c.TrimIdle >= 0, "trim_idle", c.TrimIdle, ">= 0"},
		{c.Logger != nil || validLevel(c.LogLevel), "log_level", c.LogLevel, "debug, info, warn or error"},
		{c.MaxClientIDLength >= 23 && c.MaxClientIDLength <= 65535, "max_client_id_length", c.MaxClientIDLength, "23..65535"},
		{c.MaxSessionExpiry >= 0, "max_session_expiry", c.MaxSessionExpiry, ">= 0"},
		{c.ReceiveMaximum >= 1 && c.ReceiveMaximum <= 65535, "receive_maximum", c.ReceiveMaximum, "1..65535"},
		{c.MaximumQoS >= 0 && c.MaximumQoS <= 2, "maximum_qos", c.MaximumQoS, "0..2"},
		{c.TopicAliasMaximum >= 0 && c.TopicAliasMaximum <= 65535, "topic_alias_maximum", c.TopicAliasMaximum, "0..65535"},
		{c.PasswordFile == "" || c.Authenticator == nil, "password_file", c.PasswordFile, "unset when an Authenticator is given"},
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
