package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/loadgen/client"
)

func init() { commands["pub"] = runPub }

// runPub implements `gust pub`, mosquitto_pub's everyday options.
func runPub(args []string) int {
	args, props, err := mosquittoArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gust pub:", err)
		return 2
	}
	var cf clientFlags
	var cfg client.PubConfig
	fs := flag.NewFlagSet("gust pub", flag.ContinueOnError)
	usage := func() {
		fmt.Fprintln(fs.Output(), "usage: gust pub [-h host] [-p port] -t topic {-m message | -f file | -l | -s | -n} [flags]\n\n"+
			"Publishes one message (or one per line of standard input with -l) and exits, like mosquitto_pub.\n"+
			"-D COMMAND IDENTIFIER VALUE sets an MQTT 5 property: connect/publish/will user-property KEY VALUE,\n"+
			"publish/will content-type, response-topic, correlation-data, message-expiry-interval,\n"+
			"payload-format-indicator, will will-delay-interval, connect session-expiry-interval.")
		printDefaults(fs)
	}
	cf.register(fs)
	var pf pubFlags
	fs.StringVar(&pf.topic, "t", "", "topic to publish to")
	fs.StringVar(&pf.topic, "topic", "", "topic (same as -t)")
	fs.StringVar(&pf.message, "m", "", "message payload")
	fs.StringVar(&pf.message, "message", "", "message payload (same as -m)")
	fs.StringVar(&pf.file, "f", "", "send the contents of this file as the message")
	fs.StringVar(&pf.file, "file", "", "same as -f")
	fs.BoolVar(&pf.lines, "l", false, "send each line of standard input as a message")
	fs.BoolVar(&pf.lines, "stdin-line", false, "same as -l")
	fs.BoolVar(&pf.stdin, "s", false, "send all of standard input as one message")
	fs.BoolVar(&pf.stdin, "stdin-file", false, "same as -s")
	fs.BoolVar(&pf.null, "n", false, "send an empty (null) message")
	fs.BoolVar(&pf.null, "null-message", false, "same as -n")
	fs.UintVar(&pf.qos, "q", 0, "QoS of the message: 0, 1 or 2")
	fs.UintVar(&pf.qos, "qos", 0, "same as -q")
	fs.BoolVar(&cfg.Message.Retain, "r", false, "retain the message")
	fs.BoolVar(&cfg.Message.Retain, "retain", false, "same as -r")
	fs.IntVar(&cfg.Repeat, "repeat", 1, "publish the message this many times")
	fs.DurationVar(&cfg.RepeatDelay, "repeat-delay", 0, "time between repeats")
	withForms(fs).Usage = usage
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := pf.config(&cfg, &cf, props, fs); err != nil {
		fmt.Fprintln(os.Stderr, "gust pub:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	if err := client.RunPub(ctx, cfg, os.Stdin); err != nil {
		return clientError("pub", cf.quiet, err)
	}
	return 0
}

// pubFlags are the flags of gust pub that say what to publish.
type pubFlags struct {
	topic, message, file string
	qos                  uint
	null, lines, stdin   bool
}

// config checks the parsed flags and fills cfg.
func (pf *pubFlags) config(cfg *client.PubConfig, cf *clientFlags, props []property, fs *flag.FlagSet) error {
	topic, message, file, qos := pf.topic, pf.message, pf.file, pf.qos
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if topic == "" {
		return errors.New("no topic: give -t")
	}
	if qos > 2 {
		return fmt.Errorf("-q %d: want 0, 1 or 2", qos)
	}
	sources := 0
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "m", "message", "f", "file", "l", "stdin-line", "s", "stdin-file", "n", "null-message":
			sources++
		}
	})
	if sources != 1 {
		return errors.New("give exactly one of -m MESSAGE, -f FILE, -l, -s or -n")
	}
	cf.props = props
	o, err := cf.options("pub")
	if err != nil {
		return err
	}
	cfg.Options = o
	cfg.Message.Topic, cfg.Message.QoS = topic, byte(qos)
	switch {
	case file != "":
		cfg.Source, cfg.File = client.SourceFile, file
	case pf.lines:
		cfg.Source = client.SourceLines
	case pf.stdin:
		cfg.Source = client.SourceStdin
	case !pf.null:
		cfg.Message.Payload = []byte(message)
	}
	return applyProps(props, &cfg.Options, &cfg.Message.Props, nil)
}
