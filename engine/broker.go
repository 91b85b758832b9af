package engine

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/engine/auth"
	"github.com/gust-mqtt/gust/engine/cluster"
	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/engine/persist"
	"github.com/gust-mqtt/gust/engine/transport"
	"github.com/gust-mqtt/gust/trie"
)

// Version is the broker version reported in $SYS/broker/version.
const Version = "0.1.0"

// Broker is an MQTT broker. Create it with New, run it with Start, stop it
// with Shutdown. Its exported methods are safe from any goroutine.
type Broker struct {
	cfg Config
	log *slog.Logger

	trie     *trie.Trie
	retained *trie.Retained[*message]
	table    sessionTable
	sessions sessionStore
	online   func(trie.SubscriberID) bool // b.isOnline, bound once (no per-call closure)
	unloaded func(trie.SubscriberID) bool // b.isOnlineUncongested, bound once

	// loops are the broker's event loops, by index; set by Start before
	// anything reads them, never changed after.
	loops []*loop

	clock          atomic.Int64 // coarse unix nanos, updated by the ticker
	connected      atomic.Int64
	open           atomic.Int64 // open sockets, connected or not
	totalConnects  atomic.Uint64
	subCount       atomic.Int64
	slowClosed     atomic.Uint64
	credsNoted     atomic.Bool   // credentials without a password file logged (connlog.go)
	lingered       atomic.Uint64 // closes that lingered (linger.go)
	lingerCut      atomic.Uint64 // lingering connections closed for sending past lingerBytes
	assignID       atomic.Uint64
	anyExpiry      atomic.Bool // some session has had a finite expiry (expireSessions runs)
	maxConnected   atomic.Int64
	churn          atomic.Uint64 // connections opened plus closed (idle trim)
	trim           idleTrim      // ticker goroutine only (trim.go)
	trims          atomic.Uint64 // idle trims started
	spike          spikeTrim     // ticker goroutine only (trim.go)
	spikeTrims     atomic.Uint64 // spike trims started
	limits         limitStats    // Config "Limits" counters and measures (limits.go)
	wills          delayedWills  // v5 wills waiting for their delay (will.go)
	partial        partialBudget // partial-packet buffers in use (partial.go)
	takeoverClosed atomic.Uint64 // connections closed for input past MaxTakeoverBytes
	// sessionsExpired counts offline sessions ended by their expiry.
	sessionsExpired atomic.Uint64
	// sysLoad is the $SYS load averages' state, touched only by
	// publishSys on the first loop (sysload.go).
	sysLoad        sysLoad
	msgSeq, delSeq atomic.Uint64 // last ids of stored messages and deliveries (durqueue.go)
	takeoverLog    limitLog
	startedAt      time.Time
	// cluster is this node's link to the other nodes (cluster.go); nil
	// without a cluster. Set by Start before clients are accepted.
	cluster    atomic.Pointer[cluster.Node]
	clusterBad atomic.Uint64 // malformed records from other nodes dropped
	clusterLog limitLog
	// clusterClaimsRefused counts the CONNECTs refused because their
	// session's ownership could not be claimed, clusterTakenOver the
	// connections closed because another node claimed their session
	// (cluster_session.go).
	clusterClaimsRefused, clusterTakenOver atomic.Uint64
	clusterClaimLog                        limitLog
	// clusterSharedLost counts shared records whose group had no member
	// here any more.
	clusterSharedLost atomic.Uint64
	// authPool runs the full password checks (login.go); nil without an
	// auth.CachedAuthenticator. Set by Start before the loops run.
	authPool *auth.Pool
	auth     authStats
	// acl is the ACLFile's rules, nil without one; replaced whole by
	// ReloadACLFile. aclSeq numbers the connections the ACL cache knows
	// (aclcheck.go).
	acl    atomic.Pointer[ACL]
	aclSeq atomic.Uint64

	mu     sync.Mutex     // guards the fields below
	poller network.Poller // the event loops (handler.go); set by Start
	store  persist.Store  // durable state (durable.go); nil without one; set by Start
	// recoveredWills are published once the loops run (durable.go).
	recoveredWills []recoveredWill
	addr           net.Addr
	acc            atomic.Pointer[acceptor] // the first listener's acceptor (listener.go); set by Start
	// lns are the listeners (listeners.go), prepared by New, bound by Start.
	lns []*listener
	// handshakes runs the TLS handshakes off the loops; tlsLogs logs their
	// failures. Set by New.
	handshakes *transport.Handshakes
	tlsLogs    *tlsLogs
	// wsServers are the WebSocket transports of the ws and wss listeners,
	// for their counters; set by New.
	wsServers []*transport.WSServer
	started   bool
	closing   atomic.Bool
	ready     atomic.Bool // Ready: started, recovered and not closing
	died      chan error  // Done: the event loops or listener stopped on their own
	stopTick  chan struct{}
	tickDone  chan struct{}
}

// New validates cfg and returns a broker that is not yet listening.
func New(cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PasswordFile != "" {
		if err := cfg.loadPasswordFile(); err != nil {
			return nil, err
		}
	}
	log := cfg.Logger
	if log == nil {
		opts := &slog.HandlerOptions{Level: slogLevel(cfg.LogLevel)}
		if cfg.LogFormat == "json" {
			log = slog.New(slog.NewJSONHandler(os.Stderr, opts))
		} else {
			log = slog.New(slog.NewTextHandler(os.Stderr, opts))
		}
	}
	b := &Broker{
		cfg:      cfg,
		log:      log,
		trie:     trie.New(),
		retained: trie.NewRetained[*message](),
		died:     make(chan error, 2),
	}
	if err := b.loadAuthFiles(); err != nil {
		return nil, err
	}
	if err := b.prepareListeners(); err != nil {
		return nil, err
	}
	b.sessions.seed = maphash.MakeSeed()
	b.online = b.isOnline
	b.unloaded = b.isOnlineUncongested
	b.clock.Store(time.Now().UnixNano())
	return b, nil
}

// debug reports whether debug log lines are wanted. Callers on the
// connection path test it first: slog boxes its arguments (the client id
// is one allocation) even when the level is off. Safe from any goroutine.
func (b *Broker) debug() bool {
	return b.log.Enabled(context.Background(), slog.LevelDebug)
}

// connLines reports whether connection messages are written: on
// (Config.ConnectionMessages) and at a level the logger keeps. The
// connection path tests it first, as debug: the arguments of a line (the
// remote address is a getpeername call and two allocations) are built
// even when the level drops it. Safe from any goroutine.
func (b *Broker) connLines() bool {
	return b.cfg.ConnectionMessages && b.log.Enabled(context.Background(), slog.LevelInfo)
}

// now returns the coarse clock in unix nanoseconds. Safe from any goroutine.
func (b *Broker) now() int64 { return b.clock.Load() }

// refreshClock reads the real time, moves the coarse clock forward to it
// and returns it. Used where a few events per connection start a deadline
// (OnOpen, CONNECT, a delayed will): a ticker starved for a while leaves
// the coarse clock behind, and a deadline stamped with it would pass that
// much early once the ticker catches up. Safe from any goroutine.
func (b *Broker) refreshClock() int64 {
	now := time.Now().UnixNano()
	for {
		old := b.clock.Load()
		if old >= now || b.clock.CompareAndSwap(old, now) {
			return now
		}
	}
}

// isOnline reports whether a subscriber has a connected client; used to pick
// shared-group members. Safe from any goroutine.
func (b *Broker) isOnline(id trie.SubscriberID) bool {
	s := b.table.get(id)
	return s != nil && s.owner.Load() != nil
}

// isOnlineUncongested is isOnline for a member whose session is not
// congested (throttle.go): a shared message goes to a member with room
// before one whose backlog would throttle the publisher. Safe from any
// goroutine.
func (b *Broker) isOnlineUncongested(id trie.SubscriberID) bool {
	s := b.table.get(id)
	return s != nil && s.owner.Load() != nil && s.congestedSince() == 0
}

// Start binds the listener and starts the event loops. It returns once the
// broker accepts connections; Addr then reports the bound address.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return ErrStarted
	}
	if err := b.openStore(); err != nil { // before anything is accepted
		return fmt.Errorf("engine: store: %w", err)
	}
	files, err := b.listen()
	if err != nil {
		b.closeStore()
		return err
	}
	b.startAuthPool()
	loops, err := b.startLoops()
	if err != nil {
		for _, f := range files {
			_ = f.Close()
		}
		b.stopAuthPool()
		b.closeStore()
		return err
	}
	if err := b.startCluster(); err != nil {
		for _, f := range files {
			_ = f.Close()
		}
		b.stopAuthPool()
		_ = b.poller.Stop(context.Background())
		b.closeStore()
		return err
	}
	maxConns := connectionCap(b.cfg.MaxConnections, len(loops), b.log)
	if err := b.startAcceptors(files, loops, maxConns); err != nil {
		b.stopCluster()
		b.stopAuthPool()
		b.closeStore()
		return err
	}
	b.addr = b.lns[0].addr
	b.started = true
	b.startedAt = time.Now()
	b.applyMemoryLimit()
	b.stopTick = make(chan struct{})
	b.tickDone = make(chan struct{})
	go b.ticker()
	go b.watchLoops()
	b.publishRecoveredWills()
	b.ready.Store(true)
	for _, ln := range b.lns {
		b.log.Info("broker listening", "addr", ln.addr.String(), "transport", ln.cfg.Transport, "version", Version)
	}
	if len(b.cfg.Listeners) == 0 && len(b.lns) == 1 {
		if ta, ok := b.lns[0].addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
			b.log.Info("listening on loopback only: clients on other machines cannot connect; to listen on every interface set listen = \":"+
				strconv.Itoa(ta.Port)+"\" in the configuration file or pass --listen :"+strconv.Itoa(ta.Port), "addr", ta.String())
		}
	}
	return nil
}

// stopAuthPool stops the password check pool, if any, once the checks
// running are done.
func (b *Broker) stopAuthPool() {
	if b.authPool != nil {
		b.authPool.Close()
	}
}

// listenerFailed reports through Done a listener that can no longer
// accept. Called by the acceptor goroutine.
func (b *Broker) listenerFailed(err error) {
	b.log.Error("listener failed, no new connections can be accepted", "err", err)
	b.report(fmt.Errorf("engine: listener: %w", err))
}

func (b *Broker) report(err error) {
	select {
	case b.died <- err:
	default:
	}
}

// Done delivers an error if the broker stops serving on its own (its
// event loops or its listener stopped while Shutdown was not called); the
// broker is then of no use and its owner should call Shutdown and exit.
// Nothing is delivered when Shutdown stops it. Safe from any goroutine.
func (b *Broker) Done() <-chan error { return b.died }

// Ready reports whether the broker serves: its store is recovered, its
// listener open, and Shutdown has not begun. Safe from any goroutine; it
// never waits for Start.
func (b *Broker) Ready() bool { return b.ready.Load() }

// Addr returns the address the broker listens on, or nil before Start.
func (b *Broker) Addr() net.Addr {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Shutdown stops accepting connections, closes every client connection
// (their wills are published, as for any close that is not a DISCONNECT
// [MQTT-3.1.2-8]) and stops the event loops. It returns when done or when
// ctx expires.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		return ErrNotStarted
	}
	b.ready.Store(false)
	if b.closing.Swap(true) {
		return nil
	}
	close(b.stopTick)
	select { // the ticker may wait on the session store: bounded by ctx too
	case <-b.tickDone:
	case <-ctx.Done():
	}
	// Phase 1: every loop publishes its clients' wills while every client
	// is still connected, so subscribers on any loop get them. Phase 2
	// starts only when all loops are done; it drains the hand-overs of
	// phase 1, then closes.
	for _, ln := range b.lns {
		ln.acc.Load().stop(ctx) // no new connections; the hand-offs in flight are settled
	}
	b.handshakes.Stop() // a stalled TLS client does not hold the shutdown
	b.onEachLoop(ctx, (*loop).publishShutdownWills)
	b.onEachLoop(ctx, (*loop).closeAll)
	for b.open.Load() > 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	b.stopCluster()  // after the wills, which other nodes get too
	b.stopAuthPool() // its clients are gone: waits for the checks running
	err := b.poller.Stop(ctx)
	b.closeStore() // after the loops: the commits they queued are written
	b.log.Info("broker stopped")
	return err
}

// loopSnapshot returns the broker's loops (nil before Start). Safe from
// any goroutine.
func (b *Broker) loopSnapshot() []*loop { return b.loops }
