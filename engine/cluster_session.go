package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/cluster"
	"github.com/gust-mqtt/gust/engine/persist"
	"github.com/gust-mqtt/gust/trie"
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
	id     string // the client id claimed
	done   bool   // the verdict is in
	token  uint64 // the claim's token, once won
	record []byte // the session record the previous owner left, nil if none
	err    error  // why it was not won
}

// clusterClaim makes sure this node owns client id's session before the
// CONNECT goes on: true when it does, with the id (an id the broker
// assigns gets the node's name, to be unique cluster-wide, and is kept
// for the CONNECT read again); false with c parked (nil) or refused
// (errCloseQuiet) otherwise. Loop-only.
func (c *client) clusterClaim(n *cluster.Node, id string, p *codec.Connect) (string, bool, error) {
	x := c.x()
	if len(p.ClientID) == 0 {
		if x.claim != nil {
			id = x.claim.id // assigned at the first reading
		} else {
			id += "-" + n.Name()
		}
	}
	if cl := x.claim; cl != nil && cl.id == id && cl.done {
		if cl.err == nil {
			return id, true, nil
		}
		c.refuseClaim(cl.err)
		return id, false, errCloseQuiet
	}
	cl := &claimState{id: id}
	x.claim = cl
	l := c.l
	b := l.b
	ok := n.Claim(id, p.CleanStart, func(token uint64, rec []byte, err error) { // on a claim worker
		if xerr := l.nl.Execute(func() { c.claimDone(n, cl, token, rec, err) }); xerr != nil {
			if err == nil {
				n.Release(id, token) // the loops have stopped: nobody holds it
			}
		}
	})
	if !ok {
		cl.done, cl.err = true, errClaimQueueFull
		b.clusterClaimsRefused.Add(1)
		c.refuseClaim(cl.err)
		return id, false, errCloseQuiet
	}
	c.state = stateAuthCheck
	return id, false, nil
}

var errClaimQueueFull = errors.New("cluster: claim queue full (cluster_claim_queue)")

// claimDone takes the verdict of c's claim on c's loop: unless c closed
// or timed out meanwhile, it reads c's CONNECT again, which finds the
// verdict. Loop-only.
func (c *client) claimDone(n *cluster.Node, cl *claimState, token uint64, rec []byte, err error) {
	if c.state != stateAuthCheck || c.ext == nil || c.ext.claim != cl {
		if err == nil {
			n.Release(cl.id, token) // closed meanwhile: this node holds no session for it
		}
		return
	}
	cl.done, cl.token, cl.record, cl.err = true, token, rec, err
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

// claimToken is the token of c's claim, 0 if none.
func (c *client) claimToken() uint64 {
	if c.ext != nil && c.ext.claim != nil && c.ext.claim.done {
		return c.ext.claim.token
	}
	return 0
}

// TakenOver closes and drops the session of id here: another node
// claimed it after this node's claim token; done (if not nil) follows.
// Called by the node's watcher goroutine, or its release responder.
func (e clusterEngine) TakenOver(id string, token uint64, clean bool, done func()) {
	if done == nil {
		done = func() {}
	}
	b := e.b
	loops := b.loopSnapshot()
	if len(loops) == 0 || b.closing.Load() {
		done()
		return
	}
	b.sessions.mu.Lock()
	s := b.sessions.get(id)
	b.sessions.mu.Unlock()
	if s == nil {
		done()
		return
	}
	l := s.owner.Load()
	if l == nil {
		l = loops[0] // offline: any loop drops it
	}
	if l.nl.Execute(func() { l.remoteTakeover(s, token, clean, done) }) != nil {
		done()
	}
}

// remoteTakeover closes s's connection if it is on l, and drops s: another
// node claimed it after this node's claim token. A session that moved to
// another loop meanwhile is followed there. Loop-only (l).
func (l *loop) remoteTakeover(s *session, token uint64, clean bool, done func()) {
	b := l.b
	defer func() { done() }()
	if o := s.owner.Load(); o != nil && o != l {
		if o.nl.Execute(func() { o.remoteTakeover(s, token, clean, done) }) == nil {
			done = func() {} // the owner loop calls it
		}
		return
	}
	if c := s.c; c != nil && s.owner.Load() == l {
		if t := c.claimToken(); t > token {
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

// The session record another node needs to resume a persistent session:
// version (1), Session Expiry Interval (4, big endian), then each
// subscription: its filter as subscribed ($share/group/ included; a
// uvarint length and its bytes), granted QoS, options (bit 0 No Local,
// bit 1 Retain As Published, bits 2-3 Retain Handling) and Subscription
// Identifier (uvarint). It carries the shape of persist.Session and
// persist.Subscription, so that the single-node store's records could
// travel the same way.
const sessionRecordVersion = 1

var errBadSessionRecord = errors.New("cluster: malformed session record")

// encodeSessionRecord appends s's record to dst. s is owned by the
// caller's loop.
func encodeSessionRecord(dst []byte, s *session) []byte {
	dst = append(dst, sessionRecordVersion)
	dst = binary.BigEndian.AppendUint32(dst, s.expiry)
	if st := s.sub.Load(); st != nil {
		for _, e := range st.subs.list {
			dst = binary.AppendUvarint(dst, uint64(len(e.full)))
			dst = append(dst, e.full...)
			var opts byte
			if e.sub.NoLocal {
				opts |= 1
			}
			if e.sub.RetainAsPublished {
				opts |= 2
			}
			opts |= e.sub.RetainHandling << 2
			dst = append(dst, e.sub.QoS, opts)
			dst = binary.AppendUvarint(dst, uint64(e.sub.Identifier))
		}
	}
	return dst
}

// decodeSessionRecord calls fn with each subscription of rec.
func decodeSessionRecord(rec []byte, fn func(sub *persist.Subscription)) error {
	if len(rec) < 5 || rec[0] != sessionRecordVersion {
		return errBadSessionRecord
	}
	i := 5
	for i < len(rec) {
		n, k := binary.Uvarint(rec[i:])
		if k <= 0 || n > uint64(len(rec)-i-k) {
			return errBadSessionRecord
		}
		f := rec[i+k : i+k+int(n)]
		i += k + int(n)
		if len(rec)-i < 2 {
			return errBadSessionRecord
		}
		qos, opts := rec[i], rec[i+1]
		i += 2
		id, k := binary.Uvarint(rec[i:])
		if k <= 0 || id > 268435455 || qos > 2 || opts>>2 > 2 {
			return errBadSessionRecord
		}
		i += k
		fn(&persist.Subscription{Filter: f, QoS: qos, NoLocal: opts&1 != 0, RetainAsPublished: opts&2 != 0,
			RetainHandling: opts >> 2, ID: uint32(id)})
	}
	return nil
}

// clusterSession runs once c's CONNECT has opened its session s on a
// clustered node: a session new here, not a clean start, whose claim
// brought the previous owner's record, gets that record's subscriptions
// back and counts as present; a persistent session's record is then
// queued for the bucket. It returns the CONNACK's Session Present.
// Loop-only.
func (c *client) clusterSession(n *cluster.Node, s *session, p *codec.Connect, present bool) bool {
	cl := c.ext.claim
	if cl != nil && len(cl.record) > 0 {
		if !present && !p.CleanStart {
			if err := c.restoreSubscriptions(s, cl.record); err != nil {
				c.l.b.log.Warn("cluster: session record from the previous owner not applied", "client", s.clientID, "err", err)
			} else {
				present = true // [MQTT-3.2.2-2]
			}
		}
		cl.record = nil
	}
	if s.expiry != 0 {
		n.SaveSession(s.clientID, encodeSessionRecord(nil, s))
	}
	return present
}

// shareSession queues the record of c's persistent session after a
// SUBSCRIBE or UNSUBSCRIBE changed it. Loop-only.
func (c *client) shareSession(n *cluster.Node) {
	if s := c.sess; s != nil && s.expiry != 0 {
		n.SaveSession(s.clientID, encodeSessionRecord(nil, s))
	}
}

// restoreSubscriptions subscribes s, attached to c on this loop, to the
// subscriptions of rec, under the limits and checks of a SUBSCRIBE but
// the ACL's (the recheck of a resumed session, recheckResumed, applies).
// No retained message is sent, as for a resumed session. Loop-only.
func (c *client) restoreSubscriptions(s *session, rec []byte) error {
	b := c.l.b
	var bad error
	err := decodeSessionRecord(rec, func(rs *persist.Subscription) {
		full := string(rs.Filter)
		group, filter, shared, err := trie.ParseShared(full)
		if err == nil {
			err = trie.ValidTopicFilter([]byte(filter))
		}
		if err == nil && shared && !b.cfg.SharedSubAvailable {
			err = errors.New("shared subscriptions are off")
		}
		if err != nil {
			bad = fmt.Errorf("filter %q: %w", rs.Filter, err)
			return
		}
		st := s.subscriber()
		if len(st.subs.list) >= b.cfg.MaxSubscriptionsPerClient && st.subs.find(rs.Filter) < 0 {
			b.limits.subsRefused.Add(1)
			b.logLimit(&b.limits.logSubs, 1, "subscription limit: a subscription of a session resumed from another node dropped",
				"max_subscriptions_per_client", b.cfg.MaxSubscriptionsPerClient, s.clientID)
			return
		}
		if st.id == 0 {
			id, ok := b.table.add(s)
			if !ok {
				bad = errors.New("every subscriber id is in use")
				return
			}
			st.id = id
		}
		sub := trie.Subscription{Subscriber: st.id, Filter: filter, Group: group, QoS: min(rs.QoS, byte(b.cfg.MaximumQoS)),
			NoLocal: rs.NoLocal, RetainAsPublished: rs.RetainAsPublished, RetainHandling: rs.RetainHandling, Identifier: rs.ID}
		if _, err := b.subscribeTrie(sub); err != nil {
			bad = fmt.Errorf("filter %q: %w", rs.Filter, err)
			return
		}
		if !st.subs.put(subEntry{full: full, sub: sub}) {
			b.subCount.Add(1)
		}
	})
	if err != nil {
		return err
	}
	return bad
}

// publishSessionSys publishes the counters of session ownership under
// $SYS/broker/cluster/sessions/. Loop-only.
func (l *loop) publishSessionSys(n *cluster.Node) {
	ss := n.SessionStats()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	for _, t := range [...]struct{ t, v string }{
		{"$SYS/broker/cluster/sessions/owned", strconv.Itoa(ss.Owned)},
		{"$SYS/broker/cluster/sessions/claims", u(ss.Claims)},
		{"$SYS/broker/cluster/sessions/claims refused", u(l.b.clusterClaimsRefused.Load())},
		{"$SYS/broker/cluster/sessions/taken over", u(l.b.clusterTakenOver.Load())},
		{"$SYS/broker/cluster/sessions/records written", u(ss.Records)},
		{"$SYS/broker/cluster/sessions/records failed", u(ss.Failed)},
	} {
		l.publishSysTopic(t.t, t.v)
	}
}
