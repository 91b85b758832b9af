// Command gust is the Gust MQTT broker, its command-line clients, load
// generator and benchmark harness.
//
//	gust serve    run the broker
//	gust pub      publish messages (like mosquitto_pub)
//	gust sub      subscribe and print messages (like mosquitto_sub)
//	gust load     run the load generator
//	gust bench    run the benchmark harness
//	gust passwd   create or update a user of a users file
//	gust certs    make a throw-away CA, server and client certificates
//	gust version  print the version
//	gust help     list the commands, or the flags of one
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
)

// subcommand runs one verb with its arguments and returns the exit code.
type subcommand func(args []string) int

// commands maps each verb to its implementation; each lives in its own file
// (serve.go, load.go, bench.go, passwd.go, ...) and registers itself from an
// init function.
var commands = map[string]subcommand{}

// summaries is the one-line description of each verb for `gust help`.
var summaries = map[string]string{
	"serve":   "run the broker",
	"pub":     "publish messages (like mosquitto_pub)",
	"sub":     "subscribe and print messages (like mosquitto_sub)",
	"load":    "run the load generator",
	"bench":   "run the benchmark harness (the gust-bench binary)",
	"passwd":  "create, update or delete a user of a users file",
	"certs":   "make a throw-away CA, server and client certificates for trying TLS",
	"version": "print the version and build details",
	"help":    "list the commands, or show the flags of one: gust help COMMAND",
}

func init() {
	commands["version"] = runVersion
	commands["help"] = runHelp
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gust <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-8s %s\n", name, summaries[name])
	}
	fmt.Fprintln(w, "\nRun 'gust <command> -h' (or 'gust help <command>') for the flags of a command.")
}

// runHelp prints the command list, or runs COMMAND -h.
func runHelp(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage(os.Stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gust help: unknown command %q\n", args[0])
		usage(os.Stderr)
		return 2
	}
	return cmd([]string{"-h"})
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run dispatches args (without the program name) to a command.
func run(args []string) int {
	if len(args) < 1 {
		usage(os.Stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(os.Stdout)
		return 0
	case "-version", "--version":
		return runVersion(nil)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gust: unknown command %q\n", args[0])
		usage(os.Stderr)
		return 2
	}
	return cmd(args[1:])
}
