// Command gust-bench is Gust's benchmark harness: it runs named
// scenarios against Gust and its peers side by side and writes results/.
// It is a binary of its own so that the broker does not link the
// plotting libraries; `gust bench` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/bench"
)

func main() { os.Exit(runBench(os.Args[1:])) }

// targetList collects repeated --target flags.
type targetList []string

// String implements flag.Value.
func (t *targetList) String() string { return strings.Join(*t, ",") }

// Set implements flag.Value: each --target adds one.
func (t *targetList) Set(v string) error { *t = append(*t, v); return nil }

// runBench binds the flags of gust-bench to a bench.Config and runs it.
func runBench(args []string) int {
	var cfg bench.Config
	fs := flag.NewFlagSet("gust-bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "quick comparison (make bench): small scenarios, QoS 0 and 1, one repetition")
	scen := fs.String("scenarios", "", "comma-separated scenarios (default: all; quick: "+strings.Join(bench.QuickSet(), ",")+"); have "+strings.Join(bench.Names(), ", ")+
		"; "+bench.DurableGroup+" stands for "+strings.Join(bench.DurableSet(), ",")+", "+bench.ClusterGroup+" for "+strings.Join(bench.ClusterSet(), ","))
	qos := fs.String("qos", "", "comma-separated QoS levels to run (default: each scenario's own)")
	var targets targetList
	fs.Var(&targets, "target", "target to compare: gust, mosquitto, mochi, nats (nats-server's MQTT), floor (a frame relay, not a broker: the generator's and kernel's limit), http, "+bench.NameGustDisk+" (Gust on its disk store, --fsync always), "+
		bench.NameMosquittoPersist+" (Mosquitto with persistence), "+bench.NameGustScraped+" (Gust with /metrics scraped every second), "+
		bench.NameGustCluster+" (three gust serve --cluster nodes), "+bench.NameNATSCluster+" (three nats-server nodes, JetStream clustered, MQTT on each), name=host:port, name=gust:FLAGS for a Gust with extra serve flags, or name=gust-bin:PATH [FLAGS] for a prebuilt gust executable such as an earlier commit's (repeatable; default gust, mosquitto, mochi)")
	wsFlag := fs.Bool("ws", false, "run every client over WebSocket (gust and mosquitto targets: each gets a ws listener)")
	claims := fs.Bool("claims", false, "also run the MQTT-vs-HTTP claims table")
	serveHTTP := fs.String("serve-http", "", "run only the HTTP baseline broker on this address (used by the harness)")
	serveFloor := fs.String("serve-floor", "", "run only the floor relay on this address (used by the harness)")
	fs.IntVar(&cfg.Reps, "reps", 3, "repetitions per target (targets alternate within each)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "override each scenario's measured duration")
	fs.IntVar(&cfg.Conns, "conns", 0, "connections of the conn scenario (default 19000, quick 5000)")
	fs.BoolVar(&cfg.NoWarmUp, "no-warmup", false, "conn scenario: read the RSS baseline on the fresh broker, without the warm-up of "+strconv.Itoa(bench.ConnWarmUp)+" connections")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages per second per publisher (default: flat out)")
	fs.StringVar(&cfg.ResultsDir, "results", "", "results directory (default <repo>/results/"+bench.LocalResults+", ignored by git; with --publish <repo>/results)")
	fs.BoolVar(&cfg.Publish, "publish", false, "write the run into <repo>/results and regenerate results/README.md, the repository's headline (make bench-publish)")
	fs.StringVar(&cfg.Label, "label", "", "run directory label (default: scenario set)")
	fs.StringVar(&cfg.PinBroker, "pin-broker", "", "taskset CPU list for broker processes, e.g. 0")
	fs.StringVar(&cfg.PinGenerator, "pin-gen", "", "CPU list for the generator, e.g. 1")
	generator := fs.String("generator", bench.GeneratorGust, "clients of the message scenarios: "+bench.GeneratorGust+" (loadgen, many messages in flight) or "+
		bench.GeneratorPaho+" (paho.mqtt.golang, a goroutine per client, each publish waited for, as mqtt-benchmark; "+bench.GeneratorMQTTBenchmark+" itself is not on the module proxy)")
	noPlots := fs.Bool("no-plots", false, "skip SVG plots")
	replot := fs.String("replot", "", "draw the plots of this run directory again from its raw.jsonl (and its page, index.html), and run nothing")
	render := fs.String("render", "", "write the page (index.html: tables and plots) of this run directory again from its summary.md and plots, and run nothing")
	gustBin := fs.String("gust-bin", "", "prebuilt gust binary for the gust target (default: go build ./cmd/gust)")
	profile := fs.String("profile", "", "profile Gust in-process under this scenario (first -qos level) and write cpu.pprof and heap.pprof to -results")
	scaleConns := fs.Int("cluster-scale", 0, "run only the connection scale test: this many subscribers over --cluster-nodes gust serve --cluster processes, one loader process per node, each receiving broadcasts published on the first node (make cluster-scale)")
	scaleNodes := fs.Int("cluster-nodes", 5, "nodes of --cluster-scale")
	scaleMsgs := fs.Int("cluster-broadcasts", 3, "broadcasts of --cluster-scale, one a second")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	if *replot != "" {
		names, err := bench.Replot(*replot)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gust bench:", err)
			return 1
		}
		fmt.Println(strings.Join(names, "\n"))
		return 0
	}
	if *render != "" {
		if err := bench.RenderHTML(*render); err != nil {
			fmt.Fprintln(os.Stderr, "gust bench:", err)
			return 1
		}
		fmt.Println(filepath.Join(*render, bench.HTMLPage))
		return 0
	}
	if *serveHTTP != "" {
		if err := bench.ServeHTTPBaseline(ctx, *serveHTTP); err != nil {
			fmt.Fprintln(os.Stderr, "gust bench:", err)
			return 1
		}
		return 0
	}
	if *serveFloor != "" {
		if err := bench.ServeFloor(ctx, *serveFloor); err != nil {
			fmt.Fprintln(os.Stderr, "gust bench:", err)
			return 1
		}
		return 0
	}
	if *scaleConns > 0 {
		dir, res, err := bench.RunClusterScale(ctx, bench.ScaleConfig{Nodes: *scaleNodes, Conns: *scaleConns,
			Messages: *scaleMsgs, ResultsDir: cfg.ResultsDir, Publish: cfg.Publish, Log: os.Stderr})
		if err != nil {
			fmt.Fprintln(os.Stderr, "gust bench:", err)
			return 1
		}
		fmt.Println(dir)
		if res.Error != "" || res.Delivered < res.Expected {
			fmt.Fprintf(os.Stderr, "gust bench: cluster scale: %d of %d deliveries; %s\n", res.Delivered, res.Expected, res.Error)
			return 1
		}
		return 0
	}
	cfg.Size, cfg.Plots, cfg.Log, cfg.Args, cfg.Claims = bench.Standard, !*noPlots, os.Stderr, args, *claims
	cfg.WebSocket = *wsFlag
	if *quick {
		cfg.Size, cfg.Scenarios, cfg.QoS = bench.Quick, bench.QuickSet(), []byte{0, 1}
		if !flagSet(fs, "reps") {
			cfg.Reps = 1
		}
	}
	if *scen != "" {
		cfg.Scenarios = strings.Split(*scen, ",")
	}
	if *qos != "" {
		cfg.QoS = nil
		for _, q := range strings.Split(*qos, ",") {
			n, err := strconv.Atoi(q)
			if err != nil || n < 0 || n > 2 {
				fmt.Fprintln(os.Stderr, "gust bench: bad -qos", q)
				return 2
			}
			cfg.QoS = append(cfg.QoS, byte(n))
		}
	}
	gen, err := bench.ParseGenerator(*generator)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust bench:", err)
		return 2
	}
	cfg.Generator = gen
	if *profile != "" {
		return runProfile(ctx, *profile, cfg)
	}
	if len(targets) == 0 {
		targets = targetList{"gust", "mosquitto", "mochi"}
	}
	for _, t := range targets {
		tg, err := bench.ParseTarget(t)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gust bench:", err)
			return 2
		}
		if tg.Kind == bench.KindGust && tg.Bin == "" {
			tg.Bin = *gustBin
		}
		cfg.Targets = append(cfg.Targets, tg)
	}
	dir, _, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust bench:", err)
		return 1
	}
	fmt.Println(dir)
	return 0
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// runProfile implements --profile: CPU and heap profiles of Gust under one scenario.
func runProfile(ctx context.Context, scenario string, cfg bench.Config) int {
	pc := bench.ProfileConfig{Scenario: scenario, Size: cfg.Size, Dir: cfg.ResultsDir}
	if len(cfg.QoS) > 0 {
		pc.QoS = cfg.QoS[0]
	}
	if pc.Dir == "" {
		pc.Dir = "gust-profile"
	}
	res, err := bench.Profile(ctx, pc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust bench:", err)
		return 1
	}
	fmt.Printf("%s: delivered %.0f msg/s, connected %d; profiles in %s (go tool pprof %s/cpu.pprof)\n",
		scenario, res.DeliverRate, res.Connected, pc.Dir, pc.Dir)
	return 0
}
