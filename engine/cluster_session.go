package engine

import (
	"errors"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/cluster"
)

// The engine's side of session ownership across nodes (engine/cluster,
// session.go there).
//
// With a cluster, a CONNECT claims its client id's entry in the ownership
// bucket before it opens its session: handleConnect hands the claim to the
// node's claim workers and parks the client as for a password check
// (stateAuthCheck: its CONNECT and what follows stay in the input buffer,
// bounded by checkMaxBuffered, the connect timeout runs). The verdict
// comes back to the client's loop with Execute; claimDone reads the
// CONNECT again, which finds the claim won and goes on as on a single
// node, or refuses it with Server unavailable (v5 0x88, v3 return code
// 3) when the bucket could not be reached or another node claimed the
// session meanwhile. The claim stays with the connection
// (clientExt.claim), so that a local takeover that reads the CONNECT
// again does not claim twice.
//
// A node told that another one claimed a session it holds (TakenOver)
// closes the session's connection as a local takeover does (v5 DISCONNECT
// 0x8E; a will without delay is published, a delayed one waits), then
// drops the session here: when the new CONNECT asked for a clean start
// the session ends, so a delayed will goes out now; otherwise the session
// goes on elsewhere, within the Will Delay Interval, and its delayed will
// is dropped [MQTT-3.1.3-9].

// claimState is a connection's claim of its session's ownership.
type claimState struct {
	id   string // the client id claimed
	done bool   // the verdict is in
	rev  uint64 // the claim's revision, once won
	err  error  // why it was not won
}

// clusterClaim makes sure this node owns client id's session before the
// CONNECT goes on: true when it does; false with c parked (nil) or
// refused (errCloseQuiet) otherwise. Loop-only.
func (c *client) clusterClaim(n *cluster.Node, id string, p *codec.Connect) (bool, error) {
	x := c.x()
	if cl := x.claim; cl != nil && cl.id == id && cl.done {
		if cl.err == nil {
			return true, nil
		}
		c.refuseClaim(cl.err)
		return false, errCloseQuiet
	}
	cl := &claimState{id: id}
	x.claim = cl
	l := c.l
	b := l.b
	ok := n.Claim(id, p.CleanStart, func(rev uint64, err error) { // on a claim worker
		if xerr := l.nl.Execute(func() { c.claimDone(n, cl, rev, err) }); xerr != nil {
			if err == nil {
				n.Release(id, rev) // the loops have stopped: nobody holds it
			}
		}
	})
	if !ok {
		cl.done, cl.err = true, errClaimQueueFull
		b.clusterClaimsRefused.Add(1)
		c.refuseClaim(cl.err)
		return false, errCloseQuiet
	}
	c.state = stateAuthCheck
	return false, nil
}

var errClaimQueueFull = errors.New("cluster: claim queue full (cluster_claim_queue)")

// claimDone takes the verdict of c's claim on c's loop: unless c closed
// or timed out meanwhile, it reads c's CONNECT again, which finds the
// verdict. Loop-only.
func (c *client) claimDone(n *cluster.Node, cl *claimState, rev uint64, err error) {
	if c.state != stateAuthCheck || c.ext == nil || c.ext.claim != cl {
		if err == nil {
			n.Release(cl.id, rev) // closed meanwhile: this node holds no session for it
		}
		return
	}
	cl.done, cl.rev, cl.err = true, rev, err
	if err != nil {
		c.l.b.clusterClaimsRefused.Add(1)
	}
	c.state = stateTakeover // resumeConnect reads the CONNECT again
	c.resumeConnect()
}

// refuseClaim answers a CONNECT whose claim failed with Server
// unavailable and logs why, rate limited. Loop-only.
func (c *client) refuseClaim(err error) {
	b := c.l.b
	c.will = nil // no session, no will
	if ok, hits := b.clusterClaimLog.allow(b.now(), 1); ok {
		b.log.Warn("cluster: CONNECT refused, the session's ownership could not be claimed",
			"client", string(c.l.scratch.conn.ClientID), "err", err, "hits", hits)
	}
	c.refuseCode(codec.ConnackServerUnavailable, codec.ReasonServerUnavailable)
}

// releaseClaim tells the cluster that this node no longer holds client
// id's session (ended here); rev is the claim of the connection that
// held it last, 0 for any. Safe from any goroutine.
func (b *Broker) releaseClaim(id string, rev uint64) {
	if n := b.cluster.Load(); n != nil {
		n.Release(id, rev)
	}
}

// claimRev is the revision of c's claim, 0 if none.
func (c *client) claimRev() uint64 {
	if c.ext != nil && c.ext.claim != nil && c.ext.claim.done {
		return c.ext.claim.rev
	}
	return 0
}

// TakenOver closes and drops the session of id here: another node
// claimed it at rev. Called by the node's watcher goroutine.
func (e clusterEngine) TakenOver(id string, rev uint64, clean bool) {
	b := e.b
	loops := b.loopSnapshot()
	if len(loops) == 0 || b.closing.Load() {
		return
	}
	b.sessions.mu.Lock()
	s := b.sessions.get(id)
	b.sessions.mu.Unlock()
	if s == nil {
		return
	}
	l := s.owner.Load()
	if l == nil {
		l = loops[0] // offline: any loop drops it
	}
	_ = l.nl.Execute(func() { l.remoteTakeover(s, rev, clean) })
}

// remoteTakeover closes s's connection if it is on l, and drops s: another
// node claimed it at rev. A session that moved to another loop meanwhile
// is followed there. Loop-only (l).
func (l *loop) remoteTakeover(s *session, rev uint64, clean bool) {
	b := l.b
	if o := s.owner.Load(); o != nil && o != l {
		_ = o.nl.Execute(func() { o.remoteTakeover(s, rev, clean) })
		return
	}
	if c := s.c; c != nil && s.owner.Load() == l {
		if r := c.claimRev(); r > rev {
			return // connected again here since, by a later claim
		}
		b.clusterTakenOver.Add(1)
		c.closeNow(closeTakeover) // [MQTT-3.1.4-2] DISCONNECT 0x8E; a will without delay goes out
	}
	b.sessions.mu.Lock()
	if b.sessions.get(s.clientID) == s {
		s.mu.Lock()
		if s.owner.Load() == nil && !s.gone() {
			if !clean {
				b.cancelWill(s) // the session goes on on the other node [MQTT-3.1.3-9]
			}
			l.shared.orphans = takeOrphans(s, l.shared.orphans)
			b.dropSessionLocked(s, l.durBatch()) // a delayed will left is due: the session ended
		}
		s.mu.Unlock()
	}
	b.sessions.mu.Unlock()
	l.adoptOrphans()
	l.finish()
}
