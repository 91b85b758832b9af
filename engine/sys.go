package engine

import (
	"strconv"
	"time"

	"github.com/gust-mqtt/gust/engine/persist"
)

// SysStats is a snapshot of the broker counters published under $SYS.
type SysStats struct {
	ClientsConnected    int64
	ClientsTotal        int64 // connected plus offline persistent sessions
	ClientsMaximum      int64
	Connects            uint64 // CONNECTs accepted since start
	ClientsExpired      uint64 // offline sessions ended by their expiry
	MessagesReceived    uint64 // MQTT packets of any type
	MessagesSent        uint64
	PublishReceived     uint64
	PublishSent         uint64
	PublishDropped      uint64
	BytesReceived       uint64
	BytesSent           uint64
	Subscriptions       int64
	Retained            int64
	SlowConsumersClosed uint64
	// LingeringCloses counts the closes that half-closed and drained the
	// connection so that a reason code reaches a client still sending;
	// LingeringCut those of them cut short for sending past 64 KiB.
	LingeringCloses uint64
	LingeringCut    uint64
	Uptime          time.Duration

	// Limits (Config "Limits" group, limits.go).
	SessionsEvicted         uint64 // offline sessions discarded for MaxSessions
	SessionsRefused         uint64 // CONNECTs refused for MaxSessions
	SubscriptionsRefused    uint64 // SUBSCRIBE filters refused (MaxSubscriptionsPerClient, SubscriberIDs)
	RetainedRefused         uint64 // retained messages not stored (MaxRetainedMessages, MaxRetainedBytes)
	RetainedBytes           int64  // the MaxRetainedBytes measure
	QueuedBytes             int64  // the MaxQueuedBytes measure summed over sessions
	QueuedBytesDropped      uint64 // messages dropped for MaxQueuedBytes or MaxQueuedBytesTotal (also in PublishDropped)
	HandoverDropped         uint64 // QoS 0 messages dropped for MaxHandoverBytes (also in PublishDropped)
	DelayedWills            int64  // wills waiting for their Will Delay Interval
	DelayedWillsPublished   uint64 // delayed wills published at once (MaxDelayedWills, MaxDelayedWillBytes)
	TopicsRefused           uint64 // topic names and filters over MaxTopicLevels or MaxTopicLength
	SubscribeFiltersRefused uint64 // SUBSCRIBE filters past MaxSubscribeFilters
	UserPropertiesRefused   uint64 // packets over MaxUserProperties
	TopicAliasesFull        uint64 // connections that reached TopicAliasBytes
	MatchCacheClears        uint64 // per-loop match caches emptied at MatchCacheBytes
	// ConnectionsRefused counts connections closed at accept without being
	// served: over max_connections, shed while out of descriptors, or
	// not taken by an event loop.
	ConnectionsRefused uint64
	// AcceptErrors counts failed accept calls (out of descriptors or
	// memory, or other transient errors); each backs the acceptor off.
	AcceptErrors uint64
	// TLSHandshakes counts TLS handshakes completed, TLSHandshakeFailures
	// those that failed (bad input, untrusted certificate, connect_timeout)
	// and TLSHandshakesRefused the sockets closed at accept because
	// Config.TLSHandshakes were in progress.
	TLSHandshakes, TLSHandshakeFailures, TLSHandshakesRefused uint64
	// WSUpgrades counts WebSocket upgrade requests accepted, WSRefused
	// those refused (an HTTP error sent, then closed) and WSBroken the
	// WebSocket connections closed for a frame error (a close frame with
	// its code sent).
	// WSDeflated counts the upgrades with permessage-deflate.
	WSUpgrades, WSDeflated, WSRefused, WSBroken uint64
	// PartialBytes is the bytes held by large packets not yet whole
	// (Config.MaxPartialBytes); PartialRefused counts the connections
	// closed because one more would have passed it.
	PartialBytes   int64
	PartialRefused uint64
	// TakeoverClosed counts the connections closed for sending more than
	// Config.MaxTakeoverBytes while their session takeover was pending.
	TakeoverClosed uint64
	// IdleTrims and SpikeTrims count the times memory was returned to the
	// operating system (Config.TrimIdle, Config.TrimExcess).
	IdleTrims  uint64
	SpikeTrims uint64
	// AuthChecks counts the full password checks run off the event loops
	// (Config.AuthWorkers), AuthQueueFull the CONNECTs refused because
	// Config.AuthQueue was full, and AuthInputOverflow the clients closed
	// for sending too much while their password was checked.
	AuthChecks        uint64
	AuthQueueFull     uint64
	AuthInputOverflow uint64
	// Store is the durable store's counters (durable.go); zero without one.
	Store persist.Stats
}

// noteConnected raises ClientsMaximum to n, the number of clients
// connected after one more connected. Safe from any goroutine.
func (b *Broker) noteConnected(n int64) {
	for m := b.maxConnected.Load(); n > m && !b.maxConnected.CompareAndSwap(m, n); m = b.maxConnected.Load() {
	}
}

// Stats returns the current counters. Safe from any goroutine.
func (b *Broker) Stats() SysStats {
	var s SysStats
	for _, l := range b.loopSnapshot() {
		s.MessagesReceived += l.ast.msgsIn.Load()
		s.MessagesSent += l.ast.msgsOut.Load()
		s.PublishReceived += l.ast.pubIn.Load()
		s.PublishSent += l.ast.pubOut.Load()
		s.PublishDropped += l.ast.dropped.Load()
		s.BytesReceived += l.ast.bytesIn.Load()
		s.BytesSent += l.ast.bytesOut.Load()
		s.QueuedBytesDropped += l.ast.queueDropped.Load()
		s.HandoverDropped += l.ast.handoverDropped.Load()
	}
	s.ClientsConnected = b.connected.Load()
	s.ClientsMaximum = b.maxConnected.Load()
	s.Connects = b.totalConnects.Load()
	s.ClientsExpired = b.sessionsExpired.Load()
	s.ClientsTotal = int64(b.sessions.len())
	if s.ClientsTotal < s.ClientsConnected {
		s.ClientsTotal = s.ClientsConnected
	}
	s.Subscriptions = b.subCount.Load()
	s.Retained = int64(b.retained.Count())
	s.SlowConsumersClosed = b.slowClosed.Load()
	s.LingeringCloses = b.lingered.Load()
	s.LingeringCut = b.lingerCut.Load()
	lim := &b.limits
	s.SessionsEvicted = lim.sessionsEvicted.Load()
	s.SessionsRefused = lim.sessionsRefused.Load()
	s.SubscriptionsRefused = lim.subsRefused.Load()
	s.RetainedRefused = lim.retainedRefused.Load()
	s.RetainedBytes = lim.retainedBytes.Load()
	s.QueuedBytes = max(lim.queuedBytes.Load(), 0) // loops fold their changes at different times
	s.DelayedWills = int64(b.wills.n.Load())
	s.DelayedWillsPublished = lim.willsEarly.Load()
	for _, ln := range b.lns {
		if a := ln.acc.Load(); a != nil {
			s.ConnectionsRefused += a.refused.Load()
			s.AcceptErrors += a.acceptErrors.Load()
		}
	}
	if h := b.handshakes; h != nil {
		s.TLSHandshakes = h.Completed.Load()
		s.TLSHandshakeFailures = h.Failed.Load()
		s.TLSHandshakesRefused = h.Refused.Load()
	}
	for _, w := range b.wsServers {
		s.WSUpgrades += w.Stats.Upgraded.Load()
		s.WSDeflated += w.Stats.Deflated.Load()
		s.WSRefused += w.Stats.Refused.Load()
		s.WSBroken += w.Stats.Broken.Load()
	}
	s.TopicsRefused = lim.topicsRefused.Load()
	s.SubscribeFiltersRefused = lim.filtersRefused.Load()
	s.UserPropertiesRefused = lim.userPropsRefused.Load()
	s.TopicAliasesFull = lim.aliasesFull.Load()
	s.MatchCacheClears = lim.cacheClears.Load()
	s.PartialBytes = b.partial.used.Load()
	s.PartialRefused = b.partial.refused.Load()
	s.TakeoverClosed = b.takeoverClosed.Load()
	s.IdleTrims = b.trims.Load()
	s.SpikeTrims = b.spikeTrims.Load()
	s.AuthChecks = b.auth.checks.Load()
	s.AuthQueueFull = b.auth.queueFull.Load()
	s.AuthInputOverflow = b.auth.overflow.Load()
	if !b.startedAt.IsZero() {
		s.Uptime = time.Since(b.startedAt)
	}
	if b.store != nil {
		s.Store = b.store.Stats()
	}
	return s
}

// publishSys publishes the $SYS/broker topics as retained messages, with
// Mosquitto's names so existing dashboards work. Loop-only.
func (l *loop) publishSys() {
	st := l.b.Stats()
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	topics := [...]struct{ t, v string }{
		{"$SYS/broker/version", "gust " + Version},
		{"$SYS/broker/uptime", strconv.FormatInt(int64(st.Uptime/time.Second), 10) + " seconds"},
		{"$SYS/broker/clients/connected", i(st.ClientsConnected)},
		{"$SYS/broker/clients/active", i(st.ClientsConnected)},
		{"$SYS/broker/clients/total", i(st.ClientsTotal)},
		{"$SYS/broker/clients/disconnected", i(st.ClientsTotal - st.ClientsConnected)},
		{"$SYS/broker/clients/inactive", i(st.ClientsTotal - st.ClientsConnected)},
		{"$SYS/broker/clients/maximum", i(st.ClientsMaximum)},
		{"$SYS/broker/clients/expired", u(st.ClientsExpired)},
		{"$SYS/broker/heap/current", u(heapBytes())},
		{"$SYS/broker/messages/received", u(st.MessagesReceived)},
		{"$SYS/broker/messages/sent", u(st.MessagesSent)},
		{"$SYS/broker/publish/messages/received", u(st.PublishReceived)},
		{"$SYS/broker/publish/messages/sent", u(st.PublishSent)},
		{"$SYS/broker/publish/messages/dropped", u(st.PublishDropped)},
		{"$SYS/broker/bytes/received", u(st.BytesReceived)},
		{"$SYS/broker/bytes/sent", u(st.BytesSent)},
		{"$SYS/broker/subscriptions/count", i(st.Subscriptions)},
		{"$SYS/broker/retained messages/count", i(st.Retained)},
		{"$SYS/broker/slow consumers/disconnected", u(st.SlowConsumersClosed)},
		{"$SYS/broker/sessions/evicted", u(st.SessionsEvicted)},
		{"$SYS/broker/sessions/refused", u(st.SessionsRefused)},
		{"$SYS/broker/subscriptions/refused", u(st.SubscriptionsRefused)},
		{"$SYS/broker/retained messages/refused", u(st.RetainedRefused)},
		{"$SYS/broker/retained messages/bytes", i(st.RetainedBytes)},
		{"$SYS/broker/queued/bytes", i(st.QueuedBytes)},
		{"$SYS/broker/queued/dropped", u(st.QueuedBytesDropped)},
		{"$SYS/broker/handover/dropped", u(st.HandoverDropped)},
		{"$SYS/broker/wills/delayed", i(st.DelayedWills)},
		{"$SYS/broker/wills/published early", u(st.DelayedWillsPublished)},
		{"$SYS/broker/connections/refused", u(st.ConnectionsRefused)},
		{"$SYS/broker/connections/accept errors", u(st.AcceptErrors)},
		{"$SYS/broker/tls/handshakes", u(st.TLSHandshakes)},
		{"$SYS/broker/tls/handshakes/failed", u(st.TLSHandshakeFailures)},
		{"$SYS/broker/tls/handshakes/refused", u(st.TLSHandshakesRefused)},
		{"$SYS/broker/websocket/upgrades", u(st.WSUpgrades)},
		{"$SYS/broker/websocket/deflate", u(st.WSDeflated)},
		{"$SYS/broker/websocket/refused", u(st.WSRefused)},
		{"$SYS/broker/websocket/broken", u(st.WSBroken)},
		{"$SYS/broker/topics/refused", u(st.TopicsRefused)},
		{"$SYS/broker/subscribe filters/refused", u(st.SubscribeFiltersRefused)},
		{"$SYS/broker/user properties/refused", u(st.UserPropertiesRefused)},
		{"$SYS/broker/topic aliases/full", u(st.TopicAliasesFull)},
		{"$SYS/broker/match cache/clears", u(st.MatchCacheClears)},
		{"$SYS/broker/partial/bytes", i(st.PartialBytes)},
		{"$SYS/broker/partial/refused", u(st.PartialRefused)},
		{"$SYS/broker/takeover/closed", u(st.TakeoverClosed)},
		{"$SYS/broker/memory/idle trims", u(st.IdleTrims)},
		{"$SYS/broker/memory/spike trims", u(st.SpikeTrims)},
		{"$SYS/broker/auth/checks", u(st.AuthChecks)},
		{"$SYS/broker/auth/queue full", u(st.AuthQueueFull)},
		{"$SYS/broker/auth/input overflow", u(st.AuthInputOverflow)},
	}
	for _, t := range topics {
		l.publishSysTopic(t.t, t.v)
	}
	l.b.sysLoad.update(&st, l.b.startedAt, time.Now())
	l.b.sysLoad.publish(l)
	if l.b.store != nil {
		s := &st.Store
		for _, t := range [...]struct{ t, v string }{
			{"$SYS/broker/store/commits", u(s.Commits)},
			{"$SYS/broker/store/syncs", u(s.Syncs)},
			{"$SYS/broker/store/bytes written", u(s.BytesWritten)},
			{"$SYS/broker/store/failures", u(s.Failures)},
			{"$SYS/broker/store/writes elided", u(s.Elided)},
			{"$SYS/broker/store/disk bytes", i(s.DiskBytes)},
			{"$SYS/broker/store/recovery seconds", strconv.FormatFloat(s.Recovered.Seconds(), 'f', 3, 64)},
		} {
			l.publishSysTopic(t.t, t.v)
		}
	}
	if n := l.b.cluster.Load(); n != nil {
		cs := n.Stats()
		for _, t := range [...]struct{ t, v string }{
			{"$SYS/broker/cluster/node", cs.Node},
			{"$SYS/broker/cluster/routes", strconv.Itoa(cs.Routes)},
			{"$SYS/broker/cluster/subjects", strconv.Itoa(cs.Subjects)},
			{"$SYS/broker/cluster/messages/sent", u(cs.Sent)},
			{"$SYS/broker/cluster/messages/send failed", u(cs.SendFailed)},
			{"$SYS/broker/cluster/messages/received", u(cs.Received)},
			{"$SYS/broker/cluster/messages/dropped", u(cs.Dropped)},
			{"$SYS/broker/cluster/messages/malformed", u(l.b.clusterBad.Load())},
			{"$SYS/broker/cluster/receiver waits", u(cs.Waits)},
			{"$SYS/broker/cluster/retained restored", u(cs.RetainedSync)},
			{"$SYS/broker/cluster/nodes", strconv.Itoa(cs.Nodes)},
			{"$SYS/broker/cluster/route pending bytes", strconv.Itoa(cs.RoutePending)},
			{"$SYS/broker/cluster/shared lost", u(cs.SharedLost + l.b.clusterSharedLost.Load())},
		} {
			l.publishSysTopic(t.t, t.v)
		}
		l.publishSessionSys(n) // cluster_session.go
		l.publishPeers(n)
	}
	l.finish()
}

// publishSysTopic retains and routes one $SYS value. Loop-only.
func (l *loop) publishSysTopic(t, v string) {
	topic, payload := []byte(t), []byte(v)
	l.b.storeRetained(topic, payload, 0, nil, true, nil)
	l.route(topic, payload, 0, false, nil, nil)
}
