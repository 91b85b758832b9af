package engine

import (
	"strconv"
	"time"
)

// SysStats is a snapshot of the broker counters published under $SYS.
type SysStats struct {
	ClientsConnected    int64
	ClientsTotal        int64 // connected plus offline persistent sessions
	ClientsMaximum      int64
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
	// AuthChecks counts the full password checks run off the event loops
	// (Config.AuthWorkers), AuthQueueFull the CONNECTs refused because
	// Config.AuthQueue was full, and AuthInputOverflow the clients closed
	// for sending too much while their password was checked.
	AuthChecks        uint64
	AuthQueueFull     uint64
	AuthInputOverflow uint64
	Uptime            time.Duration
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
	}
	s.ClientsConnected = b.connected.Load()
	if m := b.maxConnected.Load(); s.ClientsConnected > m {
		b.maxConnected.CompareAndSwap(m, s.ClientsConnected)
	}
	s.ClientsMaximum = b.maxConnected.Load()
	s.ClientsTotal = int64(b.sessions.len())
	if s.ClientsTotal < s.ClientsConnected {
		s.ClientsTotal = s.ClientsConnected
	}
	s.Subscriptions = b.subCount.Load()
	s.Retained = int64(b.retained.Count())
	s.SlowConsumersClosed = b.slowClosed.Load()
	s.AuthChecks = b.auth.checks.Load()
	s.AuthQueueFull = b.auth.queueFull.Load()
	s.AuthInputOverflow = b.auth.overflow.Load()
	if !b.startedAt.IsZero() {
		s.Uptime = time.Since(b.startedAt)
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
		{"$SYS/broker/auth/checks", u(st.AuthChecks)},
		{"$SYS/broker/auth/queue full", u(st.AuthQueueFull)},
		{"$SYS/broker/auth/input overflow", u(st.AuthInputOverflow)},
	}
	for _, t := range topics {
		topic, payload := []byte(t.t), []byte(t.v)
		l.b.storeRetained(topic, payload, 0, nil)
		l.route(topic, payload, 0, false, nil, nil)
	}
	l.finish()
}
