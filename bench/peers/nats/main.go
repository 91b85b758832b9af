// Command nats runs nats-server (github.com/nats-io/nats-server/v2) with
// its MQTT listener for Gust's benchmark harness. NATS serves MQTT only
// with JetStream on and a server name, so this starts one with JetStream
// storing into -store (a directory the harness makes per start and removes
// after), the NATS client port on a random loopback port, and the MQTT
// listener on -listen. It lives in its own module so nats-server stays out
// of Gust's dependencies; the harness builds it with `go build` at run time.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:1883", "MQTT listen address (host:port)")
	store := flag.String("store", "", "JetStream store directory (required)")
	inflight := flag.Int("max-inflight", 64, "QoS 1/2 messages in flight toward each subscription (MaxAckPending)")
	flag.Parse()
	if err := run(*addr, *store, *inflight); err != nil {
		fmt.Fprintln(os.Stderr, "nats:", err)
		os.Exit(1)
	}
}

func run(addr, store string, inflight int) error {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: want host:port", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("-listen %q: port must be 1-65535", addr)
	}
	if store == "" {
		return fmt.Errorf("-store: a directory is required (JetStream keeps MQTT sessions there)")
	}
	if inflight < 1 || inflight > 65535 {
		return fmt.Errorf("-max-inflight %d: want 1-65535", inflight)
	}
	opts := &server.Options{
		ServerName: "gust-bench-nats",
		Host:       host,
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   store,
		NoSigs:     true,
		NoLog:      true,
		MQTT: server.MQTTOpts{
			Host:          host,
			Port:          port,
			MaxAckPending: uint16(inflight),
		},
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("not ready after 10 s")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}
