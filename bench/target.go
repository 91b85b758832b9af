package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Target kinds.
const (
	KindGust      = "gust"
	KindMosquitto = "mosquitto"
	KindMochi     = "mochi"
	KindAddr      = "addr" // an already running broker at an address
	KindHTTP      = "http" // the HTTP baseline (see httpbase.go)
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
	// bin is the prepared executable of a started target.
	bin string
}

// ParseTarget parses a --target value: gust, mosquitto, mochi, http,
// name=host:port, or name=gust:FLAGS (a Gust started with extra serve
// flags, to compare settings side by side).
func ParseTarget(s string) (Target, error) {
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
	case KindGust, KindMosquitto, KindMochi, KindHTTP:
		return Target{Name: s, Kind: s}, nil
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
		t.Version = "mochi-mqtt " + mochiVersion(root)
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
	}
	return nil
}

func goBuild(ctx context.Context, dir, out, pkg string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// mochiVersion reads the mochi version the peer module requires.
func mochiVersion(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "bench", "peers", "mochi", "go.mod"))
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[len(f)-2], "github.com/mochi-mqtt/server") {
			return f[len(f)-1]
		}
	}
	return "unknown"
}

// running is a started target process (or an external address).
type running struct {
	addr string
	cmd  *exec.Cmd
	pid  int
}

// start launches the target on a free loopback port and waits until it
// accepts connections. pin, when non-empty, is a taskset CPU list.
func (t *Target) start(ctx context.Context, dir, pin string) (*running, error) {
	if t.Kind == KindAddr {
		return &running{addr: t.Addr}, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var args []string
	switch t.Kind {
	case KindGust:
		args = append([]string{t.bin, "serve", "--listen", addr, "--log-level", "warn"}, GustArgs()...)
		args = append(args, t.Args...)
	case KindMochi:
		args = []string{t.bin, "-listen", addr}
	case KindHTTP:
		args = []string{t.bin, "--serve-http", addr}
	case KindMosquitto:
		conf := filepath.Join(dir, "mosquitto-"+strconv.Itoa(port)+".conf")
		if err := os.WriteFile(conf, []byte(MosquittoConfig(port)), 0o644); err != nil {
			return nil, err
		}
		args = []string{t.bin, "-c", conf}
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
		return nil, err
	}
	r := &running{addr: addr, cmd: cmd, pid: cmd.Process.Pid}
	if err := waitListening(ctx, addr, 10*time.Second); err != nil {
		r.stop()
		return nil, fmt.Errorf("%w: %s at %s", ErrNotListening, t.Name, addr)
	}
	return r, nil
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
func GustArgs() []string {
	return []string{"--max-inflight", "64", "--max-queued-messages", "100000000",
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

// stop terminates a started target: SIGTERM, then SIGKILL after 3 s.
func (r *running) stop() {
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
