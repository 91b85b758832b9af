package cluster

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
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
	// TakenOver says that another node claimed the session of clientID
	// after this node's claim token; clean is its CONNECT's Clean Start.
	// Called by the watcher goroutine.
	// done, if not nil, is called once the session's connection is closed
	// and the session dropped.
	TakenOver(clientID string, token uint64, clean bool, done func())
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
	// to the bucket's leader, and concurrent claims share its replication
	// rounds (8 workers gave half the CONNECT rate of 32).
	claimWorkers = 32
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
	Records   uint64 // session records written
	Failed    uint64 // session records not written (bucket unreachable)
}

type claimReq struct {
	id    string
	clean bool
	done  func(token uint64, record []byte, err error)
}

// held is this node's claim of a client id: the entry's revision, which
// each write of the session's record moves on, and the claim's token,
// which does not.
type held struct {
	rev, token uint64
	record     bool // the entry holds a session record
	release    bool // forget the claim once the record is cleared
}

// owners is a node's side of session ownership.
type owners struct {
	eng    SessionEngine // nil: takeovers are not reported
	bucket string
	q      chan claimReq

	kv atomic.Pointer[nats.KeyValue] // set once bound and watched

	mu      sync.Mutex
	owned   map[string]held   // client id -> this node's claim
	pending map[string]int    // client id -> claims of it running here
	lost    map[string]uint64 // client id -> highest other node's revision seen while pending
	tokens  uint64            // claims made
	dirty   map[string][]byte // client id -> session record to write (session_records.go)
	wake    chan struct{}     // the record writer has work

	claims, refused, takenOver atomic.Uint64
	releaseUnanswered          atomic.Uint64 // askRelease without an answer
	written, writeFailed       atomic.Uint64 // session records
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
	o.owned = make(map[string]held)
	o.dirty = make(map[string][]byte)
	o.wake = make(chan struct{}, 1)
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
	n.wg.Add(claimWorkers + 2)
	for range claimWorkers {
		go n.claimWorker()
	}
	go n.writeRecords()
	go n.bindAndWatch()
	if _, err := n.nc.Subscribe(n.prefix+"release."+n.cfg.Node, n.answerRelease); err != nil {
		return fmt.Errorf("cluster: subscribing to release requests: %w", err)
	}
	return nil
}

// replicas is the bucket's number of copies: Config.Replicas, or
// min(3, nodes) with nodes the larger of the JetStream peers known now and
// the nodes named by this node's address and its seed routes. (JetStream
// refuses to place more copies than it has peers: the binder retries
// until they have joined.)
func (n *Node) replicas() int {
	if n.cfg.Replicas > 0 {
		return n.cfg.Replicas
	}
	nodes := 1
	if n.srv != nil {
		nodes = max(nodes, len(n.srv.JetStreamClusterPeers()))
		seeds := map[string]bool{routeURL(n.cfg.Listen): true}
		for _, r := range splitList(n.cfg.Routes) {
			seeds[routeURL(r)] = true
		}
		nodes = max(nodes, len(seeds))
	} else {
		nodes = max(nodes, len(n.nc.Servers()))
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
	n.lose(string(id), e.Revision(), clean, nil)
}

// lose takes another node's claim of id at rev: if this node holds an
// older claim, the engine is told of the takeover; done, if not nil, is
// called once the engine has closed and dropped the session (or at once
// when there was nothing to do).
func (n *Node) lose(id string, rev uint64, clean bool, done func()) {
	o := &n.own
	o.mu.Lock()
	mine, ok := o.owned[id]
	take := ok && mine.rev < rev
	if take {
		delete(o.owned, id)
		delete(o.dirty, id)
	}
	if o.pending[id] > 0 && o.lost[id] < rev {
		o.lost[id] = rev
	}
	o.mu.Unlock()
	if take && o.eng != nil {
		o.takenOver.Add(1)
		o.eng.TakenOver(id, mine.token, clean, done)
		return
	}
	if done != nil {
		done()
	}
}

// releaseWait bounds how long a claim waits for the previous owner to
// close the session's connection (releaseAsk); past it, or with no
// owner to answer, the claim stands and the watch closes it later.
const releaseWait = time.Second

// askRelease asks node, which held id before this node's claim at rev,
// to close and drop the session now, and waits up to releaseWait for it:
// so that, when the old owner is reachable, its connection is closed (and
// a will published) before this node's CONNACK. On a claim worker.
func (n *Node) askRelease(node, id string, rev uint64, clean bool) {
	msg := strconv.FormatUint(rev, 10) + " " + flagOf(clean) + " " + ownerKey(id)
	if _, err := n.nc.Request(n.prefix+"release."+node, []byte(msg), releaseWait); err != nil {
		n.own.releaseUnanswered.Add(1) // dead (no responders) or cut off (timeout)
	}
}

// answerRelease is a node's side of askRelease.
func (n *Node) answerRelease(m *nats.Msg) {
	f := strings.SplitN(string(m.Data), " ", 3)
	if len(f) != 3 {
		return
	}
	rev, err := strconv.ParseUint(f[0], 10, 64)
	id, err2 := base64.RawURLEncoding.DecodeString(f[2])
	if err != nil || err2 != nil {
		return
	}
	n.lose(string(id), rev, f[1] == "c", func() { _ = m.Respond(nil) })
}

func flagOf(clean bool) string {
	if clean {
		return "c"
	}
	return "p"
}

// Claim makes this node the owner of clientID's session, off the
// caller's goroutine: done gets, on a claim worker, the claim's token and
// the session record the previous owner left (nil if none, or for a
// clean start), or ErrUnavailable or ErrClaimLost. It reports false,
// without calling done, when Config.ClaimQueue claims wait already. Any
// goroutine.
func (n *Node) Claim(clientID string, clean bool, done func(token uint64, record []byte, err error)) bool {
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
			token, rec, err := n.claim(r.id, r.clean)
			if err != nil {
				n.own.refused.Add(1)
			} else {
				n.own.claims.Add(1)
			}
			r.done(token, rec, err)
		}
	}
}

// claim does the compare-and-set of id's entry: Create when there is
// none, Update at the revision read otherwise; a lost race reads again.
// Unless clean, the entry keeps the session record it had.
func (n *Node) claim(id string, clean bool) (uint64, []byte, error) {
	o := &n.own
	kvp := o.kv.Load()
	if kvp == nil {
		return 0, nil, fmt.Errorf("%w: not bound yet (JetStream waits for its quorum)", ErrUnavailable)
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
	key := ownerKey(id)
	for range claimTries {
		var rev uint64
		var rec []byte
		var prev string
		e, err := kv.Get(key)
		switch {
		case errors.Is(err, nats.ErrKeyNotFound):
			rev, err = kv.Create(key, ownerValue(n.cfg.Node, clean, nil))
		case err != nil:
			return 0, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		default:
			if !clean {
				rec = recordOf(e.Value())
			}
			prev, _, _ = parseOwner(e.Value())
			rev, err = kv.Update(key, ownerValue(n.cfg.Node, clean, rec), e.Revision())
		}
		if errors.Is(err, nats.ErrKeyExists) {
			continue // claimed by another node between the read and the write
		}
		if err != nil {
			return 0, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		o.mu.Lock()
		if o.lost[id] > rev {
			o.mu.Unlock()
			return 0, nil, ErrClaimLost // a later claim elsewhere, seen before this one returned
		}
		o.tokens++
		token := o.tokens
		o.owned[id] = held{rev: rev, token: token, record: len(rec) > 0}
		delete(o.dirty, id) // a record queued for an earlier claim
		o.mu.Unlock()
		if prev != "" && prev != n.cfg.Node {
			n.askRelease(prev, id, rev, clean)
		}
		return token, rec, nil
	}
	return 0, nil, ErrClaimLost
}

// Release forgets this node's claim token of clientID (0: whatever its
// claim): its session ended here. A newer claim of the same id stays. Any
// goroutine.
func (n *Node) Release(clientID string, token uint64) {
	o := &n.own
	o.mu.Lock()
	h, ok := o.owned[clientID]
	if !ok || h.token != token && token != 0 {
		o.mu.Unlock()
		return
	}
	if !h.record {
		delete(o.owned, clientID)
		delete(o.dirty, clientID)
		o.mu.Unlock()
		return
	}
	// The session ended: its record goes first, so that no node resumes
	// it; the writer then forgets the claim.
	h.release = true
	o.owned[clientID] = h
	o.dirty[clientID] = nil
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// SessionStats returns the counters of session ownership. Any goroutine.
func (n *Node) SessionStats() SessionStats {
	o := &n.own
	o.mu.Lock()
	owned := len(o.owned)
	o.mu.Unlock()
	return SessionStats{Bound: n.watching.Load(), Claims: o.claims.Load(), Refused: o.refused.Load(),
		TakenOver: o.takenOver.Load(), Owned: owned, Records: o.written.Load(), Failed: o.writeFailed.Load()}
}

func ownerKey(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// ownerValue is an entry: "<node>/<c|p>", then a newline and the session
// record if there is one.
func ownerValue(node string, clean bool, record []byte) []byte {
	f := "/p"
	if clean {
		f = "/c"
	}
	v := append(make([]byte, 0, len(node)+3+len(record)), node...)
	v = append(v, f...)
	if len(record) > 0 {
		v = append(v, '\n')
		v = append(v, record...)
	}
	return v
}

func parseOwner(v []byte) (node string, clean, ok bool) {
	head, _, _ := strings.Cut(string(v), "\n")
	node, f, ok := strings.Cut(head, "/")
	return node, strings.HasPrefix(f, "c"), ok && node != ""
}

// recordOf is the session record of an entry, nil if none.
func recordOf(v []byte) []byte {
	for i, b := range v {
		if b == '\n' {
			return append([]byte(nil), v[i+1:]...)
		}
	}
	return nil
}
