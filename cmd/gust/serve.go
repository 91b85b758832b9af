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
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/engine/auth"
)

func init() { commands["serve"] = runServe }

// shutdownGrace bounds a graceful shutdown after SIGINT/SIGTERM.
const shutdownGrace = 10 * time.Second

// runServe implements `gust serve`: flags and an optional TOML file bound to
// engine.Config, then the broker until SIGINT or SIGTERM; SIGHUP reloads
// the password file.
func runServe(args []string) int {
	cfg, err := loadServeConfig(args, os.Stderr)
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
	if err := b.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "gust serve:", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	waitSignals(b, sig)
	signal.Stop(sig)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gust serve: shutdown:", err)
		return 1
	}
	return 0
}

// waitSignals returns at the first SIGINT or SIGTERM from sig; each SIGHUP
// reloads the password file (a bad one is logged and the old kept).
func waitSignals(b *engine.Broker, sig <-chan os.Signal) {
	for s := range sig {
		if s != syscall.SIGHUP {
			return
		}
		_ = b.ReloadPasswordFile() // logged by the broker
	}
}

// loadServeConfig builds the broker configuration: defaults, then the TOML
// file named by --config (if any), then every flag given explicitly. The
// result has passed Config.Validate.
func loadServeConfig(args []string, stderr io.Writer) (engine.Config, error) {
	// First pass: only find --config, so the file sits under the flags.
	path, err := configPath(args)
	if err != nil {
		return engine.Config{}, err
	}
	cfg := engine.DefaultConfig()
	anonSet := false // allow_anonymous given explicitly, in the file or as a flag
	if path != "" {
		md, err := decodeConfigFile(path, &cfg)
		if err != nil {
			return engine.Config{}, err
		}
		anonSet = md.IsDefined("allow_anonymous")
	}
	fs := newServeFlags(&cfg, stderr)
	if err := fs.Parse(args); err != nil {
		return engine.Config{}, err
	}
	if fs.NArg() > 0 {
		return engine.Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { anonSet = anonSet || f.Name == "allow-anonymous" })
	if cfg.PasswordFile != "" {
		if !anonSet {
			cfg.AllowAnonymous = false // a users file means logins are wanted
		}
		// Checked here too so that a bad file stops start-up with its line.
		if _, err := auth.LoadUsers(cfg.PasswordFile); err != nil {
			return engine.Config{}, fmt.Errorf("password file: %w", err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return engine.Config{}, err
	}
	return cfg, nil
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

// decodeConfigFile reads a TOML file into cfg. Unknown keys are an error, so a
// misspelt setting stops start-up instead of being ignored.
func decodeConfigFile(path string, cfg *engine.Config) (toml.MetaData, error) {
	md, err := toml.DecodeFile(path, cfg)
	if err != nil {
		return md, fmt.Errorf("config file %s: %w", path, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		keys := make([]string, len(undec))
		for i, k := range undec {
			keys[i] = k.String()
		}
		return md, fmt.Errorf("config file %s: unknown setting(s): %s", path, strings.Join(keys, ", "))
	}
	return md, nil
}

// newServeFlags binds every flag of `gust serve` to a field of cfg; the
// current field values are the flag defaults.
func newServeFlags(cfg *engine.Config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gust serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "TOML configuration `file` (flags given explicitly override it)")
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "TCP address to listen on, `host:port`")
	fs.IntVar(&cfg.Loops, "loops", cfg.Loops, "number of event loops (0 = one per core)")
	fs.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "maximum concurrent connections (0 = no limit)")
	fs.IntVar(&cfg.MaxPacketSize, "max-packet-size", cfg.MaxPacketSize, "largest accepted packet in bytes")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", cfg.MaxInflight, "QoS 1/2 messages in flight to one client")
	fs.IntVar(&cfg.MaxQueuedMessages, "max-queued-messages", cfg.MaxQueuedMessages, "messages queued per session")
	fs.IntVar(&cfg.MaxOutboundBytes, "max-outbound-bytes", cfg.MaxOutboundBytes, "unsent bytes allowed per connection")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "time a new connection has to send CONNECT")
	fs.DurationVar(&cfg.SlowConsumerTimeout, "slow-consumer-timeout", cfg.SlowConsumerTimeout, "time over the outbound limit before a client is disconnected")
	fs.DurationVar(&cfg.KeepAliveMin, "keep-alive-min", cfg.KeepAliveMin, "smallest keep alive honoured (0 = no bound)")
	fs.DurationVar(&cfg.KeepAliveMax, "keep-alive-max", cfg.KeepAliveMax, "largest keep alive honoured (0 = no bound)")
	fs.DurationVar(&cfg.MaxSessionExpiry, "max-session-expiry", cfg.MaxSessionExpiry, "longest time an offline session is kept (0 = forever)")
	fs.DurationVar(&cfg.SysInterval, "sys-interval", cfg.SysInterval, "period of $SYS publications (0 = off)")
	fs.DurationVar(&cfg.TrimIdle, "trim-idle", cfg.TrimIdle, "return freed memory to the OS after this long without connects, disconnects or publishes (0 = off)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.BoolVar(&cfg.AllowAnonymous, "allow-anonymous", cfg.AllowAnonymous, "accept clients without a user name (with --password-file: only if given explicitly)")
	fs.StringVar(&cfg.PasswordFile, "password-file", cfg.PasswordFile, "users `file` written by 'gust passwd': user name/password and MQTT 5 SCRAM-SHA-256 logins are checked against it; clients without a user name are then refused unless allow-anonymous is set explicitly")
	fs.IntVar(&cfg.AuthWorkers, "auth-workers", cfg.AuthWorkers, "goroutines checking passwords off the event loops (0 = half the CPUs, at least 1)")
	fs.IntVar(&cfg.AuthQueue, "auth-queue", cfg.AuthQueue, "logins waiting for a password check; past it CONNECT is refused as server busy")
	fs.BoolVar(&cfg.AllowZeroLengthClientID, "allow-zero-length-client-id", cfg.AllowZeroLengthClientID, "assign an id to clean-session clients that send none")
	fs.IntVar(&cfg.MaxClientIDLength, "max-client-id-length", cfg.MaxClientIDLength, "longest accepted client id in bytes")
	fs.IntVar(&cfg.ReceiveMaximum, "receive-maximum", cfg.ReceiveMaximum, "unacknowledged QoS 1/2 messages a client may send at once")
	fs.IntVar(&cfg.TopicAliasMaximum, "topic-alias-maximum", cfg.TopicAliasMaximum, "highest MQTT 5 topic alias a client may use (0 = none)")
	fs.BoolVar(&cfg.RetainAvailable, "retain-available", cfg.RetainAvailable, "enable retained messages")
	fs.IntVar(&cfg.MaximumQoS, "maximum-qos", cfg.MaximumQoS, "highest QoS accepted in a PUBLISH and granted to a subscription (0..2)")
	fs.BoolVar(&cfg.WildcardSubAvailable, "wildcard-subscription-available", cfg.WildcardSubAvailable, "accept topic filters with + or #")
	fs.BoolVar(&cfg.SubIDAvailable, "subscription-identifier-available", cfg.SubIDAvailable, "accept MQTT 5 subscription identifiers")
	fs.BoolVar(&cfg.SharedSubAvailable, "shared-subscription-available", cfg.SharedSubAvailable, "accept shared subscriptions ($share/{group}/{filter})")
	return fs
}
