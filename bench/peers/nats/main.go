// Command nats runs nats-server (github.com/nats-io/nats-server/v2) with
// its MQTT listener for Gust's benchmark harness. NATS serves MQTT only
// with JetStream on and a server name, so this starts one with JetStream
// storing into -store (a directory the harness makes per start and removes
// after), the NATS client port on a random loopback port, and the MQTT
// listener on -listen. It lives in its own module so nats-server stays out
// of Gust's dependencies; the harness builds it with `go build` at run time.
//
// With -cluster-listen it is one node of a NATS cluster: its own -name,
// routes to the other nodes' -routes, JetStream clustered over them (the
// MQTT streams then get up to three replicas, nats-server's default), the
// way nats-server's MQTT is deployed on several nodes.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:1883", "MQTT listen address (host:port)")
	store := flag.String("store", "", "JetStream store directory (required)")
	inflight := flag.Int("max-inflight", 64, "QoS 1/2 messages in flight toward each subscription (MaxAckPending)")
	name := flag.String("name", "gust-bench-nats", "server name, unique in a cluster")
	clusterListen := flag.String("cluster-listen", "", "route listen address (host:port) of a cluster node (empty: a single server)")
	routes := flag.String("routes", "", "route addresses of the cluster's nodes, host:port comma separated")
	flag.Parse()
	if err := run(*addr, *store, *inflight, *name, *clusterListen, *routes); err != nil {
		fmt.Fprintln(os.Stderr, "nats:", err)
		os.Exit(1)
	}
}

func run(addr, store string, inflight int, name, clusterListen, routes string) error {
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
		ServerName: name,
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
	if clusterListen != "" {
		ch, cp, err := net.SplitHostPort(clusterListen)
		p, perr := strconv.Atoi(cp)
		if err != nil || perr != nil || p <= 0 || p > 65535 {
			return fmt.Errorf("-cluster-listen %q: want host:port", clusterListen)
		}
		opts.Cluster = server.ClusterOpts{Name: "gust-bench", Host: ch, Port: p}
		for _, r := range strings.Split(routes, ",") {
			if r = strings.TrimSpace(r); r != "" && r != clusterListen {
				u, err := url.Parse("nats-route://" + r)
				if err != nil {
					return fmt.Errorf("-routes %q: %v", r, err)
				}
				opts.Routes = append(opts.Routes, u)
			}
		}
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
