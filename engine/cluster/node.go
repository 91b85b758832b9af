// Package cluster joins Gust nodes into one broker over NATS: a node
// embeds a NATS server (nats-server v2), routed to the other nodes' ones,
// or connects to an existing NATS cluster, and moves messages between
// nodes as NATS messages whose subjects carry their MQTT topics
// (subject.go), so that NATS's interest propagation sends a message only
// to the nodes with a matching subscription.
//
// The package moves opaque records; the engine encodes and routes them
// (engine/cluster.go). A Node has these goroutines besides NATS's own:
// the receiver, which hands the records from every subscription to the
// engine in batches; the retained-state responder; a once-a-second
// watcher of drops; and, for session ownership (session.go), the claim
// workers, the bucket's binder and watcher, and the session record
// writer. None is per connection or per message.
package cluster

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Engine is what a Node needs of the broker.
type Engine interface {
	// Deliver takes a batch of records from other nodes. The engine owns
	// the slice and calls Node.Done with their total size once routed.
	Deliver(batch [][]byte)
	// DeliverShared takes a batch of records for local shared groups
	// (shared.go), as Deliver does.
	DeliverShared(batch []Shared)
	// Snapshot calls emit with a record of each retained message, for a
	// node that joins. Any goroutine.
	Snapshot(emit func(record []byte))
	// Restore applies one record of a Snapshot. Any goroutine.
	Restore(record []byte)
}

// Stats are a node's cluster counters.
type Stats struct {
	Node          string
	Routes        int    // route connections of the embedded NATS server
	Nodes         int    // nodes up, this one included (1 with cluster_nats_url: not known)
	RoutePending  int    // bytes the routes hold unsent
	RouteStale    uint64 // routes closed for unanswered pings
	RouteSlow     uint64 // routes closed for a blocked write (slow or stopped peer)
	Subjects      int    // NATS subscriptions held for local interest
	SharedQueues  int    // NATS queue subscriptions held for local shared groups
	SharedLost    uint64 // shared records that found their group gone
	Sent          uint64 // records published
	SendFailed    uint64 // records NATS refused (closed, or past its max payload)
	Received      uint64 // records handed to the engine
	Dropped       uint64 // records NATS dropped for this node (cluster_pending_messages)
	Waits         uint64 // receiver waits for the engine (cluster_pending_bytes)
	PendingBytes  int64  // bytes handed to the engine and not yet routed (cluster_pending_bytes)
	RetainedSync  uint64 // retained records restored at start-up
	SyncsAnswered uint64 // snapshots sent to joining nodes
}

// batchMax is the most records handed to the engine at once.
const batchMax = 256

// A joining node waits up to routeWait for a route to another node, then
// up to syncTimeout for a peer's retained state, asking again after each
// syncTry without an answer.
const (
	routeWait   = 2 * time.Second
	syncTimeout = 5 * time.Second
	syncTry     = 500 * time.Millisecond
)

// Node is one node's link to the cluster.
type Node struct {
	cfg    Config
	log    *slog.Logger
	prefix string // "gust.<name>."
	eng    Engine
	srv    *server.Server // nil with Config.NATSURL
	nc     *nats.Conn
	nq     *nats.Conn // echoing connection of the shared groups' queue subscriptions
	in     chan *nats.Msg
	quit   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex // guards interest, shared, sharedBy, peers, presence and goneDrops
	interest map[string]*subject
	shared   map[string]*sharedSub // by queue and subject
	sharedBy map[*nats.Subscription]*sharedSub
	peers    map[string]*peerState  // members.go
	presence map[groupKey]*presence // shared.go

	presenceSnap atomic.Pointer[map[groupKey]string] // presence subjects, for GroupLocalOnly
	goneDrops    uint64                              // drops of subscriptions since removed

	pending                               atomic.Int64 // bytes handed to the engine, not yet Done
	sent, failed, received, waits, synced atomic.Uint64
	answered                              atomic.Uint64
	dropped                               atomic.Uint64
	sharedLost                            atomic.Uint64
	lastFail                              atomic.Int64 // unix nanos of the last send failure logged

	own      owners      // session ownership (session.go)
	watching atomic.Bool // the ownership bucket is bound and watched
	storeDir string      // the embedded JetStream's directory, removed at Close
}

type subject struct {
	refs int
	sub  *nats.Subscription
}

// Start joins the cluster: it starts the embedded NATS server (unless
// cfg.NATSURL names one), connects to it, subscribes to the retained
// updates, asks a peer for the retained state, and starts the receiver.
// maxRecord is the largest record the engine sends. cfg must have passed
// Validate.
func Start(cfg Config, eng Engine, maxRecord int, log *slog.Logger) (*Node, error) {
	return startWith(cfg, eng, maxRecord, log)
}

func startWith(cfg Config, eng Engine, maxRecord int, log *slog.Logger) (*Node, error) {
	cfg = cfg.withDefaults()
	n := &Node{
		cfg: cfg, log: log.With("node", cfg.Node), prefix: "gust." + cfg.Name + ".", eng: eng,
		in: make(chan *nats.Msg, cfg.PendingMessages), quit: make(chan struct{}), interest: make(map[string]*subject),
		shared: make(map[string]*sharedSub), sharedBy: make(map[*nats.Subscription]*sharedSub),
		peers: make(map[string]*peerState), presence: make(map[groupKey]*presence),
	}
	opts := []nats.Option{
		nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if !errors.Is(err, nats.ErrSlowConsumer) { // counted and logged by watch
				n.log.Warn("cluster: NATS error", "err", err)
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				n.log.Warn("cluster: disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { n.log.Info("cluster: reconnected to NATS", "url", c.ConnectedUrl()) }),
	}
	url := cfg.NATSURL
	if url == "" {
		token := rand.Text()
		srv, dir, err := startServer(cfg, token, maxRecord, n.log)
		if err != nil {
			return nil, err
		}
		n.srv = srv
		n.storeDir = dir
		opts = append(opts, nats.InProcessServer(srv), nats.Token(token))
	}
	nc, err := nats.Connect(url, append(opts, nats.Name("gust "+cfg.Node), nats.NoEcho())...)
	if err != nil {
		n.shutdownServer()
		return nil, fmt.Errorf("cluster: connecting to NATS: %w", err)
	}
	n.nc = nc
	nq, err := nats.Connect(url, append(opts, nats.Name("gust "+cfg.Node+" shared"))...)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: connecting to NATS: %w", err)
	}
	n.nq = nq
	if _, err := nc.ChanSubscribe(n.prefix+"r", n.in); err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: subscribing to retained updates: %w", err)
	}
	if err := nc.Flush(); err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: NATS: %w", err)
	}
	n.wg.Add(2)
	go n.receive()
	go n.watch()
	if err := n.startOwners(); err != nil {
		n.Close()
		return nil, err
	}
	// Answering before asking: nodes that start together each find the
	// others' answers (empty then); NoEcho keeps a node from answering
	// itself.
	if _, err := nc.QueueSubscribe(n.prefix+"sync", "sync", n.answerSync); err != nil {
		n.Close()
		return nil, fmt.Errorf("cluster: subscribing to retained state requests: %w", err)
	}
	n.syncRetained()
	n.log.Info("cluster: joined", "cluster", cfg.Name, "listen", cfg.Listen, "routes", cfg.Routes, "nats_url", cfg.NATSURL)
	return n, nil
}

// startServer starts the embedded NATS server: a route listener on
// cfg.Listen, routes to cfg.Routes, clients with token only.
func startServer(cfg Config, token string, maxRecord int, log *slog.Logger) (*server.Server, string, error) {
	host, port, _ := splitPort(cfg.Listen)
	if host == "" {
		host = "0.0.0.0"
	}
	var routes []string
	for _, r := range splitList(cfg.Routes) {
		routes = append(routes, routeURL(r))
	}
	if len(routes) == 0 {
		// JetStream clustering wants a configured route: a first node's
		// own address serves (NATS skips a route to itself).
		routes = append(routes, routeURL(cfg.Listen))
	}
	cluster := server.ClusterOpts{Name: cfg.Name, Host: host, Port: port,
		PingInterval: routePingInterval, MaxPingsOut: routeMaxPings, WriteDeadline: routeWriteDeadline}
	if cfg.Token != "" {
		routes = withToken(routes, cfg.Token)
		cluster.Username, cluster.Password = routeUser, cfg.Token
	}
	dir, err := os.MkdirTemp("", "gust-nats-"+cfg.Node+"-")
	if err != nil {
		return nil, "", fmt.Errorf("cluster: the embedded JetStream's directory: %w", err)
	}
	opts := &server.Options{
		ServerName: cfg.Node,
		// Routing waits for the client listener to be up, so there is
		// one: on loopback, on a free port, behind a token only this
		// process knows; the node connects in-process.
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		Authorization: token,
		NoSigs:        true,
		MaxPayload:    int32(max(maxRecord, 1<<20)),
		Cluster:       cluster,
		JetStream:     true,
		StoreDir:      dir,
	}
	for _, r := range routes {
		u, err := url.Parse(r)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, "", fmt.Errorf("cluster_routes %q: %w", r, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	// Bound first, so that an address in use is told at once.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("cluster_listen %s: %w", cfg.Listen, err)
	}
	_ = ln.Close()
	srv, err := server.NewServer(opts)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	srv.SetLogger(natsLog{log}, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("cluster_listen %s: the embedded NATS server did not start (is the address in use?)", cfg.Listen)
	}
	return srv, dir, nil
}

// Prefix is the subjects' prefix, for AppendSubject.
func (n *Node) Prefix() string { return n.prefix }

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Node }

// Publish sends a record on subject (AppendSubject) to the nodes with
// interest. NATS copies both and batches its writes. Any goroutine.
func (n *Node) Publish(subject string, record []byte) {
	if err := n.nc.Publish(subject, record); err != nil {
		n.sendFailed(err)
		return
	}
	n.sent.Add(1)
}

// PublishRetained sends a retained message's record to every node.
func (n *Node) PublishRetained(record []byte) {
	n.Publish(n.prefix+"r", record)
}

func (n *Node) sendFailed(err error) {
	n.failed.Add(1)
	now := time.Now().UnixNano()
	if last := n.lastFail.Load(); now-last > int64(time.Second) && n.lastFail.CompareAndSwap(last, now) {
		n.log.Warn("cluster: message not sent to the other nodes", "err", err, "failed", n.failed.Load())
	}
}

// Interest counts one more (add) or one less local subscription on
// filter (without any $share part), subscribing on NATS for its subjects
// at the first and unsubscribing at the last. Any goroutine.
func (n *Node) Interest(filter string, add bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range FilterSubjects(n.prefix, filter) {
		e := n.interest[s]
		if add {
			if e == nil {
				sub, err := n.nc.ChanSubscribe(s, n.in)
				if err != nil {
					n.log.Warn("cluster: subscribing on NATS", "subject", s, "err", err)
				}
				e = &subject{sub: sub}
				n.interest[s] = e
			}
			e.refs++
			continue
		}
		if e == nil {
			continue
		}
		if e.refs--; e.refs == 0 {
			if e.sub != nil {
				if d, err := e.sub.Dropped(); err == nil {
					n.goneDrops += uint64(d)
				}
				_ = e.sub.Unsubscribe()
			}
			delete(n.interest, s)
		}
	}
}

// Done tells the node that records of size bytes were routed.
func (n *Node) Done(bytes int) { n.pending.Add(int64(-bytes)) }

// receive hands the records from every subscription to the engine, up to
// batchMax at a time, waiting while the engine holds cluster_pending_bytes.
func (n *Node) receive() {
	defer n.wg.Done()
	limit := int64(n.cfg.PendingBytes)
	for {
		var m *nats.Msg
		select {
		case m = <-n.in:
		case <-n.quit:
			return
		}
		var batch [][]byte
		var shared []Shared
		size := 0
		take := func(m *nats.Msg) {
			if m.Sub != nil && m.Sub.Queue != "" {
				if sh, ok := n.sharedOf(m); ok {
					shared = append(shared, sh)
					size += len(m.Data)
				}
				return
			}
			if batch == nil {
				batch = make([][]byte, 0, batchMax)
			}
			batch = append(batch, m.Data)
			size += len(m.Data)
		}
		take(m)
	more:
		for len(batch)+len(shared) < batchMax {
			select {
			case m = <-n.in:
				take(m)
			default:
				break more
			}
		}
		if n.pending.Load() > limit {
			n.waits.Add(1)
			for n.pending.Load() > limit {
				select {
				case <-n.quit:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}
		n.pending.Add(int64(size))
		n.received.Add(uint64(len(batch) + len(shared)))
		if len(batch) > 0 {
			n.eng.Deliver(batch)
		}
		if len(shared) > 0 {
			n.eng.DeliverShared(shared)
		}
	}
}

// watch counts and logs, once a second, the records NATS dropped because
// the receiver's queue was full.
func (n *Node) watch() {
	defer n.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-n.quit:
			return
		case now := <-t.C:
			n.watchPeers(now)
		}
		n.mu.Lock()
		total := n.goneDrops
		for _, e := range n.interest {
			if e.sub != nil {
				if d, err := e.sub.Dropped(); err == nil {
					total += uint64(d)
				}
			}
		}
		for _, e := range n.shared {
			if e.sub != nil {
				if d, err := e.sub.Dropped(); err == nil {
					total += uint64(d)
				}
			}
		}
		n.mu.Unlock()
		if total > seen {
			n.dropped.Store(total)
			n.log.Warn("cluster: slow node: messages from other nodes dropped", "dropped", total-seen,
				"setting", "cluster_pending_messages", "limit", n.cfg.PendingMessages)
			seen = total
		}
	}
}

// answerSync sends this node's retained messages to a joining node, one
// record per NATS message, then an empty one.
func (n *Node) answerSync(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	n.eng.Snapshot(func(record []byte) {
		if err := n.nc.Publish(m.Reply, record); err != nil {
			n.sendFailed(err)
		}
	})
	if err := n.nc.Publish(m.Reply, nil); err != nil {
		n.sendFailed(err)
	}
	n.answered.Add(1)
}

// syncRetained asks a peer for the retained messages. With the
// embedded server it first probes the seeds (startup.go), then waits, up
// to routeWait, for a route: a node that finds none is the first of its
// cluster, with nothing to learn.
// It retries while no peer answers, up to syncTimeout.
func (n *Node) syncRetained() {
	if n.srv != nil {
		if n.cfg.Routes == "" {
			return
		}
		if !n.anySeedListening() {
			n.log.Info("cluster: no other node listening on the seed routes; starting as the first")
			return
		}
		deadline := time.Now().Add(routeWait)
		for n.srv.NumRoutes() == 0 {
			if time.Now().After(deadline) {
				n.log.Info("cluster: no other node reachable yet; starting as the first")
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	deadline := time.Now().Add(syncTimeout)
	for {
		done, err := n.syncOnce(syncTry)
		if done {
			return
		}
		if time.Now().After(deadline) {
			n.log.Warn("cluster: no retained state from a peer; starting with this node's own", "err", err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncOnce asks for the retained state once; it reports whether a peer
// answered whole.
func (n *Node) syncOnce(wait time.Duration) (bool, error) {
	inbox := n.nc.NewRespInbox()
	sub, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return false, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(-1, -1) // the peer's retained limits bound it
	if err := n.nc.PublishRequest(n.prefix+"sync", inbox, nil); err != nil {
		return false, err
	}
	for got := false; ; got = true {
		m, err := sub.NextMsg(wait)
		if err != nil {
			if got {
				return false, fmt.Errorf("retained state cut short: %w", err)
			}
			return false, err
		}
		if m.Header.Get("Status") == "503" {
			return false, nats.ErrNoResponders
		}
		if len(m.Data) == 0 {
			n.log.Info("cluster: retained state received from a peer", "messages", n.synced.Load())
			return true, nil
		}
		n.eng.Restore(m.Data)
		n.synced.Add(1)
	}
}

// Stats returns the node's counters. Any goroutine.
func (n *Node) Stats() Stats {
	st := Stats{
		Node: n.cfg.Node, Sent: n.sent.Load(), SendFailed: n.failed.Load(), Received: n.received.Load(),
		Dropped: n.dropped.Load(), SharedLost: n.sharedLost.Load(), PendingBytes: n.pending.Load(), Waits: n.waits.Load(), RetainedSync: n.synced.Load(), SyncsAnswered: n.answered.Load(),
	}
	st.Nodes = 1
	if n.srv != nil {
		st.Routes = n.srv.NumRoutes()
		st.RouteStale = n.srv.NumStaleConnectionsRoutes()
		st.RouteSlow = n.srv.NumSlowConsumersRoutes()
	}
	n.mu.Lock()
	for _, p := range n.peers {
		if p.up {
			st.Nodes++
			st.RoutePending += p.bytes
		}
	}
	st.Subjects = len(n.interest)
	st.SharedQueues = len(n.shared)
	n.mu.Unlock()
	return st
}

// Close leaves the cluster: the NATS connection, then the embedded
// server, then the node's goroutines.
func (n *Node) Close() {
	if n.nq != nil {
		n.nq.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	n.shutdownServer()
	select {
	case <-n.quit:
	default:
		close(n.quit)
	}
	n.wg.Wait()
}

func (n *Node) shutdownServer() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
	}
	if n.storeDir != "" {
		_ = os.RemoveAll(n.storeDir)
	}
}

// natsLog writes the embedded server's log lines to the node's logger.
type natsLog struct{ l *slog.Logger }

func (g natsLog) Noticef(f string, v ...any) { g.l.Info("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLog) Warnf(f string, v ...any)   { g.l.Warn("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLog) Fatalf(f string, v ...any)  { g.l.Error("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLog) Errorf(f string, v ...any)  { g.l.Warn("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLog) Debugf(string, ...any)      {}
func (g natsLog) Tracef(string, ...any)      {}
