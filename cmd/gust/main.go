// Command gust is the Gust MQTT broker, load generator and benchmark harness.
//
//	gust serve   run the broker
//	gust load    run the load generator
//	gust bench   run the benchmark harness
//	gust passwd  create or update a user of a users file
package main

import (
	"fmt"
	"os"
)

// subcommand runs one verb with its arguments and returns the exit code.
type subcommand func(args []string) int

// commands maps each verb to its implementation; each lives in its own file
// (serve.go, load.go, bench.go, passwd.go) and registers itself from an init function.
var commands = map[string]subcommand{}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gust <serve|load|bench|passwd> [flags]\n\nRun 'gust <command> -h' for the flags of a command.")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gust: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(cmd(os.Args[2:]))
}
