package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/loadgen/client"
)

func init() { commands["sub"] = runSub }

const subUsage = "usage: gust sub [-h host] [-p port] -t filter [-t filter...] [flags]\n\n" +
	"Subscribes and prints the messages received, like mosquitto_sub. Exit status: 0, 1 on an error,\n" +
	"2 on bad flags, 27 when -W passes. -D connect user-property KEY VALUE, -D subscribe user-property\n" +
	"KEY VALUE and -D subscribe subscription-identifier N set MQTT 5 properties.\n" +
	"-F directives: %t topic, %p payload, %l length, %q QoS, %r retain, %m packet id, %x/%X hex payload,\n" +
	"%j JSON, %J JSON with a JSON payload, %P user properties, %C content type, %D correlation data,\n" +
	"%E expiry, %F payload format, %R response topic, %S subscription ids, %I ISO time, %U Unix time,\n" +
	"%% a percent sign; escapes \\n \\t \\r \\a \\e \\v \\0 \\\\. A newline follows each message unless -N.\n"

// stringList collects a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runSub implements `gust sub`, mosquitto_sub's everyday options.
func runSub(args []string) int {
	args, props, err := mosquittoArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust sub:", err)
		return 2
	}
	var cf clientFlags
	var cfg client.SubConfig
	fs := flag.NewFlagSet("gust sub", flag.ContinueOnError)
	usage := func() {
		_, _ = io.WriteString(fs.Output(), subUsage)
		printDefaults(fs)
	}
	cf.register(fs)
	var sf subFlags
	fs.Var(&sf.topics, "t", "topic `filter` to subscribe to (repeatable)")
	fs.Var(&sf.topics, "topic", "same as -t")
	fs.Var(&sf.filterOut, "T", "topic `filter` whose messages are not printed (repeatable)")
	fs.Var(&sf.unsub, "U", "topic `filter` to unsubscribe from after subscribing (repeatable)")
	fs.UintVar(&sf.qos, "q", 0, "QoS of the subscriptions: 0, 1 or 2")
	fs.UintVar(&sf.qos, "qos", 0, "same as -q")
	fs.BoolVar(&cfg.Verbose, "v", false, "print the topic before each payload")
	fs.BoolVar(&cfg.Verbose, "verbose", false, "same as -v")
	fs.IntVar(&cfg.Count, "C", 0, "exit after this many messages")
	fs.DurationVar(&cfg.Timeout, "W", 0, "exit with status 27 after this long (seconds, or a duration such as 1m)")
	fs.StringVar(&sf.format, "F", "", "output format (see above)")
	fs.BoolVar(&cfg.NoEOL, "N", false, "no newline after each message")
	fs.BoolVar(&cfg.NoRetained, "R", false, "do not print stale (retained) messages")
	fs.BoolVar(&cfg.RetainedOnly, "retained-only", false, "print only retained messages; exit at the first other")
	fs.BoolVar(&cfg.RemoveRetained, "remove-retained", false, "clear each retained message received")
	fs.BoolVar(&cfg.ExitAfterSubscribe, "E", false, "exit once the subscriptions are acknowledged")
	withForms(fs).Usage = usage
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := sf.config(&cfg, &cf, props, fs); err != nil {
		fmt.Fprintln(os.Stderr, "gust sub:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	if err := client.RunSub(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		return clientError("sub", cf.quiet, err)
	}
	return 0
}

// subFlags are the flags of gust sub that are not SubConfig fields.
type subFlags struct {
	topics, filterOut, unsub stringList
	qos                      uint
	format                   string
}

// config checks the parsed flags and fills cfg.
func (sf *subFlags) config(cfg *client.SubConfig, cf *clientFlags, props []property, fs *flag.FlagSet) error {
	topics, unsub, qos, format := sf.topics, sf.unsub, sf.qos, sf.format
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if len(topics) == 0 && len(unsub) == 0 {
		return errors.New("no topic: give -t")
	}
	if qos > 2 {
		return fmt.Errorf("-q %d: want 0, 1 or 2", qos)
	}
	if cfg.Count < 0 || cfg.Timeout < 0 {
		return errors.New("-C and -W cannot be negative")
	}
	if format != "" {
		f, err := client.ParseFormat(format)
		if err != nil {
			return fmt.Errorf("-F: %w", err)
		}
		cfg.Format = f
	}
	cf.props = props
	o, err := cf.options("sub")
	if err != nil {
		return err
	}
	cfg.Options = o
	cfg.Topics, cfg.FilterOut, cfg.Unsubscribe, cfg.QoS = topics, sf.filterOut, unsub, byte(qos)
	return applyProps(props, &cfg.Options, nil, &cfg.SubscribeProps)
}
