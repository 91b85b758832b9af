package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/engine/auth"
	"github.com/gust-mqtt/gust/engine/ops"
)

func init() { commands["serve"] = runServe }

// shutdownGrace bounds a graceful shutdown after SIGINT/SIGTERM.
const shutdownGrace = 10 * time.Second

// runServe implements `gust serve`: flags and an optional TOML file bound to
// engine.Config, then the broker until SIGINT or SIGTERM; SIGHUP reloads
// the password and ACL files.
func runServe(args []string) int {
	if err := engine.CheckPlatform(); err != nil {
		fmt.Fprintln(os.Stderr, "gust serve:", err)
		return 1
	}
	cfg, oc, err := loadServe(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust serve:", err)
		return 2
	}
	b, err := engine.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust serve:", err)
		return 2
	}
	var hs *ops.Server
	if oc.Listen != "" {
		// Before the broker: /readyz answers, not ready, during recovery.
		hs = ops.New(oc, b)
		if err := hs.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "gust serve:", err)
			return 1
		}
	}
	// Before Start, which logs that the broker listens: a signal sent as
	// soon as that line appears is handled, not fatal.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	if err := b.Start(); err != nil {
		signal.Stop(sig)
		fmt.Fprintln(os.Stderr, "gust serve:", err)
		return 1
	}
	failed := waitSignals(b, sig, oc.Users, cfg.PasswordFile)
	signal.Stop(sig)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if hs != nil {
		defer func() { _ = hs.Shutdown(ctx) }()
	}
	if err := b.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gust serve: shutdown:", err)
		return 1
	}
	if failed != nil {
		fmt.Fprintln(os.Stderr, "gust serve:", failed)
		return 1
	}
	return 0
}

// waitSignals returns at the first SIGINT or SIGTERM from sig (nil), or
// with the error when the broker stops serving on its own (Done); each
// SIGHUP reloads the password and ACL files and the TLS certificates (a bad
// one is logged and the old kept).
func waitSignals(b *engine.Broker, sig <-chan os.Signal, httpUsers *auth.Users, passwordFile string) error {
	for {
		select {
		case err := <-b.Done():
			return err
		case s := <-sig:
			if s != unix.SIGHUP {
				return nil
			}
			_ = b.ReloadPasswordFile() // logged by the broker
			_ = b.ReloadACLFile()
			_ = b.ReloadTLS()
			if httpUsers != nil {
				if u, err := auth.LoadUsers(passwordFile); err == nil {
					httpUsers.Replace(u)
				} // else the broker logged it and keeps the old users too
			}
		}
	}
}

// serveDefaults is the configuration of `gust serve` before any file or
// flag: the engine's defaults, but a server keeps what it acknowledged
// (the disk store), where an embedder chooses.
func serveDefaults() engine.Config {
	cfg := engine.DefaultConfig()
	cfg.Store = engine.StoreDisk
	return cfg
}

// loadServeConfig is loadServe without the HTTP listener's settings.
func loadServeConfig(args []string, stderr io.Writer) (engine.Config, error) {
	cfg, _, err := loadServe(args, stderr)
	return cfg, err
}

// httpDefaults are the HTTP listener's settings before any file or flag:
// off.
func httpDefaults() ops.Config {
	return ops.Config{MaxRequests: 16}
}

// loadServe builds the broker's and the HTTP listener's configurations:
// defaults, then the TOML file named by --config (if any), then every
// flag given explicitly. Both have passed their Validate.
func loadServe(args []string, stderr io.Writer) (engine.Config, ops.Config, error) {
	cfg, oc, err := loadServeFlags(args, stderr)
	if err != nil {
		return engine.Config{}, ops.Config{}, err
	}
	if oc.Listen != "" {
		cfg.KeepUsernames = true // the admin API lists and filters them
		if cfg.PasswordFile != "" {
			if oc.Users, err = auth.LoadUsers(cfg.PasswordFile); err != nil {
				return engine.Config{}, ops.Config{}, fmt.Errorf("password file: %w", err)
			}
		}
	}
	if err := oc.Validate(); err != nil {
		return engine.Config{}, ops.Config{}, err
	}
	return cfg, oc, nil
}

// loadServeFlags is the broker's configuration of loadServe, and the
// HTTP listener's settings as given.
func loadServeFlags(args []string, stderr io.Writer) (engine.Config, ops.Config, error) {
	// First pass: only find --config, so the file sits under the flags.
	path, err := configPath(args)
	if err != nil {
		return engine.Config{}, ops.Config{}, err
	}
	cfg := serveDefaults()
	lf := new(listenFlags)
	oc := httpDefaults()
	fs := newServeFlagsWith(&cfg, &oc, lf, stderr)
	anonSet := false // allow_anonymous given explicitly, in the file or as a flag
	if path != "" {
		keys, err := applyConfigFile(fs, path, "config")
		if err != nil {
			return engine.Config{}, ops.Config{}, err
		}
		anonSet = keys["allow_anonymous"]
		if keys[listenerTable] {
			if lf.fileListeners, err = readListenerBlocks(path); err != nil {
				return engine.Config{}, ops.Config{}, err
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		return engine.Config{}, ops.Config{}, err
	}
	if fs.NArg() > 0 {
		return engine.Config{}, ops.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { anonSet = anonSet || f.Name == "allow-anonymous" })
	if err := lf.apply(&cfg); err != nil {
		return engine.Config{}, ops.Config{}, err
	}
	if cfg.PasswordFile != "" {
		if !anonSet {
			cfg.AllowAnonymous = false // a users file means logins are wanted
		}
		// Checked here too so that a bad file stops start-up with its line.
		if _, err := auth.LoadUsers(cfg.PasswordFile); err != nil {
			return engine.Config{}, ops.Config{}, fmt.Errorf("password file: %w", err)
		}
	}
	if cfg.ACLFile != "" {
		if _, err := engine.LoadACL(cfg.ACLFile); err != nil { // stops start-up with its line
			return engine.Config{}, ops.Config{}, fmt.Errorf("acl file: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return engine.Config{}, ops.Config{}, err
	}
	return cfg, oc, nil
}

// configPath returns the value of --config (or -config) in args, "" if absent.
func configPath(args []string) (string, error) {
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasVal {
			return val, nil
		}
		if i+1 >= len(args) {
			return "", errors.New("flag needs an argument: -config")
		}
		return args[i+1], nil
	}
	return "", nil
}

// newServeFlags binds every flag of `gust serve` to a field of cfg or of
// oc (the HTTP listener); the current field values are the flag defaults.
// The same table gives the TOML keys (applyConfigFile) and the example
// configuration file.
func newServeFlags(cfg *engine.Config, oc *ops.Config, stderr io.Writer) *flag.FlagSet {
	return newServeFlagsWith(cfg, oc, new(listenFlags), stderr)
}

// newServeFlagsWith is newServeFlags with the listener flags bound to lf.
func newServeFlagsWith(cfg *engine.Config, oc *ops.Config, lf *listenFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gust serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "TOML configuration `file` (flags given explicitly override it)")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "TCP address to listen on, `host:port`: the default is loopback only; :1883 listens on every interface (\"\" for none when other listeners are given)")
	lf.bind(fs)
	fs.IntVar(&cfg.TLSHandshakes, "tls-handshakes", cfg.TLSHandshakes, "TLS handshakes in progress at once, each on a goroutine off the event loops for at most connect-timeout; past it a connection is closed at accept")
	fs.IntVar(&cfg.Loops, "loops", cfg.Loops, "number of event loops (0 = one per core)")
	fs.StringVar(&cfg.IO, "io", cfg.IO, "network backend: epoll (fastest for saturating QoS 0 streams), io_uring (less CPU per delivery at moderate rates, faster QoS 1), or auto (io_uring where the kernel allows it, else epoll)")
	fs.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "maximum concurrent connections (0 = derived from the descriptor limit, -1 = no cap)")
	fs.IntVar(&cfg.MaxPacketSize, "max-packet-size", cfg.MaxPacketSize, "largest accepted packet in bytes")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", cfg.MaxInflight, "QoS 1/2 messages in flight to one client")
	fs.IntVar(&cfg.MaxQueuedMessages, "max-queued-messages", cfg.MaxQueuedMessages, "messages queued per session")
	fs.IntVar(&cfg.MaxOutboundBytes, "max-outbound-bytes", cfg.MaxOutboundBytes, "unsent bytes allowed per connection")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "time a new connection has to send CONNECT")
	fs.DurationVar(&cfg.SlowConsumerTimeout, "slow-consumer-timeout", cfg.SlowConsumerTimeout, "time over the outbound limit before a client is disconnected")
	fs.BoolVar(&cfg.QoS0Backpressure, "qos0-backpressure", cfg.QoS0Backpressure, "stop reading a QoS 0 publisher while every subscriber of its messages is congested, instead of reading them to drop them")
	fs.DurationVar(&cfg.KeepAliveMin, "keep-alive-min", cfg.KeepAliveMin, "smallest keep alive honoured (0 = no bound)")
	fs.DurationVar(&cfg.KeepAliveMax, "keep-alive-max", cfg.KeepAliveMax, "largest keep alive honoured (0 = no bound)")
	fs.DurationVar(&cfg.MaxSessionExpiry, "max-session-expiry", cfg.MaxSessionExpiry, "longest time an offline session is kept (0 = forever)")
	fs.DurationVar(&cfg.SysInterval, "sys-interval", cfg.SysInterval, "period of $SYS publications (0 = off)")
	fs.DurationVar(&cfg.TrimIdle, "trim-idle", cfg.TrimIdle, "return freed memory to the OS after this long without connects, disconnects or publishes (0 = off)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log lines on standard error as text (key=value) or json (one object per line)")
	fs.BoolVar(&cfg.ConnectionMessages, "connection-messages", cfg.ConnectionMessages, "log one info line per client connected, refused or disconnected (with the reason); off for very high connection rates")
	fs.BoolVar(&cfg.AllowAnonymous, "allow-anonymous", cfg.AllowAnonymous, "accept clients without a user name (with --password-file: only if given explicitly)")
	fs.StringVar(&cfg.PasswordFile, "password-file", cfg.PasswordFile, "users `file` written by 'gust passwd': user name/password and MQTT 5 SCRAM-SHA-256 logins are checked against it; clients without a user name are then refused unless allow-anonymous is set explicitly")
	fs.StringVar(&cfg.Store, "store", cfg.Store, "where durable state goes: disk (under data-dir: retained messages, persistent sessions and their queued messages survive a restart or crash) or memory (lost on restart)")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory of the disk store")
	fs.Int64Var(&cfg.StoreMemTableBytes, "store-memtable-bytes", cfg.StoreMemTableBytes, "size of the disk store's in-memory table in bytes (up to four take memory at once)")
	fs.StringVar(&cfg.Fsync, "fsync", cfg.Fsync, "what a crash may lose of what was acknowledged: always (nothing), a window such as 10ms, or never (the OS decides)")
	fs.IntVar(&cfg.AuthWorkers, "auth-workers", cfg.AuthWorkers, "goroutines checking passwords off the event loops (0 = half the CPUs, at least 1)")
	fs.IntVar(&cfg.AuthQueue, "auth-queue", cfg.AuthQueue, "logins waiting for a password check; past it CONNECT is refused as server busy")
	fs.StringVar(&cfg.ACLFile, "acl-file", cfg.ACLFile, "access control list `file` in Mosquitto's format (topic/pattern/user lines): who may publish and subscribe where; reloaded on SIGHUP")
	fs.StringVar(&cfg.ACLDenyReason, "acl-deny-reason", cfg.ACLDenyReason, "what an MQTT 5 client hears of an ACL refusal: not-authorized (0x87 with a Reason String) or unspecified (0x80, nothing more)")
	fs.BoolVar(&cfg.AllowZeroLengthClientID, "allow-zero-length-client-id", cfg.AllowZeroLengthClientID, "assign an id to clean-session clients that send none")
	fs.IntVar(&cfg.MaxClientIDLength, "max-client-id-length", cfg.MaxClientIDLength, "longest accepted client id in bytes")
	fs.IntVar(&cfg.ReceiveMaximum, "receive-maximum", cfg.ReceiveMaximum, "unacknowledged QoS 1/2 messages a client may send at once")
	fs.IntVar(&cfg.TopicAliasMaximum, "topic-alias-maximum", cfg.TopicAliasMaximum, "highest MQTT 5 topic alias a client may use (0 = none)")
	fs.BoolVar(&cfg.RetainAvailable, "retain-available", cfg.RetainAvailable, "enable retained messages")
	fs.IntVar(&cfg.MaximumQoS, "maximum-qos", cfg.MaximumQoS, "highest QoS accepted in a PUBLISH and granted to a subscription (0..2)")
	fs.BoolVar(&cfg.WildcardSubAvailable, "wildcard-subscription-available", cfg.WildcardSubAvailable, "accept topic filters with + or #")
	fs.BoolVar(&cfg.SubIDAvailable, "subscription-identifier-available", cfg.SubIDAvailable, "accept MQTT 5 subscription identifiers")
	fs.BoolVar(&cfg.SharedSubAvailable, "shared-subscription-available", cfg.SharedSubAvailable, "accept shared subscriptions ($share/{group}/{filter})")
	// Limits.
	fs.IntVar(&cfg.MaxSessions, "max-sessions", cfg.MaxSessions, "sessions kept, online and offline; past it the oldest offline one is discarded, or the CONNECT refused if none")
	fs.IntVar(&cfg.MaxSubscriptionsPerClient, "max-subscriptions-per-client", cfg.MaxSubscriptionsPerClient, "subscriptions one session holds; past it SUBACK 0x97 (3.1.1: 0x80)")
	fs.IntVar(&cfg.MaxRetainedMessages, "max-retained-messages", cfg.MaxRetainedMessages, "retained messages stored; past it new topics are not retained")
	fs.IntVar(&cfg.MaxRetainedBytes, "max-retained-bytes", cfg.MaxRetainedBytes, "bytes of retained messages (topic, payload, properties)")
	fs.IntVar(&cfg.MaxQueuedBytes, "max-queued-bytes", cfg.MaxQueuedBytes, "bytes of QoS 1/2 messages one session holds, queued or unacknowledged")
	fs.IntVar(&cfg.MaxQueuedBytesTotal, "max-queued-bytes-total", cfg.MaxQueuedBytesTotal, "max-queued-bytes summed over every session")
	fs.IntVar(&cfg.MaxHandoverBytes, "max-handover-bytes", cfg.MaxHandoverBytes, "bytes of QoS 0 messages waiting for one event loop from the others")
	fs.IntVar(&cfg.MaxDelayedWills, "max-delayed-wills", cfg.MaxDelayedWills, "MQTT 5 wills waiting for their delay; past it a will is published at once")
	fs.IntVar(&cfg.MaxDelayedWillBytes, "max-delayed-will-bytes", cfg.MaxDelayedWillBytes, "bytes of the wills waiting for their delay")
	fs.IntVar(&cfg.MaxTopicLevels, "max-topic-levels", cfg.MaxTopicLevels, "most levels in a topic name or filter")
	fs.IntVar(&cfg.MaxTopicLength, "max-topic-length", cfg.MaxTopicLength, "longest topic name or filter in bytes (up to 65535)")
	fs.IntVar(&cfg.MaxSubscribeFilters, "max-subscribe-filters", cfg.MaxSubscribeFilters, "most topic filters in one SUBSCRIBE (the rest are refused)")
	fs.IntVar(&cfg.MaxUserProperties, "max-user-properties", cfg.MaxUserProperties, "most MQTT 5 User Properties in one incoming packet")
	fs.IntVar(&cfg.TopicAliasBytes, "topic-alias-bytes", cfg.TopicAliasBytes, "bytes of topics an MQTT 5 connection may be given topic aliases for (0 = no aliases)")
	fs.IntVar(&cfg.MatchCacheBytes, "match-cache-bytes", cfg.MatchCacheBytes, "bytes of subscription match results cached per event loop (0 = no cache)")
	fs.IntVar(&cfg.MaxPartialBytes, "max-partial-bytes", cfg.MaxPartialBytes, "bytes held by large packets not yet whole, all connections together; past it a connection is closed (v5: DISCONNECT 0x97)")
	fs.IntVar(&cfg.MaxTakeoverBytes, "max-takeover-bytes", cfg.MaxTakeoverBytes, "bytes a connection may send after its CONNECT while its session takeover is pending")
	fs.Var(&cfg.MemoryLimit, "memory-limit", "Go runtime soft memory limit: auto (3/4 of the machine's or cgroup's memory), 0 (none), or a size such as 512MiB; GOMEMLIMIT overrides it")
	fs.IntVar(&cfg.TrimExcess, "trim-excess", cfg.TrimExcess, "return memory to the OS when the runtime holds this many bytes over twice the live heap, or after many connections closed (0 = off)")
	// Cluster (engine/cluster).
	fs.BoolVar(&cfg.Cluster.Enabled, "cluster", cfg.Cluster.Enabled, "join other Gust nodes over NATS as one broker: messages and retained messages published on any node reach the subscribers of every node")
	fs.StringVar(&cfg.Cluster.Name, "cluster-name", cfg.Cluster.Name, "name of the cluster, the same on every node: letters, digits, - and _ (empty = gust)")
	fs.StringVar(&cfg.Cluster.Node, "cluster-node", cfg.Cluster.Node, "name of this node, unique in the cluster: letters, digits, - and _ (empty = host-pid)")
	fs.StringVar(&cfg.Cluster.Listen, "cluster-listen", cfg.Cluster.Listen, "route address of the embedded NATS server, `host:port`, where the other nodes connect (empty = 127.0.0.1:6222; :6222 for every interface)")
	fs.StringVar(&cfg.Cluster.Routes, "cluster-routes", cfg.Cluster.Routes, "route addresses of other nodes to join through, `host:port` or nats-route://host:port, comma separated; one live node is enough, the others are learnt from it")
	fs.StringVar(&cfg.Cluster.Token, "cluster-token", cfg.Cluster.Token, "secret every node of the cluster shares: a route from a node without it is refused (empty = routes unauthenticated; not used with cluster_nats_url, whose URL carries its credentials)")
	fs.StringVar(&cfg.Cluster.NATSURL, "cluster-nats-url", cfg.Cluster.NATSURL, "use an existing NATS server or cluster instead of embedding one: `nats://host:port`, comma separated for several")
	fs.IntVar(&cfg.Cluster.PendingMessages, "cluster-pending-messages", cfg.Cluster.PendingMessages, "messages from other nodes received and not yet routed; past it NATS drops them for this node (counted, logged as a slow node)")
	fs.IntVar(&cfg.Cluster.PendingBytes, "cluster-pending-bytes", cfg.Cluster.PendingBytes, "bytes of messages from other nodes handed to the event loops and not yet routed; past it the receiver waits")
	fs.IntVar(&cfg.Cluster.Replicas, "cluster-replicas", cfg.Cluster.Replicas, "copies JetStream keeps of the session ownership bucket, 1 to 5 (0 = min(3, nodes), counted when the first node creates it)")
	fs.IntVar(&cfg.Cluster.ClaimQueue, "cluster-claim-queue", cfg.Cluster.ClaimQueue, "CONNECTs waiting for their claim of the session in the cluster; past it a CONNECT is refused with Server unavailable")
	// The HTTP listener for operations (engine/ops).
	fs.StringVar(&oc.Listen, "http-listen", oc.Listen, "HTTP address for operations, `host:port` such as 127.0.0.1:8080: /metrics (Prometheus), /healthz, /readyz, the admin API under /api/v1/ and the dashboard at / (empty = off); off loopback, http-token or password-file must be set")
	fs.StringVar(&oc.Token, "http-token", oc.Token, "bearer token the HTTP listener asks for everything but /healthz and /readyz (Authorization: Bearer, or ?token= on the dashboard); users of password-file may also log in with basic authentication")
	fs.IntVar(&oc.MaxRequests, "http-max-requests", oc.MaxRequests, "HTTP requests served at once; past it 503")
	fs.BoolVar(&oc.Pprof, "pprof", oc.Pprof, "serve Go profiles under /debug/pprof/ on http-listen")
	return withForms(fs)
}
