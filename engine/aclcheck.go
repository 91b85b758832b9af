package engine

import (
	"bytes"
	"encoding/binary"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
)

// The broker's side of the ACL (acl.go) and of the Authoriser: the checks
// of PUBLISH, SUBSCRIBE and wills, each one call from its handler, and the
// per-loop cache that keeps the PUBLISH check off the publish path's cost.

// aclCacheBytes bounds each loop's cache of PUBLISH decisions: its keys
// (8 bytes of connection number and the topic) plus aclEntryBytes each.
// Past it the cache is emptied. A decision is a map lookup once cached, so
// a publisher sending to a few topics pays the rules once per topic
// (BenchmarkACLPublish).
const aclCacheBytes = 1 << 20

// aclEntryBytes is what one cache entry costs beyond its key: map slot,
// string header and bookkeeping.
const aclEntryBytes = 48

// aclCache maps a connection and topic to its PUBLISH decision under the
// rules acl. A reload installs new rules, which empties it at the next
// check. Loop-only.
type aclCache struct {
	acl   *ACL
	m     map[string]bool
	bytes int
	key   []byte // scratch for the lookup key
}

// canWrite returns whether c may publish to topic under a: from c's last
// decision when the topic is the same, else from the cache, else from the
// rules. A hit allocates nothing. Loop-only.
func (ac *aclCache) canWrite(c *client, a *ACL, topic []byte) bool {
	if ac.acl != a {
		clear(ac.m)
		ac.bytes, ac.acl = 0, a
	}
	x := c.x()
	ca := x.acl
	if ca == nil {
		// Numbered once, never reused: a new connection never sees
		// another's entries.
		ca = &clientACL{id: c.l.b.aclSeq.Add(1)}
		x.acl = ca
	}
	if ca.acl == a && bytes.Equal(ca.last, topic) {
		return ca.ok // the common case: a publisher repeats its topic
	}
	ok := ac.decide(ca.id, topic, func() bool {
		who := c.aclSubject()
		return a.canWrite(&who, string(topic))
	})
	ca.last = append(ca.last[:0], topic...)
	ca.ok, ca.acl = ok, a
	return ok
}

// clientACL is a connection's side of the ACL's PUBLISH decisions: its
// number in the loops' caches and its last decision. Loop-only.
type clientACL struct {
	id   uint64
	last []byte // topic of the last decision
	ok   bool   // the decision
	acl  *ACL   // the rules it was made under
}

// decide returns the cached decision for the subject numbered id and
// topic, else rules() cached. A hit allocates nothing. Loop-only.
func (ac *aclCache) decide(id uint64, topic []byte, rules func() bool) bool {
	k := binary.LittleEndian.AppendUint64(ac.key[:0], id)
	k = append(k, topic...)
	ac.key = k
	if ok, hit := ac.m[string(k)]; hit {
		return ok
	}
	ok := rules()
	n := len(k) + aclEntryBytes
	if ac.bytes+n > aclCacheBytes {
		clear(ac.m)
		ac.bytes = 0
	}
	if ac.m == nil {
		ac.m = make(map[string]bool)
	}
	ac.m[string(k)] = ok
	ac.bytes += n
	return ok
}

// aclSubject is c's identity for the ACL: the user the MQTT 5 exchange
// authenticated or the CONNECT's user name (anonymous without one), and
// its client id. Loop-only.
func (c *client) aclSubject() aclSubject {
	who := aclSubject{id: c.clientID()}
	if a := c.auth(); a != nil && a.user != "" {
		who.user = a.user
	} else if c.ext != nil {
		who.user = c.ext.username
	}
	who.anon = who.user == ""
	return who
}

// mayPublish reports whether c may publish p: the ACL (cached per loop)
// and then the Authoriser. A refused PUBLISH is acknowledged but not
// delivered [MQTT-3.3.5-2]. Loop-only.
func (c *client) mayPublish(p *codec.Publish) bool {
	b := c.l.b
	if a := b.acl.Load(); a != nil && !c.l.acl.canWrite(c, a, p.Topic) {
		c.aclDenied("publish", p.Topic)
		return false
	}
	if az := b.cfg.Authoriser; az != nil {
		return az.CanPublish(c.clientInfo(), p.Topic, p.QoS, p.Retain) // [MQTT-3.3.5-2]
	}
	return true
}

// maySubscribe decides whether c may subscribe to f, whose filter
// without a $share prefix is filter: the ACL and then the Authoriser.
// subChecked asks for a read check of each delivery (aclReader).
// Loop-only.
func (c *client) maySubscribe(filter string, f *codec.Subscription) subGrant {
	b := c.l.b
	g := subGranted
	if a := b.acl.Load(); a != nil {
		who := c.aclSubject()
		if g = a.canSubscribe(&who, filter); g == subRefused {
			c.aclDenied("subscribe", f.Filter)
			return subRefused
		}
	}
	if az := b.cfg.Authoriser; az != nil && !az.CanSubscribe(c.clientInfo(), f.Filter, f.QoS) {
		return subRefused
	}
	return g
}

// aclReader is the subject whose read access the deliveries to a session
// are checked against, set while the session holds a subscription the
// ACL granted with a check per delivery (subChecked). Immutable.
type aclReader struct {
	who aclSubject
	id  uint64 // its number in the loops' caches, never reused
}

// checkReads makes the deliveries to c's session subject to c's read
// access. Loop-only.
func (c *client) checkReads(st *subState) {
	who := c.aclSubject()
	if r := st.reader.Load(); r != nil && r.who == who {
		return
	}
	st.reader.Store(&aclReader{who: who, id: c.l.b.aclSeq.Add(1)})
}

// mayDeliver reports whether s may receive a message published to topic
// under the rules a (nil: no ACL): always, unless s holds a subscription
// granted with a read check; then by the reader's read access, cached
// per loop. Loop-only.
func (l *loop) mayDeliver(a *ACL, s *session, topic []byte) bool {
	if a == nil {
		return true
	}
	st := s.sub.Load()
	if st == nil {
		return true
	}
	r := st.reader.Load()
	if r == nil {
		return true
	}
	if l.acl.canRead(r, a, topic) {
		return true
	}
	l.tot.aclReadDenied++
	return false
}

// canRead is mayDeliver's cached decision for reader r. Loop-only.
func (ac *aclCache) canRead(r *aclReader, a *ACL, topic []byte) bool {
	if ac.acl != a {
		clear(ac.m)
		ac.bytes, ac.acl = 0, a
	}
	return ac.decide(r.id, topic, func() bool { return a.canRead(&r.who, string(topic)) })
}

// mayPublishWill reports whether c's will w may be published: the client
// may write to its topic (ACL, then Authoriser). Loop-only.
func (c *client) mayPublishWill(w *message) bool {
	b := c.l.b
	if a := b.acl.Load(); a != nil {
		if who := c.aclSubject(); !a.canWrite(&who, string(w.topic)) {
			c.aclDenied("will", w.topic)
			return false
		}
	}
	if az := b.cfg.Authoriser; az != nil {
		return az.CanPublish(c.clientInfo(), w.topic, w.qos, w.retain)
	}
	return true
}

// aclDenyCode is the v5 reason code of an ACL refusal
// (Config.ACLDenyReason).
func (b *Broker) aclDenyCode() codec.ReasonCode {
	if b.cfg.ACLDenyReason == ACLDenyUnspecified {
		return codec.ReasonUnspecifiedError
	}
	return codec.ReasonNotAuthorized
}

// aclDenied logs a refusal at debug level. Loop-only.
func (c *client) aclDenied(what string, topic []byte) {
	if b := c.l.b; b.debug() {
		b.log.Debug("acl: "+what+" denied", "client", c.clientID(), "user", c.aclSubject().user, "topic", string(topic))
	}
}

// loadAuthFiles loads ACLFile and reports on PasswordFile, whose users
// New has loaded. Called by New.
func (b *Broker) loadAuthFiles() error {
	if u, ok := b.cfg.Authenticator.(*auth.Users); ok && b.cfg.PasswordFile != "" && u.Len() == 0 {
		b.log.Warn("password file has no users: every login with a user name is refused", "file", b.cfg.PasswordFile)
	}
	if b.cfg.ACLFile == "" {
		return nil
	}
	a, err := LoadACL(b.cfg.ACLFile)
	if err != nil {
		return err
	}
	b.setACL(a)
	return nil
}

// setACL installs a and logs what it holds.
func (b *Broker) setACL(a *ACL) {
	b.acl.Store(a)
	if a.Rules() == 0 {
		b.log.Warn("acl file has no rules: every publish and subscribe is denied", "file", b.cfg.ACLFile)
		return
	}
	b.log.Info("acl file loaded", "file", b.cfg.ACLFile, "rules", a.Rules())
}

// ReloadACLFile reads Config.ACLFile again and, if it parses, makes it the
// rules of every later PUBLISH, SUBSCRIBE and will, and drops the
// subscriptions of connected clients that it no longer grants (each loop
// does it for its clients soon after the call returns; an offline
// session's are checked when it is resumed). On error, which names the
// file and line and wraps ErrACLFile, the previous rules stay in force.
// Both outcomes are logged. Without an ACL file it does nothing. Safe
// from any goroutine.
func (b *Broker) ReloadACLFile() error {
	if b.cfg.ACLFile == "" {
		return nil
	}
	a, err := LoadACL(b.cfg.ACLFile)
	if err != nil {
		b.log.Error("acl file not reloaded, keeping the previous rules", "file", b.cfg.ACLFile, "err", err)
		return err
	}
	b.setACL(a)
	for _, l := range b.loopSnapshot() {
		l.run("acl reload", func() {
			n := 0
			for _, c := range l.clients {
				if c.state == stateConnected && c.sess != nil {
					n += c.revokeSubscriptions(a)
				}
			}
			if n > 0 {
				b.log.Info("acl reload: subscriptions no longer granted dropped", "loop", l.idx, "subscriptions", n)
			}
			l.finish()
		})
	}
	return nil
}

// recheckResumed drops the subscriptions of c's resumed session that the
// ACL does not grant c: they were made under older rules, or by another
// user with the same client id; and, when a subscription left needs a
// read check, the queued messages c may not read (queued while no client
// was there to check them for, such as after a restart). Loop-only; c is
// connected.
func (c *client) recheckResumed() {
	b := c.l.b
	a := b.acl.Load()
	if a == nil {
		return
	}
	if n := c.revokeSubscriptions(a); n > 0 {
		b.log.Info("acl: subscriptions of a resumed session not granted to its client dropped",
			"client", c.clientID(), "user", c.aclSubject().user, "subscriptions", n)
	}
	s := c.sess
	st := s.sub.Load()
	if st == nil || st.reader.Load() == nil || s.sessionExt == nil || len(s.queue) == 0 {
		return
	}
	l := c.l
	keep := s.queue[:0]
	for i := range s.queue {
		om := s.queue[i]
		if l.mayDeliver(a, s, om.m.topic) {
			keep = append(keep, om)
			continue
		}
		n := heldSize(om.m)
		s.held -= n
		l.heldDelta -= n
		l.dropDelivery(s, &om)
	}
	clear(s.queue[len(keep):])
	s.queue = keep
}

// revokeSubscriptions drops, as an UNSUBSCRIBE would, the subscriptions
// of c's session that a does not grant c, and returns how many. Loop-only;
// c is connected.
func (c *client) revokeSubscriptions(a *ACL) int {
	s := c.sess
	st := s.sub.Load()
	if st == nil {
		return 0
	}
	l, b := c.l, c.l.b
	who := c.aclSubject()
	n, checked := 0, false
	for i := len(st.subs.list) - 1; i >= 0; i-- { // remove moves the last entry to i: already seen
		e := &st.subs.list[i]
		switch a.canSubscribe(&who, e.sub.Filter) {
		case subGranted:
			continue
		case subChecked:
			checked = true
			continue
		}
		b.unsubscribeTrie(st.id, e.sub.Filter, e.sub.Group)
		if s.durable() && l.dur != nil {
			l.dur.batch().DeleteSubscription(s.clientID, []byte(e.full))
		}
		st.subs.remove(i)
		b.subCount.Add(-1)
		n++
	}
	if checked {
		c.checkReads(st)
	} else {
		st.reader.Store(nil)
	}
	return n
}
