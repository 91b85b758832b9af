package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/loadgen"
)

// ScaleConfig is one run of the connection scale test: a Gust cluster of
// Nodes processes on loopback holding Conns subscribers together, more
// than one process may open, each receiving every broadcast published on
// the first node.
type ScaleConfig struct {
	// Nodes is the number of gust serve --cluster processes (default 5).
	Nodes int
	// Conns is the subscriber count over all nodes (default 90,000),
	// spread evenly; node i's share comes from loader process i.
	Conns int
	// Messages is how many broadcasts the publisher sends, one a second
	// (default 3).
	Messages int
	// QoS is the QoS of the broadcasts and the subscriptions.
	QoS byte
	// Hold is how long every subscriber has been up when the nodes' RSS
	// is read and the first broadcast goes out (default 5 s).
	Hold time.Duration
	// Root is the Gust module root ("" = search upwards).
	Root string
	// ResultsDir is where the run directory goes ("" = Root/results/local;
	// with Publish, Root/results).
	ResultsDir string
	// Publish writes into Root/results.
	Publish bool
	// Log receives progress lines (nil = silent).
	Log io.Writer
}

// ScaleNode is what one node held.
type ScaleNode struct {
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
	// Subscribers is how many of its loader's subscribers were ready.
	Subscribers int64 `json:"subscribers"`
	// RSSBefore is the node's RSS once the cluster had formed, before the
	// subscribers connected; RSSHeld while they were held.
	RSSBefore int64 `json:"rss_before"`
	RSSHeld   int64 `json:"rss_held"`
	// RSSPerConn is (RSSHeld - RSSBefore) / Subscribers.
	RSSPerConn float64 `json:"rss_per_conn"`
	// Delivered is what its loader's subscribers received.
	Delivered int64 `json:"delivered"`
	// P99 is the loader's 99th percentile publish-to-delivery latency (µs).
	P99 int64 `json:"p99_us"`
	// LoaderFiles is the loader process's open-file limit.
	LoaderFiles uint64 `json:"loader_file_limit"`
}

// ScaleResult is the outcome of RunClusterScale.
type ScaleResult struct {
	Nodes       []ScaleNode `json:"nodes"`
	Conns       int64       `json:"subscribers_ready"`
	Messages    int         `json:"broadcasts"`
	Acked       int64       `json:"broadcasts_acked"`
	Expected    int64       `json:"expected_deliveries"`
	Delivered   int64       `json:"delivered"`
	ConnectSecs float64     `json:"connect_secs"`
	Error       string      `json:"error,omitempty"`
}

// scaleLoaderSlack is what a loader process keeps of its open-file
// limit for itself (its poller, pipes, the runtime).
const scaleLoaderSlack = 200

// RunClusterScale starts the cluster, one `gust load --mode sub` process
// per node (a process holds at most its open-file limit of connections),
// waits until every subscriber is ready and held, reads each node's RSS,
// publishes the broadcasts on the first node, and counts what every
// loader received. It writes summary.md, raw.json and env.txt into a run
// directory and returns it.
func RunClusterScale(ctx context.Context, cfg ScaleConfig) (string, *ScaleResult, error) {
	if cfg.Nodes <= 1 {
		cfg.Nodes = 5
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 90000
	}
	if cfg.Messages <= 0 {
		cfg.Messages = 3
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 5 * time.Second
	}
	logf := func(f string, a ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, "scale: "+f+"\n", a...)
		}
	}
	root := cfg.Root
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return "", nil, err
		}
	}
	per := (cfg.Conns + cfg.Nodes - 1) / cfg.Nodes
	limit, err := fileLimit()
	if err != nil {
		return "", nil, err
	}
	if uint64(per+scaleLoaderSlack) > limit {
		return "", nil, fmt.Errorf("%w: %d subscribers per node need %d open files per loader and node, the limit is %d: use more nodes",
			loadgen.ErrFileLimit, per, per+scaleLoaderSlack, limit)
	}
	tmp, err := os.MkdirTemp("", "gust-scale-")
	if err != nil {
		return "", nil, err
	}
	defer os.RemoveAll(tmp)
	started := time.Now()
	t := Target{Name: "gust-cluster", Kind: KindGust, Nodes: cfg.Nodes}
	if err := t.prepare(ctx, root, tmp); err != nil {
		return "", nil, err
	}
	logf("starting %d nodes", cfg.Nodes)
	r, err := t.startCluster(ctx, tmp, "")
	if err != nil {
		return "", nil, err
	}
	defer r.stop()
	pids := r.pids()
	res := &ScaleResult{Messages: cfg.Messages}
	for i, a := range r.nodes {
		s, _ := ReadProc(pids[i])
		res.Nodes = append(res.Nodes, ScaleNode{Addr: a, PID: pids[i], RSSBefore: s.RSSBytes})
	}
	topic := "bench/broadcast"
	// The loaders run until the broadcasts are surely in: connecting,
	// the hold, one broadcast a second, and a margin to deliver.
	connectBound := 3 * time.Minute
	loaders := make([]*scaleLoader, cfg.Nodes)
	for i := range loaders {
		n := min(per, cfg.Conns-i*per)
		args := []string{"load", "--addr", r.nodes[i], "--mode", "sub", "--subs", strconv.Itoa(n),
			"--filter", topic, "--qos", strconv.Itoa(int(cfg.QoS)), "--loops", "1", "--json", "--quiet",
			"--connect-timeout", connectBound.String(), "--client-prefix", "scale" + strconv.Itoa(i) + "-",
			"--duration", (cfg.Hold + time.Duration(cfg.Messages)*time.Second + 20*time.Second).String()}
		l, err := startScaleLoader(t.bin, args, n)
		if err != nil {
			for _, l := range loaders[:i] {
				l.kill()
			}
			return "", nil, err
		}
		loaders[i] = l
	}
	defer func() {
		for _, l := range loaders {
			l.kill()
		}
	}()
	logf("%d loaders connecting %d subscribers", len(loaders), cfg.Conns)
	t0 := time.Now()
	ready := func() bool {
		for _, l := range loaders {
			if l.ready() < int64(l.want) {
				return false
			}
		}
		return true
	}
	for !ready() && time.Since(t0) < connectBound && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
	}
	res.ConnectSecs = time.Since(t0).Seconds()
	for i, l := range loaders {
		res.Nodes[i].Subscribers = l.ready()
		res.Conns += l.ready()
	}
	logf("%d of %d subscribers ready after %.1f s", res.Conns, cfg.Conns, res.ConnectSecs)
	if res.Conns < int64(cfg.Conns) {
		res.Error = fmt.Sprintf("only %d of %d subscribers ready within %s", res.Conns, cfg.Conns, connectBound)
	}
	time.Sleep(cfg.Hold)
	for i := range res.Nodes {
		n := &res.Nodes[i]
		if s, err := ReadProc(n.PID); err == nil {
			n.RSSHeld = s.RSSBytes
		}
		if n.Subscribers > 0 {
			n.RSSPerConn = float64(n.RSSHeld-n.RSSBefore) / float64(n.Subscribers)
		}
	}
	pub := loadgen.DefaultConfig()
	pub.Addr, pub.Mode, pub.Publishers, pub.QoS = r.nodes[0], loadgen.ModePub, 1, cfg.QoS
	pub.PubTopic, pub.Count, pub.Rate = topic, cfg.Messages, 1
	pub.Duration, pub.Drain, pub.Loops = time.Duration(cfg.Messages+5)*time.Second, 5*time.Second, 1
	pub.ClientPrefix = "scalepub"
	logf("publishing %d broadcasts on %s", cfg.Messages, r.nodes[0])
	pr, err := loadgen.Run(ctx, pub)
	if err != nil {
		return "", nil, err
	}
	res.Acked = pr.Sent
	if cfg.QoS > 0 {
		res.Acked = pr.Acked
	}
	for i, l := range loaders {
		lr := l.wait(time.Minute)
		n := &res.Nodes[i]
		if lr == nil {
			if res.Error == "" {
				res.Error = fmt.Sprintf("loader %d wrote no result", i)
			}
			continue
		}
		n.Delivered, n.P99, n.LoaderFiles = lr.Delivered, lr.Latency.P99, lr.FileLimit
		res.Delivered += lr.Delivered
	}
	res.Expected = res.Conns * int64(cfg.Messages)
	logf("delivered %d of %d (%d subscribers x %d broadcasts)", res.Delivered, res.Expected, res.Conns, cfg.Messages)
	dir, err := writeScale(root, cfg, started, res)
	return dir, res, err
}

// fileLimit is the hard open-file limit of a process here, the most
// connections a broker or a loader can hold.
func fileLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return uint64(rl.Max), nil
}

// scaleLoader is one `gust load` child process and what its JSON lines
// said.
type scaleLoader struct {
	cmd  *exec.Cmd
	want int
	mu   sync.Mutex
	rdy  int64
	res  *loadgen.Result
	done chan struct{}
}

func startScaleLoader(bin string, args []string, want int) (*scaleLoader, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	killWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	l := &scaleLoader{cmd: cmd, want: want, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			switch {
			case bytes.Contains(line, []byte(`"type":"progress"`)):
				var p loadgen.Progress
				if json.Unmarshal(line, &p) == nil {
					l.mu.Lock()
					l.rdy = p.Ready
					l.mu.Unlock()
				}
			case bytes.Contains(line, []byte(`"type":"result"`)):
				var r loadgen.Result
				if json.Unmarshal(line, &r) == nil {
					l.mu.Lock()
					l.res = &r
					l.mu.Unlock()
				}
			}
		}
		_ = cmd.Wait()
	}()
	return l, nil
}

func (l *scaleLoader) ready() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rdy
}

// wait returns the loader's result once it has exited, or nil after
// timeout (the loader is then killed).
func (l *scaleLoader) wait(timeout time.Duration) *loadgen.Result {
	select {
	case <-l.done:
	case <-time.After(timeout):
		l.kill()
		<-l.done
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res
}

func (l *scaleLoader) kill() {
	if l.cmd.ProcessState == nil {
		_ = l.cmd.Process.Kill()
	}
}

// writeScale writes the run directory: env.txt, raw.json, summary.md.
func writeScale(root string, cfg ScaleConfig, started time.Time, res *ScaleResult) (string, error) {
	base := cfg.ResultsDir
	if base == "" {
		base = filepath.Join(root, "results", LocalResults)
		if cfg.Publish {
			base = filepath.Join(root, "results")
		}
	}
	dir := filepath.Join(base, started.UTC().Format("2006-01-02T1504")+"-cluster-scale-"+gitCommit(root))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var env strings.Builder
	w := func(k, v string) { fmt.Fprintf(&env, "%-16s %s\n", k+":", v) }
	w("date", started.UTC().Format(time.RFC3339))
	w("commit", gitCommit(root))
	w("cpu", cpuModel())
	w("cores", strconv.Itoa(runtime.NumCPU()))
	w("kernel", readTrim("/proc/sys/kernel/osrelease"))
	w("memory", memTotal())
	w("loadavg end", readTrim("/proc/loadavg"))
	if l, err := fileLimit(); err == nil {
		w("nofile", strconv.FormatUint(l, 10)+" per process (brokers and loaders alike)")
	}
	w("nodes", fmt.Sprintf("%d x gust serve --cluster %s", cfg.Nodes, strings.Join(GustArgs(), " ")))
	w("loaders", fmt.Sprintf("%d x gust load --mode sub --loops 1, loader i to node i", cfg.Nodes))
	if err := os.WriteFile(filepath.Join(dir, "env.txt"), []byte(env.String()), 0o644); err != nil {
		return dir, err
	}
	raw, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return dir, err
	}
	if err := os.WriteFile(filepath.Join(dir, "raw.json"), append(raw, '\n'), 0o644); err != nil {
		return dir, err
	}
	return dir, os.WriteFile(filepath.Join(dir, "summary.md"), []byte(scaleSummary(cfg, res)), 0o644)
}

// scaleSummary is the run's table in Markdown.
func scaleSummary(cfg ScaleConfig, res *ScaleResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Cluster scale: %d subscribers on %d nodes\n\n", res.Conns, cfg.Nodes)
	fmt.Fprintf(&b, "%d `gust serve --cluster` processes on loopback, one `gust load --mode sub` process per node "+
		"(each process, broker or loader, may open %s files); every subscriber subscribes to `bench/broadcast` at QoS %d; "+
		"once all are ready and held %s, one publisher on the first node sends %d broadcasts, one a second. "+
		"RSS per connection is each node's RSS while the subscribers are held minus its RSS once the cluster "+
		"had formed, divided by its subscribers.\n\n", cfg.Nodes, limitText(), cfg.QoS, cfg.Hold, cfg.Messages)
	fmt.Fprintf(&b, "| node | subscribers | RSS before MiB | RSS held MiB | RSS per conn B | delivered | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for i, n := range res.Nodes {
		fmt.Fprintf(&b, "| %d (%s) | %d | %.1f | %.1f | %.0f | %d | %.1f |\n", i, n.Addr, n.Subscribers,
			float64(n.RSSBefore)/(1<<20), float64(n.RSSHeld)/(1<<20), n.RSSPerConn, n.Delivered, float64(n.P99)/1000)
	}
	fmt.Fprintf(&b, "\nSubscribers ready: %d of %d, in %.1f s. Broadcasts sent: %d (taken: %d). "+
		"Deliveries: %d of %d expected (%.3f%%).\n", res.Conns, cfg.Conns, res.ConnectSecs, res.Messages, res.Acked,
		res.Delivered, res.Expected, 100*float64(res.Delivered)/float64(max(1, res.Expected)))
	if res.Error != "" {
		fmt.Fprintf(&b, "\nError: %s\n", res.Error)
	}
	return b.String()
}

func limitText() string {
	if l, err := fileLimit(); err == nil {
		return strconv.FormatUint(l, 10)
	}
	return "its limit of"
}
