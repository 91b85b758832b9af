package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/trie"
)

// The operations view of the broker (engine/ops serves it over HTTP):
// per-loop counters, the client list, one client's session, kicking a
// client, subscribers of a topic and the retained messages. Engine state
// is read where it is owned: a loop's clients and their online sessions
// through that loop's Execute, an offline session under its mu, the trie
// and the retained index without locks. A walk over a loop's clients runs
// in slices of scanSlice clients, one Execute each, so that listing 100k
// clients never holds a loop for more than one slice.

// scanSlice is the most clients one Execute of a walk visits.
const scanSlice = 2048

// ErrNoLoops is returned by the operations view before Start or after
// Shutdown.
var ErrNoLoops = errors.New("engine: the broker is not running")

// LoopStats is one event loop's counters, read on the loop (LoopStats).
// Index arrays by packet type are indexed by codec.Type, by QoS by 0..2.
type LoopStats struct {
	Loop      int
	Clients   int // connections on the loop, in any state
	Connected int // connections past CONNACK
	// Queued and Inflight count the QoS 1/2 messages of the loop's online
	// sessions, waiting and unacknowledged; Throttled the clients the
	// publisher throttle holds now.
	Queued, Inflight, Throttled int
	// Busy is the time spent in the loop's callbacks (reading and routing
	// messages, draining hand-overs) since start.
	Busy time.Duration
	// Handovers and HandoverItems count the batches this loop handed to
	// other loops and the items in them; InboxBytes is the QoS 0 bytes
	// handed to this loop and not yet drained.
	Handovers, HandoverItems    uint64
	InboxBytes                  int64
	PacketsIn, BytesIn          [16]uint64 // received, by packet type
	PublishIn, PublishBytesIn   [3]uint64  // PUBLISH received, by QoS
	PublishOut, PublishBytesOut [3]uint64  // PUBLISH sent, by QoS
	// Refused counts the CONNECTs refused, by v5 reason code (a 3.1.1
	// return code counts as its v5 equivalent).
	Refused map[codec.ReasonCode]uint64
	// ThrottleHolds counts the times a publisher was held; Kicked the
	// clients closed by Kick; ACLReadDenied the deliveries withheld by
	// the ACL's read check.
	ThrottleHolds, Kicked, ACLReadDenied uint64
}

// LoopStats returns the counters of every loop, read on each loop. It
// waits for every loop or ctx. Safe from any goroutine.
func (b *Broker) LoopStats(ctx context.Context) ([]LoopStats, error) {
	loops := b.loopSnapshot()
	if len(loops) == 0 || b.closing.Load() {
		return nil, ErrNoLoops
	}
	out := make([]LoopStats, len(loops))
	for i, l := range loops {
		st := &out[i]
		err := b.onLoop(ctx, l, func() {
			t := &l.tot
			*st = LoopStats{
				Loop: l.idx, Clients: len(l.clients),
				Busy: time.Duration(t.busy), Handovers: t.handovers, HandoverItems: t.handoverItems,
				InboxBytes: l.in.bytes.Load(), PacketsIn: t.pktIn, BytesIn: t.pktBytesIn,
				ThrottleHolds: t.throttled, Kicked: t.kicked, ACLReadDenied: t.aclReadDenied,
			}
			copy(st.PublishIn[:], t.pubIn[:])
			copy(st.PublishBytesIn[:], t.pubBytesIn[:])
			copy(st.PublishOut[:], t.pubOut[:])
			copy(st.PublishBytesOut[:], t.pubBytesOut[:])
			for rc, n := range t.refused {
				if n > 0 {
					if st.Refused == nil {
						st.Refused = make(map[codec.ReasonCode]uint64)
					}
					st.Refused[codec.ReasonCode(rc)] = n
				}
			}
		})
		if err != nil {
			return nil, err
		}
		err = b.walkClients(ctx, l, func(c *client) {
			if c.state != stateConnected {
				return
			}
			st.Connected++
			if c.thr.held() {
				st.Throttled++
			}
			if s := c.sess; s != nil {
				st.Queued += s.queued()
				st.Inflight += len(s.inflightMsgs())
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// onLoop runs fn on l and waits for it or for ctx. fn must not block.
// Safe from any goroutine but a loop's.
func (b *Broker) onLoop(ctx context.Context, l *loop, fn func()) error {
	done := make(chan struct{})
	if err := l.nl.Execute(func() { fn(); close(done) }); err != nil {
		return ErrNoLoops
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// walkClients calls fn on l for every client of l, scanSlice clients per
// Execute, from the last to the first: a client that stays connected
// during the walk is visited at least once (a close moves the last client
// into the freed place, which the walk has passed already: it may be
// visited twice). Safe from any goroutine but a loop's.
func (b *Broker) walkClients(ctx context.Context, l *loop, fn func(c *client)) error {
	next := -1 // -1: start at the end
	for next != 0 {
		err := b.onLoop(ctx, l, func() {
			i := next
			if i < 0 || i > len(l.clients) {
				i = len(l.clients)
			}
			for n := 0; i > 0 && n < scanSlice; n++ {
				i = min(i, len(l.clients)) - 1 // fn may close clients
				if i < 0 {
					break
				}
				fn(l.clients[i])
			}
			i = max(i, 0)
			next = i
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ClientQuery selects a page of clients (Clients).
type ClientQuery struct {
	IDPrefix string // client ids starting with it
	User     string // this user name exactly (Config.KeepUsernames)
	Address  string // remote addresses containing it
	After    string // ids greater than it: the Next of the previous page
	Limit    int    // page size, 1..MaxClientPage (0: 100)
}

// MaxClientPage is the largest page Clients returns.
const MaxClientPage = 1000

// ClientSummary is one connected client in a list.
type ClientSummary struct {
	ID        string `json:"id"`
	Username  string `json:"username,omitempty"`
	Remote    string `json:"remote"`
	Version   int    `json:"protocol_version"`
	Loop      int    `json:"loop"`
	KeepAlive int    `json:"keep_alive_s"`
	Subs      int    `json:"subscriptions"`
	Queued    int    `json:"queued"`
	Inflight  int    `json:"inflight"`
}

// ClientPage is one page of Clients, ordered by client id. Next is the
// After of the following page, "" on the last one; Matched counts every
// client the query's filters select.
type ClientPage struct {
	Clients []ClientSummary `json:"clients"`
	Next    string          `json:"next,omitempty"`
	Matched int             `json:"matched"`
}

// Clients returns a page of the connected clients selected by q, in client
// id order. It walks every loop in slices (walkClients), so a client that
// connects or leaves during the walk may or may not be listed. Safe from
// any goroutine.
func (b *Broker) Clients(ctx context.Context, q ClientQuery) (ClientPage, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	q.Limit = min(q.Limit, MaxClientPage)
	loops := b.loopSnapshot()
	if len(loops) == 0 || b.closing.Load() {
		return ClientPage{}, ErrNoLoops
	}
	var page ClientPage
	// best holds the q.Limit+1 smallest ids past q.After, sorted; one more
	// than a page tells whether another page follows.
	best := make([]ClientSummary, 0, q.Limit+1)
	seen := make(map[string]struct{})
	for _, l := range loops {
		err := b.walkClients(ctx, l, func(c *client) {
			if c.state != stateConnected || c.sess == nil {
				return
			}
			id := c.sess.clientID
			if !strings.HasPrefix(id, q.IDPrefix) || (q.User != "" && c.username() != q.User) {
				return
			}
			var remote string
			if q.Address != "" {
				if remote = addrString(c); !strings.Contains(remote, q.Address) {
					return
				}
			}
			if _, dup := seen[id]; dup {
				return
			}
			seen[id] = struct{}{}
			page.Matched++
			if id <= q.After && q.After != "" {
				return
			}
			if len(best) == cap(best) && id >= best[len(best)-1].ID {
				return
			}
			i, _ := slices.BinarySearchFunc(best, id, func(e ClientSummary, id string) int { return strings.Compare(e.ID, id) })
			if len(best) == cap(best) {
				best = best[:len(best)-1]
			}
			best = slices.Insert(best, i, c.summary(remote))
		})
		if err != nil {
			return ClientPage{}, err
		}
	}
	if len(best) > q.Limit {
		best = best[:q.Limit]
		page.Next = best[len(best)-1].ID
	}
	page.Clients = best
	return page, nil
}

// addrString is c's remote address as text. Loop-only.
func addrString(c *client) string {
	if a := network.PeerAddr(c.nc); a != nil {
		return a.String()
	}
	return ""
}

// username is c's user name: who MQTT 5 enhanced authentication
// authenticated, or the CONNECT's (kept with an Authoriser, an ACL or
// Config.KeepUsernames). Loop-only.
func (c *client) username() string {
	if a := c.auth(); a != nil && a.user != "" {
		return a.user
	}
	if c.ext != nil {
		return c.ext.username
	}
	return ""
}

// summary describes connected c; remote is its address if known already.
// Loop-only.
func (c *client) summary(remote string) ClientSummary {
	if remote == "" {
		remote = addrString(c)
	}
	s := c.sess
	cs := ClientSummary{
		ID: s.clientID, Username: c.username(), Remote: remote, Version: int(c.version), Loop: c.l.idx,
		KeepAlive: int(c.keepAliveMs / 1000), Queued: s.queued(), Inflight: len(s.inflightMsgs()),
	}
	if st := s.sub.Load(); st != nil {
		cs.Subs = len(st.subs.list)
	}
	return cs
}

// SubscriptionInfo is one subscription of a session.
type SubscriptionInfo struct {
	Filter            string `json:"filter"` // as subscribed, with any $share/{group}/ prefix
	QoS               byte   `json:"qos"`
	NoLocal           bool   `json:"no_local,omitempty"`
	RetainAsPublished bool   `json:"retain_as_published,omitempty"`
	RetainHandling    byte   `json:"retain_handling,omitempty"`
	Identifier        uint32 `json:"identifier,omitempty"`
}

// WillInfo describes a connected client's will.
type WillInfo struct {
	Topic        string `json:"topic"`
	QoS          byte   `json:"qos"`
	Retain       bool   `json:"retain"`
	PayloadBytes int    `json:"payload_bytes"`
	DelaySeconds uint32 `json:"delay_s,omitempty"`
}

// ClientDetail is one session and, when online, its client.
type ClientDetail struct {
	ClientSummary
	Online        bool               `json:"online"`
	ExpirySeconds uint32             `json:"session_expiry_s"` // 0: ends with the connection; 4294967295: never
	QueuedBytes   int64              `json:"queued_bytes"`     // the MaxQueuedBytes measure
	Subscriptions []SubscriptionInfo `json:"subscription_list"`
	Will          *WillInfo          `json:"will,omitempty"`
}

// Client returns the session of client id (online or offline); ok is false
// when there is none. Safe from any goroutine.
func (b *Broker) Client(ctx context.Context, id string) (d ClientDetail, ok bool, err error) {
	err = b.onSession(ctx, id, func(s *session, online bool) {
		ok = true
		d = ClientDetail{Online: online, ExpirySeconds: s.expiry}
		if online {
			d.ClientSummary = s.c.summary("")
			if w := s.c.will; w != nil {
				d.Will = &WillInfo{Topic: string(w.topic), QoS: w.qos, Retain: w.retain,
					PayloadBytes: len(w.payload), DelaySeconds: w.delay}
			}
		} else {
			d.ID = s.clientID
			d.Queued, d.Inflight = s.queued(), len(s.inflightMsgs())
		}
		if s.sessionExt != nil {
			d.QueuedBytes = s.held
		}
		if st := s.sub.Load(); st != nil {
			for _, e := range st.subs.list {
				d.Subscriptions = append(d.Subscriptions, SubscriptionInfo{Filter: e.full, QoS: e.sub.QoS,
					NoLocal: e.sub.NoLocal, RetainAsPublished: e.sub.RetainAsPublished,
					RetainHandling: e.sub.RetainHandling, Identifier: e.sub.Identifier})
			}
			d.Subs = len(d.Subscriptions)
		}
	})
	return d, ok, err
}

// Kick closes the connection of client id as an administrative action
// (MQTT 5: DISCONNECT 0x98); its will is published as for any close
// without DISCONNECT, and its session is kept or ended as its expiry says.
// It reports whether the client was connected. Safe from any goroutine.
func (b *Broker) Kick(ctx context.Context, id string) (bool, error) {
	kicked := false
	err := b.onSession(ctx, id, func(s *session, online bool) {
		if online {
			l := s.c.l
			s.c.closeNow(closeKicked)
			l.tot.kicked++
			l.finish()
			kicked = true
		}
	})
	if kicked {
		b.log.Info("client kicked", "client", id)
	}
	return kicked, err
}

// onSession runs fn on the session of client id where it is owned: on its
// owner loop while online (online true, s.c set), or under s.mu while
// offline. fn is not called when there is no such session. Safe from any
// goroutine but a loop's.
func (b *Broker) onSession(ctx context.Context, id string, fn func(s *session, online bool)) error {
	if len(b.loopSnapshot()) == 0 || b.closing.Load() {
		return ErrNoLoops
	}
	for try := 0; try < 10; try++ {
		b.sessions.mu.Lock()
		s := b.sessions.get(id)
		b.sessions.mu.Unlock()
		if s == nil {
			return nil
		}
		if l := s.owner.Load(); l != nil {
			done := false
			err := b.onLoop(ctx, l, func() {
				if s.owner.Load() == l && s.c != nil && s.c.state == stateConnected {
					fn(s, true)
					done = true
				}
			})
			if err != nil || done {
				return err
			}
		} else {
			s.mu.Lock()
			if s.owner.Load() == nil && !s.gone() {
				fn(s, false)
				s.mu.Unlock()
				return nil
			}
			s.mu.Unlock()
		}
		// The session moved (a takeover, a connect or a close) meanwhile.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return errors.New("engine: the session kept changing owner")
}

// TopicSubscriber is a session a message on a topic would go to.
type TopicSubscriber struct {
	ClientID string `json:"client_id"`
	QoS      byte   `json:"qos"`
	Group    string `json:"share_group,omitempty"` // a member of this shared group
	Filter   string `json:"filter,omitempty"`      // the shared group's filter
}

// TopicSubscribers returns the sessions a PUBLISH to topic would reach:
// each non-shared subscriber once, at its highest QoS, and every member
// of each matching shared group. Safe from any goroutine.
func (b *Broker) TopicSubscribers(topic string) ([]TopicSubscriber, error) {
	if err := trie.ValidTopicName([]byte(topic)); err != nil {
		return nil, err
	}
	var res trie.Result
	b.trie.Match([]byte(topic), &res)
	out := make([]TopicSubscriber, 0, len(res.Deliveries))
	name := func(id trie.SubscriberID) string {
		if s := b.table.get(id); s != nil {
			return s.clientID
		}
		return ""
	}
	for _, d := range res.Deliveries {
		if n := name(d.Subscriber); n != "" {
			out = append(out, TopicSubscriber{ClientID: n, QoS: d.QoS})
		}
	}
	for _, g := range res.Groups {
		for _, m := range g.Members() {
			if n := name(m.Subscriber); n != "" {
				out = append(out, TopicSubscriber{ClientID: n, QoS: m.QoS, Group: g.Name, Filter: g.Filter})
			}
		}
	}
	return out, nil
}

// RetainedInfo is one retained message.
type RetainedInfo struct {
	Topic        string `json:"topic"`
	QoS          byte   `json:"qos"`
	PayloadBytes int    `json:"payload_bytes"`
	Payload      string `json:"payload"` // the first RetainedPreview bytes
}

// RetainedPreview is how much of a payload RetainedMessages returns.
const RetainedPreview = 256

// RetainedMessages returns up to limit (1..MaxClientPage) retained
// messages whose topic matches filter, sorted by topic, from those past
// after; next is the after of the following page, "" on the last one. It
// visits every match (the retained index has no order). Safe from any
// goroutine.
func (b *Broker) RetainedMessages(filter, after string, limit int) (list []RetainedInfo, next string, err error) {
	if err := trie.ValidTopicFilter([]byte(filter)); err != nil {
		return nil, "", err
	}
	limit = min(max(limit, 1), MaxClientPage)
	now := b.now()
	b.retained.Match([]byte(filter), func(topic string, m *message) bool {
		if (after != "" && topic <= after) || m.expired(now) {
			return true
		}
		list = append(list, RetainedInfo{Topic: topic, QoS: m.qos, PayloadBytes: len(m.payload),
			Payload: string(m.payload[:min(len(m.payload), RetainedPreview)])})
		return true
	})
	slices.SortFunc(list, func(a, b RetainedInfo) int { return strings.Compare(a.Topic, b.Topic) })
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].Topic
	}
	return list, next, nil
}

// DeleteRetained deletes the retained messages whose topic matches filter
// (from the durable store too), on the first loop in slices of scanSlice
// topics, and returns how many it deleted. Safe from any goroutine but a
// loop's.
func (b *Broker) DeleteRetained(ctx context.Context, filter string) (int, error) {
	if err := trie.ValidTopicFilter([]byte(filter)); err != nil {
		return 0, err
	}
	loops := b.loopSnapshot()
	if len(loops) == 0 || b.closing.Load() {
		return 0, ErrNoLoops
	}
	var topics []string
	b.retained.Match([]byte(filter), func(topic string, _ *message) bool {
		topics = append(topics, topic)
		return true
	})
	l, n := loops[0], 0
	for len(topics) > 0 {
		part := topics[:min(len(topics), scanSlice)]
		topics = topics[len(part):]
		err := b.onLoop(ctx, l, func() {
			for _, t := range part {
				if _, ok := b.retained.Get(t); ok {
					b.storeRetained([]byte(t), nil, 0, nil, false, l.durBatch())
					n++
				}
			}
			l.finish()
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
