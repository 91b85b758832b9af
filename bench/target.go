package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Target kinds.
const (
	KindGust      = "gust"
	KindMosquitto = "mosquitto"
	KindMochi     = "mochi"
	KindAddr      = "addr"  // an already running broker at an address
	KindHTTP      = "http"  // the HTTP baseline (see httpbase.go)
	KindNATS      = "nats"  // nats-server's MQTT listener (bench/peers/nats)
	KindFloor     = "floor" // not a broker: the relay of floor.go
)

// Names of the built-in targets of the durable comparison.
const (
	// NameGustDisk is Gust on its disk store, syncing every commit.
	NameGustDisk = "gust-disk"
	// NameMosquittoPersist is Mosquitto with persistence on.
	NameMosquittoPersist = "mosquitto-persist"
	// NameGustTLS and NameMosquittoTLS serve MQTT over TLS only, with the
	// same throw-away certificates (certs.go); the generator verifies them.
	NameGustTLS      = "gust-tls"
	NameMosquittoTLS = "mosquitto-tls"
	// NameGustScraped is Gust with its HTTP operations listener on and
	// /metrics scraped every second while it runs, to set against plain
	// gust in the same run (scrape.go).
	NameGustScraped = "gust-scraped"
)

// MosquittoPath is where Debian installs the broker.
const MosquittoPath = "/usr/sbin/mosquitto"

// Target is one broker to measure.
type Target struct {
	// Name labels the target in results (gust, mosquitto, mochi, or the
	// name of name=host:port).
	Name string
	// Kind is one of the Kind constants.
	Kind string
	// Addr is the address of a KindAddr target.
	Addr string
	// Version describes the broker build (for env.txt).
	Version string
	// Bin, when set for a gust or mochi target, is a prebuilt executable
	// to run instead of building one.
	Bin string
	// Args are extra `gust serve` flags of a gust target, after GustArgs
	// (name=gust:FLAGS, e.g. "gust1=gust:--loops 1").
	Args []string
	// Persist turns Mosquitto's persistence on (mosquitto-persist): a
	// database in a fresh directory per start, saved at the default
	// autosave interval and at shutdown.
	Persist bool
	// TLS serves MQTT over TLS only, with the harness's certificates.
	TLS bool
	// Scrape turns a gust target's HTTP operations listener on and
	// scrapes its /metrics every scrapeEvery while it runs.
	Scrape bool
	// Nodes, when above 1, runs the target as a cluster of this many
	// processes on loopback (gust-cluster, nats-cluster; cluster.go).
	Nodes int
	// bin is the prepared executable of a started target.
	bin string
}

// ParseTarget parses a --target value: gust, mosquitto, mochi, nats,
// floor, http, name=host:port, name=gust:FLAGS (a Gust started with extra serve
// flags, to compare settings side by side), or name=gust-bin:PATH [FLAGS] (a
// prebuilt Gust executable, such as an earlier commit's, started as the gust
// target is).
func ParseTarget(s string) (Target, error) {
	if name, rest, ok := strings.Cut(s, "=gust-bin:"); ok && name != "" {
		f := strings.Fields(rest)
		if len(f) == 0 {
			return Target{}, fmt.Errorf("%w: %q (want name=gust-bin:PATH [FLAGS])", ErrUnknownTarget, s)
		}
		return Target{Name: name, Kind: KindGust, Bin: f[0], Args: f[1:]}, nil
	}
	if name, flags, ok := strings.Cut(s, "=gust:"); ok && name != "" {
		return Target{Name: name, Kind: KindGust, Args: strings.Fields(flags)}, nil
	}
	if name, addr, ok := strings.Cut(s, "="); ok {
		if _, _, err := net.SplitHostPort(addr); err != nil || name == "" {
			return Target{}, fmt.Errorf("%w: %q (want name=host:port)", ErrUnknownTarget, s)
		}
		return Target{Name: name, Kind: KindAddr, Addr: addr, Version: "external at " + addr}, nil
	}
	switch s {
	case KindGust, KindMosquitto, KindMochi, KindHTTP, KindNATS, KindFloor:
		return Target{Name: s, Kind: s}, nil
	case NameGustDisk:
		return Target{Name: s, Kind: KindGust, Args: []string{"--store", "disk", "--fsync", "always"}}, nil
	case NameMosquittoPersist:
		return Target{Name: s, Kind: KindMosquitto, Persist: true}, nil
	case NameGustTLS:
		return Target{Name: s, Kind: KindGust, TLS: true}, nil
	case NameGustScraped:
		return Target{Name: s, Kind: KindGust, Scrape: true}, nil
	case NameMosquittoTLS:
		return Target{Name: s, Kind: KindMosquitto, TLS: true}, nil
	case NameGustCluster:
		return Target{Name: s, Kind: KindGust, Nodes: clusterNodes}, nil
	case NameNATSCluster:
		return Target{Name: s, Kind: KindNATS, Nodes: clusterNodes}, nil
	}
	return Target{}, fmt.Errorf("%w: %q", ErrUnknownTarget, s)
}

// prepare builds or locates the target's executable into dir. It returns
// an error when the target cannot run on this machine (the harness then
// skips it and says so).
func (t *Target) prepare(ctx context.Context, root, dir string) error {
	switch t.Kind {
	case KindGust:
		t.Version = "gust " + gitCommit(root)
		if t.Bin != "" {
			t.bin, t.Version = t.Bin, "gust prebuilt "+t.Bin
			return nil
		}
		t.bin = filepath.Join(dir, "gust")
		if out, err := goBuild(ctx, root, t.bin, "./cmd/gust"); err != nil {
			return fmt.Errorf("build gust: %v: %s", err, out)
		}
	case KindMochi:
		t.bin = filepath.Join(dir, "mochi")
		if out, err := goBuild(ctx, filepath.Join(root, "bench", "peers", "mochi"), t.bin, "."); err != nil {
			return fmt.Errorf("build mochi peer: %v: %s", err, out)
		}
		t.Version = "mochi-mqtt " + peerVersion(root, "mochi", "github.com/mochi-mqtt/server")
	case KindNATS:
		t.bin = filepath.Join(dir, "nats")
		if out, err := goBuild(ctx, filepath.Join(root, "bench", "peers", "nats"), t.bin, "."); err != nil {
			return fmt.Errorf("build nats peer: %v: %s", err, out)
		}
		t.Version = "nats-server " + peerVersion(root, "nats", "github.com/nats-io/nats-server")
	case KindMosquitto:
		if _, err := os.Stat(MosquittoPath); err != nil {
			return fmt.Errorf("mosquitto not installed at %s", MosquittoPath)
		}
		t.bin = MosquittoPath
		out, _ := exec.CommandContext(ctx, MosquittoPath, "-h").CombinedOutput()
		t.Version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	case KindHTTP:
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		t.bin = exe
		t.Version = "Gust HTTP/1.1 baseline (net/http, POST publish, SSE delivery)"
	case KindFloor:
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		t.bin = exe
		t.Version = "floor: a Go relay of MQTT frames by topic, not a broker (bench/floor.go)"
	}
	return nil
}

func goBuild(ctx context.Context, dir, out, pkg string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// peerVersion reads the version of module (a path prefix) that the peer
// module bench/peers/<peer> requires.
func peerVersion(root, peer, module string) string {
	b, err := os.ReadFile(filepath.Join(root, "bench", "peers", peer, "go.mod"))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[len(f)-2], module) {
			return f[len(f)-1]
		}
	}
	return "unknown"
}

// Durable reports whether t is a Gust on its disk store (the last
// --store flag of its arguments says disk).
func (t *Target) Durable() bool {
	if t.Kind != KindGust {
		return false
	}
	v, _ := lastFlag(append(GustArgs(), t.Args...), "store")
	return v == "disk"
}

// lastFlag returns the value of the last -name / --name flag of args
// (forms "--name v" and "--name=v"), as the flag package, where the last
// one wins, reads it.
func lastFlag(args []string, name string) (string, bool) {
	val, found := "", false
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		switch {
		case a == name && i+1 < len(args):
			val, found = args[i+1], true
		case strings.HasPrefix(a, name+"="):
			val, found = a[len(name)+1:], true
		}
	}
	return val, found
}

// running is a started target process (or an external address).
type running struct {
	addr string
	tls  *tls.Config // the generator's, for a TLS target
	// wsAddr is the WebSocket listener's address, when started with one.
	wsAddr string
	cmd    *exec.Cmd
	pid    int
	// dirs are the data directories made for this start, removed by stop.
	dirs []string
	// scraper reads /metrics of a Scrape target until stop.
	scraper *scraper
	// nodes are the MQTT addresses of every node of a cluster target,
	// addr the first; others are the processes of the nodes after the
	// first, stopped with it.
	nodes  []string
	others []*running
}

// pids returns the broker processes of r: one, every node's for a
// cluster, none for an external broker.
func (r *running) pids() []int {
	var out []int
	if r.pid > 0 {
		out = append(out, r.pid)
	}
	for _, o := range r.others {
		out = append(out, o.pid)
	}
	return out
}

// start launches the target on a free loopback port (and a WebSocket
// listener on another when ws is set) and waits until it accepts
// connections. pin, when non-empty, is a taskset CPU list.
func (t *Target) start(ctx context.Context, dir, pin string, ws bool) (*running, error) {
	if ws && (t.Kind != KindGust && t.Kind != KindMosquitto || t.TLS) {
		return nil, fmt.Errorf("%w: %s has no WebSocket listener here (plain gust and mosquitto targets do)", ErrUnknownTarget, t.Name)
	}
	if t.Kind == KindAddr {
		return &running{addr: t.Addr}, nil
	}
	if t.Nodes > 1 {
		if ws || t.TLS || t.Scrape {
			return nil, fmt.Errorf("%w: %s runs plain MQTT only", ErrUnknownTarget, t.Name)
		}
		return t.startCluster(ctx, dir, pin)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	r := &running{addr: addr}
	var certs *harnessCerts
	if t.TLS {
		var d string
		certs, d, err = makeCerts()
		if d != "" {
			r.dirs = append(r.dirs, d)
		}
		if err != nil {
			r.removeDirs()
			return nil, err
		}
		r.tls = certs.client
	}
	wsPort := 0
	if ws {
		if wsPort, err = freePort(); err != nil {
			r.removeDirs()
			return nil, err
		}
		r.wsAddr = "127.0.0.1:" + strconv.Itoa(wsPort)
	}
	args, err := t.command(r, addr, port, wsPort, dir, certs)
	if err != nil {
		r.removeDirs()
		return nil, err
	}
	httpAddr := ""
	if t.Scrape && t.Kind == KindGust {
		hp, err := freePort()
		if err != nil {
			r.removeDirs()
			return nil, err
		}
		httpAddr = "127.0.0.1:" + strconv.Itoa(hp)
		args = append(args, "--http-listen", httpAddr)
	}
	if pin != "" {
		if tp, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{tp, "-c", pin}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	killWithParent(cmd)
	if err := cmd.Start(); err != nil {
		r.removeDirs()
		return nil, err
	}
	r.cmd, r.pid = cmd, cmd.Process.Pid
	for _, a := range []string{addr, r.wsAddr, httpAddr} {
		if a == "" {
			continue
		}
		if err := waitListening(ctx, a, 10*time.Second); err != nil {
			r.stop()
			return nil, fmt.Errorf("%w: %s at %s", ErrNotListening, t.Name, a)
		}
	}
	if httpAddr != "" {
		r.scraper = startScraper("http://"+httpAddr+"/metrics", scrapeEvery)
	}
	return r, nil
}

// command returns the command line that starts t on addr (and a
// WebSocket listener on wsPort if not 0), writing what it needs
// (Mosquitto's configuration) into dir and making its data directory,
// recorded in r.dirs.
func (t *Target) command(r *running, addr string, port, wsPort int, dir string, certs *harnessCerts) ([]string, error) {
	switch t.Kind {
	case KindGust:
		args := append([]string{t.bin, "serve", "--listen", addr, "--log-level", "warn"}, GustArgs()...)
		if certs != nil {
			args = append(args, "--listen", "", "--listen-tls", addr, "--tls-cert", certs.set.Server, "--tls-key", certs.set.ServerKey)
		}
		if wsPort != 0 {
			args = append(args, "--listen-ws", "127.0.0.1:"+strconv.Itoa(wsPort))
		}
		if t.Durable() {
			// Frequent $SYS publications let the harness read the store's
			// fsync counter over a run (syncprobe.go).
			args = append(args, "--sys-interval", sysProbeInterval.String())
			if _, ok := lastFlag(t.Args, "data-dir"); !ok {
				d, err := os.MkdirTemp(dir, "gust-data-")
				if err != nil {
					return nil, err
				}
				r.dirs = append(r.dirs, d)
				args = append(args, "--data-dir", d)
			}
		}
		return append(args, t.Args...), nil
	case KindMochi:
		return []string{t.bin, "-listen", addr}, nil
	case KindNATS:
		d, err := os.MkdirTemp(dir, "nats-store-")
		if err != nil {
			return nil, err
		}
		r.dirs = append(r.dirs, d)
		return []string{t.bin, "-listen", addr, "-store", d, "-max-inflight", "64"}, nil
	case KindHTTP:
		return []string{t.bin, "--serve-http", addr}, nil
	case KindFloor:
		return []string{t.bin, "--serve-floor", addr}, nil
	case KindMosquitto:
		body := MosquittoConfig(port)
		if t.Persist {
			d, err := mosquittoDataDir()
			if err != nil {
				return nil, err
			}
			r.dirs = append(r.dirs, d)
			body = MosquittoPersistConfig(port, d)
		}
		if certs != nil {
			body += "cafile " + certs.set.CA + "\ncertfile " + certs.set.Server + "\nkeyfile " + certs.set.ServerKey + "\n"
		}
		if wsPort != 0 {
			// Its listener settings are global (no per_listener_settings),
			// so the websockets listener takes the same ones.
			body += "listener " + strconv.Itoa(wsPort) + " 127.0.0.1\nprotocol websockets\n"
		}
		conf := filepath.Join(dir, "mosquitto-"+strconv.Itoa(port)+".conf")
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			return nil, err
		}
		return []string{t.bin, "-c", conf}, nil
	}
	return nil, fmt.Errorf("%w: kind %q", ErrUnknownTarget, t.Kind)
}

// mosquittoDataDir makes a fresh persistence directory for Mosquitto in
// the system temporary directory. Started as root, Mosquitto runs as the
// mosquitto user (its default `user`), so the directory is given to that
// user: the harness's own temporary directory is private to root.
func mosquittoDataDir() (string, error) {
	d, err := os.MkdirTemp("", "gust-bench-mosquitto-")
	if err != nil {
		return "", err
	}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("mosquitto"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(d, uid, gid); err != nil {
				os.RemoveAll(d)
				return "", err
			}
		}
	}
	return d, nil
}

// GustArgs are the broker settings the harness gives Gust, matching
// MosquittoConfig: a 64-message QoS 1/2 window toward each client and a
// per-session queue too large to drop anything in a benchmark run (Gust,
// like Mosquitto, defaults to 20 and 1000, and drops past the queue).
// Mosquitto's max_queued_messages 0 is unlimited too. Gust's publisher
// throttle (engine/throttle.go) bounds a session's backlog by its delivery
// rate whatever this limit is, so the large limit does not let a fan-in
// queue grow without bound; Mosquitto, single-threaded, paces its
// publishers by reading them in turn with its subscribers.
//
// The event loops are the machine's cores less the one the generator
// keeps busy (at least one), as an operator sizes them on a machine that
// runs something else: on a 2-core machine, one loop. A loop per core
// would compete with the generator for every core, costing more CPU per
// message and delivering less flat out; a later --loops flag
// (name=gust:FLAGS) wins.
//
// The store is memory, said explicitly whatever `gust serve` defaults to,
// so these runs measure the broker without a disk; a durable target
// (gust-disk, or name=gust:--store disk ...) puts its --store later.
func GustArgs() []string {
	return []string{"--store", "memory", "--max-inflight", "64", "--max-queued-messages", "100000000",
		"--loops", strconv.Itoa(max(1, runtime.NumCPU()-1))}
}

// MosquittoConfig is the configuration the harness gives Mosquitto: one
// loopback listener, no persistence, no logging, an unbounded queue (so it
// does not drop QoS 1/2 messages by configuration), a 64-message window,
// and TCP_NODELAY (as Gust, mochi and the generator use) so Nagle's
// algorithm does not hold small acknowledgements back.
func MosquittoConfig(port int) string {
	return "listener " + strconv.Itoa(port) + " 127.0.0.1\n" +
		"allow_anonymous true\n" +
		"persistence false\n" +
		"log_dest none\n" +
		"max_queued_messages 0\n" +
		"max_inflight_messages 64\n" +
		"max_connections -1\n" +
		"set_tcp_nodelay true\n"
}

// MosquittoPersistConfig is MosquittoConfig with persistence on: the
// database in dir, saved at Mosquitto's default autosave interval (1800
// s) and at shutdown, so a measured run writes nothing until then.
func MosquittoPersistConfig(port int, dir string) string {
	return strings.Replace(MosquittoConfig(port), "persistence false\n",
		"persistence true\npersistence_location "+strings.TrimSuffix(dir, "/")+"/\n", 1)
}

// stop terminates a started target: SIGTERM, then SIGKILL after 3 s, and
// removes its data directories.
func (r *running) stop() {
	defer r.removeDirs()
	var wg sync.WaitGroup
	for _, o := range r.others {
		wg.Add(1)
		go func() { defer wg.Done(); o.stop() }()
	}
	defer wg.Wait()
	if r.scraper != nil {
		if n, err := r.scraper.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: /metrics scrapes: %d good, last error: %v\n", n, err)
		}
		r.scraper = nil
	}
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(unix.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
}

func (r *running) removeDirs() {
	for _, d := range r.dirs {
		_ = os.RemoveAll(d)
	}
	r.dirs = nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitListening(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ErrNotListening
}
