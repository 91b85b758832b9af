package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/loadgen"
	"github.com/gust-mqtt/gust/loadgen/client"
)

func init() { commands["load"] = runLoad }

// runLoad binds the flags of `gust load` to a loadgen.Config and runs it.
func runLoad(args []string) int {
	cfg := loadgen.DefaultConfig()
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	mode := fs.String("mode", string(cfg.Mode), "conn, pub, sub or pubsub")
	version := fs.Int("version", int(cfg.Version), "MQTT protocol level: 4 (3.1.1) or 5")
	qos := fs.Uint("qos", 0, "QoS of publishes and subscriptions (0, 1, 2)")
	locals := fs.String("local-addrs", "", "comma-separated source IPs to spread connections over")
	pubAddrs := fs.String("pub-addrs", "", "comma-separated broker addresses to spread the publishers over, round-robin (the nodes of a cluster; empty: --addr)")
	subAddrs := fs.String("sub-addrs", "", "comma-separated broker addresses to spread the subscribers over, round-robin (empty: --addr)")
	connAddrs := fs.String("conn-addrs", "", "comma-separated broker addresses to spread the idle connections of conn mode over (empty: --addr)")
	fs.DurationVar(&cfg.Settle, "settle", 0, "pause between every client being ready and the first publish (time for subscriptions to reach a cluster's other nodes)")
	jsonOut := fs.Bool("json", false, "write JSON lines (progress and result) to stdout")
	quiet := fs.Bool("quiet", false, "no progress line on stderr")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "broker address: host:port, tcp://host:port or mqtt://host:port")
	fs.BoolVar(&cfg.WebSocket, "ws", false, "speak MQTT over WebSocket (--addr is the ws listener's host:port)")
	wss := fs.Bool("wss", false, "speak MQTT over secure WebSocket: --ws over --tls (--addr is the wss listener's host:port)")
	fs.StringVar(&cfg.WSPath, "ws-path", "/mqtt", "WebSocket request path (with --ws or --wss)")
	fs.IntVar(&cfg.Publishers, "pubs", cfg.Publishers, "publisher connections")
	fs.IntVar(&cfg.Subscribers, "subs", cfg.Subscribers, "subscriber connections")
	fs.IntVar(&cfg.SlowSubscribers, "slow-subs", 0, "subscribers that stop reading after SUBACK")
	fs.IntVar(&cfg.Conns, "conns", 0, "idle connections (conn mode)")
	fs.StringVar(&cfg.PubTopic, "topic", cfg.PubTopic, "publish topic (%i: publisher index, %n: message number)")
	fs.StringVar(&cfg.SubTopic, "filter", cfg.SubTopic, "subscription filter (%i: subscriber index)")
	fs.BoolVar(&cfg.Retain, "retain", false, "publish with RETAIN")
	fs.IntVar(&cfg.PayloadSize, "size", cfg.PayloadSize, "payload bytes (>= 16)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages per second per publisher (0: flat out)")
	fs.IntVar(&cfg.Inflight, "inflight", cfg.Inflight, "QoS 1/2 inflight window per publisher")
	fs.IntVar(&cfg.Count, "count", 0, "messages per publisher (0: until -duration)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "publish phase (conn mode: hold time)")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "wait for in-flight deliveries after publishing")
	fs.IntVar(&cfg.ExpectRetained, "expect-retained", 0, "subscribers wait for this many retained messages")
	fs.Float64Var(&cfg.ConnectRate, "connect-rate", 0, "connections per second (0: as fast as possible)")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "bound on the connect phase")
	fs.BoolVar(&cfg.CleanStart, "clean", cfg.CleanStart, "clean session / clean start")
	fs.StringVar(&cfg.Username, "username", "", "CONNECT username")
	sessExp := fs.Uint("session-expiry", 0, "MQTT 5 session expiry interval in seconds (with -clean=false: persistent sessions)")
	fs.StringVar(&cfg.Password, "password", "", "CONNECT password")
	fs.StringVar(&cfg.ClientPrefix, "client-prefix", "", "client identifier prefix")
	fs.IntVar(&cfg.Loops, "loops", 0, "event loops (0: GOMAXPROCS)")
	fs.BoolVar(&cfg.PersistentSubs, "persistent-subs", false, "subscribers only keep their sessions (clean session 0; v5: -sub-session-expiry)")
	subExp := fs.Uint("sub-session-expiry", 3600, "MQTT 5 session expiry interval of -persistent-subs in seconds")
	fs.BoolVar(&cfg.Offline, "offline", false, "publish -count messages while the persistent subscribers are away, then bring them back to drain")
	fs.IntVar(&cfg.TopicCycle, "topic-cycle", 0, "%n in -topic counts modulo this many (0: no cycle)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the generator to this file")
	ka := fs.Uint("keepalive", uint(cfg.KeepAlive), "keep alive seconds")
	var tf tlsFlags
	tf.bind(fs)
	if err := withForms(fs).Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gust load: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	addr, err := client.ParseAddr(cfg.Addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust load: --addr:", strings.TrimPrefix(err.Error(), "client: "))
		return 2
	}
	cfg.Addr = addr
	if *wss {
		cfg.WebSocket, tf.on = true, true
	}
	if cfg.TLS, err = tf.config(addr); err != nil {
		fmt.Fprintln(os.Stderr, "gust load:", err)
		return 2
	}
	cfg.Mode = loadgen.Mode(*mode)
	cfg.Version = codec.Version(*version)
	cfg.QoS = byte(*qos)
	cfg.KeepAlive = uint16(*ka)
	cfg.SessionExpiry = uint32(*sessExp)
	cfg.SubSessionExpiry = uint32(*subExp)
	for _, ra := range []struct {
		list *string
		to   *[]string
	}{{pubAddrs, &cfg.PubAddrs}, {subAddrs, &cfg.SubAddrs}, {connAddrs, &cfg.ConnAddrs}} {
		if *ra.list != "" {
			*ra.to = strings.Split(*ra.list, ",")
		}
	}
	if *locals != "" {
		cfg.LocalAddrs = strings.Split(*locals, ",")
	}
	if !*quiet {
		cfg.Progress = os.Stderr
	}
	if *jsonOut {
		cfg.JSON = os.Stdout
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gust load:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "gust load:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust load:", err)
		return 1
	}
	if !*jsonOut {
		printResult(res)
	}
	if why := loadFailure(res); why != "" {
		fmt.Fprintln(os.Stderr, "gust load:", why)
		return 1
	}
	return 0
}

// loadFailure says why a run failed, "" if it did not: a client could not
// connect (or subscribe), or QoS 1/2 messages were lost.
func loadFailure(r *loadgen.Result) string {
	clients := int64(r.Publishers + r.Subscribers + r.Conns)
	var why []string
	if n := r.ConnectFailed + r.NotReady; n > 0 {
		s := fmt.Sprintf("%d of %d clients could not connect", n, clients)
		if r.NotReady > 0 {
			s += fmt.Sprintf(" (%d had no CONNACK or SUBACK within --connect-timeout)", r.NotReady)
		}
		why = append(why, s)
	}
	if r.QoS > 0 && r.Lost > 0 {
		why = append(why, fmt.Sprintf("lost %d QoS %d messages", r.Lost, r.QoS))
	}
	if len(why) == 0 {
		return ""
	}
	s := strings.Join(why, "; ")
	if r.Failures != "" {
		s += "; why: " + r.Failures
	}
	return s
}

func printResult(r *loadgen.Result) {
	fmt.Printf("mode %s addr %s pubs %d subs %d conns %d qos %d size %d\n",
		r.Mode, r.Addr, r.Publishers, r.Subscribers, r.Conns, r.QoS, r.PayloadSize)
	fmt.Printf("connected %d failed %d in %.2fs (%.0f conn/s), connect p50 %dus p99 %dus\n",
		r.Connected, r.ConnectFailed, r.ConnectSecs, r.ConnectRate, r.ConnectLat.P50, r.ConnectLat.P99)
	fmt.Printf("sent %d (%.0f/s) acked %d delivered %d (%.0f/s) expected %d lost %d dup %d out-of-order %d errors %d\n",
		r.Sent, r.SendRate, r.Acked, r.Delivered, r.DeliverRate, r.Expected, r.Lost, r.Duplicated, r.OutOfOrder, r.Errors)
	l := r.Latency
	fmt.Printf("latency us: p50 %d p90 %d p99 %d p99.9 %d max %d (n=%d)\n", l.P50, l.P90, l.P99, l.P999, l.Max, l.Count)
	fmt.Printf("bytes out %d in %d, generator CPU %.2fs over %.2fs\n", r.BytesOut, r.BytesIn, r.GenCPUSecs, r.Elapsed)
	if r.Failures != "" {
		fmt.Println("failures:", r.Failures)
	}
	if r.Note != "" {
		fmt.Println("note:", r.Note)
	}
}
