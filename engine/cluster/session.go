package cluster

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Session ownership: one client id, one session, cluster-wide.
//
// The owner of each client id's session is an entry of a JetStream
// key-value bucket (gust_<name>_owners, Config.Replicas copies, in
// memory): key the client id in base64url, value "<node>/<c|p>", the
// node that holds it and whether its CONNECT asked for a clean start.
// A CONNECT claims the entry before its CONNACK with a compare-and-set on
// the entry's revision (Create for a new id, Update for a known one); the
// revision it gets is the node's claim. Every node watches the bucket: an
// update naming another node, with a revision above this node's claim,
// means the session was taken over there, and the engine closes the
// connection and drops the session here (SessionEngine.TakenOver). No
// timer decides anything: a node that cannot reach the bucket (no
// JetStream quorum, NATS down) cannot claim, and its CONNECTs are refused.
//
// Claims are network round trips, so they run on claimWorkers goroutines
// fed by a queue of Config.ClaimQueue claims; the engine parks the CONNECT
// meanwhile.

// SessionEngine is what session ownership needs of the broker. An Engine
// passed to Start that implements it is told of takeovers.
type SessionEngine interface {
	// TakenOver says that node claimed the session of clientID at
	// revision rev, above this node's claim; clean is its CONNECT's Clean
	// Start. Called by the watcher goroutine.
	TakenOver(clientID string, rev uint64, clean bool)
}

// Errors of a claim.
var (
	// ErrUnavailable: the bucket cannot be reached (no JetStream quorum,
	// NATS down, or the bucket not created yet).
	ErrUnavailable = errors.New("cluster: session ownership bucket unreachable")
	// ErrClaimLost: another node claimed the session while this claim ran.
	ErrClaimLost = errors.New("cluster: the session was claimed by another node meanwhile")
)

const (
	// claimWorkers run the claims; each waits for up to two round trips
	// to the bucket's leader.
	claimWorkers = 8
	// claimTimeout bounds one request to JetStream.
	claimTimeout = 2 * time.Second
	// claimTries is how many times a claim that lost a compare-and-set
	// race reads the entry again and retries.
	claimTries = 3
	// bindEvery is how often a node that has not bound the bucket yet
	// tries again (JetStream waits for its quorum of nodes).
	bindEvery = 250 * time.Millisecond
)

// SessionStats are the counters of session ownership.
type SessionStats struct {
	Bound     bool   // the bucket is bound and watched
	Claims    uint64 // claims won
	Refused   uint64 // claims that failed (unreachable, lost, queue full)
	TakenOver uint64 // sessions of this node claimed by another
	Owned     int    // client ids this node holds a claim on
}

type claimReq struct {
	id    string
	clean bool
	done  func(rev uint64, err error)
}

// owners is a node's side of session ownership.
type owners struct {
	eng    SessionEngine // nil: takeovers are not reported
	bucket string
	q      chan claimReq

	kv atomic.Pointer[nats.KeyValue] // set once bound and watched

	mu      sync.Mutex
	owned   map[string]uint64 // client id -> revision of this node's claim
	pending map[string]int    // client id -> claims of it running here
	lost    map[string]uint64 // client id -> highest other node's revision seen while pending

	claims, refused, takenOver atomic.Uint64
}

// startOwners sets up session ownership: with an external NATS it checks
// that JetStream is there, then starts the claim workers and the binder,
// which binds (or creates) the bucket once JetStream has its quorum and
// watches it.
func (n *Node) startOwners() error {
	o := &n.own
	o.eng, _ = n.eng.(SessionEngine)
	o.bucket = "gust_" + n.cfg.Name + "_owners"
	o.q = make(chan claimReq, n.cfg.ClaimQueue)
	o.owned = make(map[string]uint64)
	o.pending = make(map[string]int)
	o.lost = make(map[string]uint64)
	if n.srv == nil {
		js, err := n.nc.JetStream(nats.MaxWait(claimTimeout))
		if err == nil {
			_, err = js.AccountInfo()
		}
		if err != nil {
			if errors.Is(err, nats.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrJetStreamNotEnabledForAccount) {
				return fmt.Errorf("cluster_nats_url %s: JetStream is not enabled there; Gust keeps session ownership in a JetStream bucket, so run nats-server with -js (jetstream {} in its configuration)", n.cfg.NATSURL)
			}
			return fmt.Errorf("cluster_nats_url %s: JetStream not reachable (%v); session ownership needs it", n.cfg.NATSURL, err)
		}
		n.log.Info("cluster: the external NATS has JetStream; session ownership in bucket " + o.bucket)
	}
	n.wg.Add(claimWorkers + 1)
	for range claimWorkers {
		go n.claimWorker()
	}
	go n.bindAndWatch()
	return nil
}

// replicas is the bucket's number of copies: Config.Replicas, or
// min(3, nodes) with nodes the JetStream peers known now.
func (n *Node) replicas() int {
	if n.cfg.Replicas > 0 {
		return n.cfg.Replicas
	}
	nodes := 1
	if n.srv != nil {
		nodes = max(nodes, len(n.srv.JetStreamClusterPeers()))
	} else if r := len(n.nc.Servers()); r > 0 {
		nodes = r
	}
	return min(3, nodes)
}

// bind binds the bucket, or creates it. Called by bindAndWatch only.
func (n *Node) bind() (nats.KeyValue, error) {
	o := &n.own
	js, err := n.nc.JetStream(nats.MaxWait(claimTimeout))
	if err != nil {
		return nil, err
	}
	kv, err := js.KeyValue(o.bucket)
	if errors.Is(err, nats.ErrBucketNotFound) {
		r := n.replicas()
		kv, err = js.CreateKeyValue(&nats.KeyValueConfig{
			Bucket: o.bucket, Description: "Gust: the node that holds each client id's session",
			History: 1, Storage: nats.MemoryStorage, Replicas: r,
		})
		if err == nil {
			n.log.Info("cluster: session ownership bucket created", "bucket", o.bucket, "replicas", r)
		} else if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
			kv, err = js.KeyValue(o.bucket) // another node created it meanwhile
		}
	}
	if err != nil {
		return nil, err
	}
	return kv, nil
}

// bindAndWatch binds the bucket, retrying every bindEvery while JetStream
// waits for its quorum, then passes every update of the bucket to seen.
// The watch is an ordered consumer: after a partition it resumes where it
// stopped, so a node that comes back learns of the takeovers it missed.
func (n *Node) bindAndWatch() {
	defer n.wg.Done()
	var kv nats.KeyValue
	var w nats.KeyWatcher
	for tries := 0; ; tries++ {
		var err error
		if kv, err = n.bind(); err == nil {
			if w, err = kv.WatchAll(nats.UpdatesOnly()); err == nil {
				break
			}
		}
		if tries%40 == 39 { // every 10 s
			n.log.Warn("cluster: session ownership bucket not reachable yet; CONNECTs are refused meanwhile", "bucket", n.own.bucket, "err", err)
		}
		select {
		case <-n.quit:
			return
		case <-time.After(bindEvery):
		}
	}
	n.own.kv.Store(&kv) // claims start once the watch runs: no takeover goes unseen
	n.watching.Store(true)
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-n.quit:
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				n.seen(e)
			}
		}
	}
}

// seen takes one update of the bucket: another node's claim of a session
// this node holds, at a higher revision, is a takeover.
func (n *Node) seen(e nats.KeyValueEntry) {
	if e.Operation() != nats.KeyValuePut {
		return
	}
	node, clean, ok := parseOwner(e.Value())
	if !ok || node == n.cfg.Node {
		return
	}
	id, err := base64.RawURLEncoding.DecodeString(e.Key())
	if err != nil {
		return
	}
	o := &n.own
	rev := e.Revision()
	o.mu.Lock()
	mine, held := o.owned[string(id)]
	take := held && mine < rev
	if take {
		delete(o.owned, string(id))
	}
	if o.pending[string(id)] > 0 && o.lost[string(id)] < rev {
		o.lost[string(id)] = rev
	}
	o.mu.Unlock()
	if take {
		o.takenOver.Add(1)
		if o.eng != nil {
			o.eng.TakenOver(string(id), rev, clean)
		}
	}
}

// Claim makes this node the owner of clientID's session, off the
// caller's goroutine: done gets the claim's revision, or ErrUnavailable or
// ErrClaimLost, on a claim worker. It reports false, without calling done,
// when Config.ClaimQueue claims wait already. Any goroutine.
func (n *Node) Claim(clientID string, clean bool, done func(rev uint64, err error)) bool {
	select {
	case n.own.q <- claimReq{id: clientID, clean: clean, done: done}:
		return true
	default:
		n.own.refused.Add(1)
		return false
	}
}

func (n *Node) claimWorker() {
	defer n.wg.Done()
	for {
		select {
		case <-n.quit:
			return
		case r := <-n.own.q:
			rev, err := n.claim(r.id, r.clean)
			if err != nil {
				n.own.refused.Add(1)
			} else {
				n.own.claims.Add(1)
			}
			r.done(rev, err)
		}
	}
}

// claim does the compare-and-set of id's entry: Create when there is
// none, Update at the revision read otherwise; a lost race reads again.
func (n *Node) claim(id string, clean bool) (uint64, error) {
	o := &n.own
	kvp := o.kv.Load()
	if kvp == nil {
		return 0, fmt.Errorf("%w: not bound yet (JetStream waits for its quorum)", ErrUnavailable)
	}
	kv := *kvp
	o.mu.Lock()
	o.pending[id]++
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		if o.pending[id]--; o.pending[id] <= 0 {
			delete(o.pending, id)
			delete(o.lost, id)
		}
		o.mu.Unlock()
	}()
	key := base64.RawURLEncoding.EncodeToString([]byte(id))
	val := ownerValue(n.cfg.Node, clean)
	for range claimTries {
		var rev uint64
		e, err := kv.Get(key)
		switch {
		case errors.Is(err, nats.ErrKeyNotFound):
			rev, err = kv.Create(key, val)
		case err != nil:
			return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
		default:
			rev, err = kv.Update(key, val, e.Revision())
		}
		if errors.Is(err, nats.ErrKeyExists) {
			continue // claimed by another node between the read and the write
		}
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.lost[id] > rev {
			return 0, ErrClaimLost // a later claim elsewhere, seen before this one returned
		}
		if o.owned[id] < rev {
			o.owned[id] = rev
		}
		return rev, nil
	}
	return 0, ErrClaimLost
}

// Release forgets this node's claim rev of clientID (0: whatever its
// claim): its session ended here. A newer claim of the same id stays. Any
// goroutine.
func (n *Node) Release(clientID string, rev uint64) {
	o := &n.own
	o.mu.Lock()
	if r, ok := o.owned[clientID]; ok && (r == rev || rev == 0) {
		delete(o.owned, clientID)
	}
	o.mu.Unlock()
}

// SessionStats returns the counters of session ownership. Any goroutine.
func (n *Node) SessionStats() SessionStats {
	o := &n.own
	o.mu.Lock()
	owned := len(o.owned)
	o.mu.Unlock()
	return SessionStats{Bound: n.watching.Load(), Claims: o.claims.Load(), Refused: o.refused.Load(),
		TakenOver: o.takenOver.Load(), Owned: owned}
}

func ownerValue(node string, clean bool) []byte {
	if clean {
		return []byte(node + "/c")
	}
	return []byte(node + "/p")
}

func parseOwner(v []byte) (node string, clean, ok bool) {
	node, f, ok := strings.Cut(string(v), "/")
	return node, f == "c", ok && node != ""
}
