package ops

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine"
)

// collector reads the broker's counters at scrape time: engine.Broker.Stats
// (the atomics $SYS reads) and engine.Broker.LoopStats (each loop's own
// counters, read on the loop). Nothing is counted for it on the publish
// path.
type collector struct {
	b     *engine.Broker
	s     *Server
	log   *slog.Logger
	descs []*prometheus.Desc
	d     descs
}

// descs are the metrics of the collector, by name.
type descs struct {
	up, info                                                  *prometheus.Desc
	connCurrent, connTotal, connMax, connRefused, acceptErr   *prometheus.Desc
	authFailures, authChecks, authQueueFull                   *prometheus.Desc
	msgsIn, msgsOut, bytesIn, bytesOut                        *prometheus.Desc
	pktIn, pktBytesIn, pubIn, pubBytesIn, pubOut, pubBytesOut *prometheus.Desc
	dropped                                                   *prometheus.Desc
	retained, retainedBytes, retainedRefused                  *prometheus.Desc
	sessions, sessionsEvicted, sessionsRefused, expired       *prometheus.Desc
	subs, subsRefused                                         *prometheus.Desc
	queued, inflight, queuedBytes                             *prometheus.Desc
	slowClosed, throttled, throttleHolds, kicked, aclRead     *prometheus.Desc
	loopBusy, loopHandovers, loopItems, loopInbox, loopConns  *prometheus.Desc
	delayedWills, partialBytes, partialRefused, takeoverClose *prometheus.Desc
	storeCommits, storeSyncs, storeBytes, storeFailures       *prometheus.Desc
	storeElided, storeDisk, storeRecovery                     *prometheus.Desc
	httpRejected, httpDenied, scrapeErrors                    *prometheus.Desc
	lnOpen, lnMax, lnRefused                                  *prometheus.Desc
	cluster                                                   clusterDescs
}

func newCollector(b *engine.Broker, s *Server, log *slog.Logger) *collector {
	c := &collector{b: b, s: s, log: log}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		x := prometheus.NewDesc("gust_"+name, help, labels, nil)
		c.descs = append(c.descs, x)
		return x
	}
	c.d = descs{
		up:              d("uptime_seconds", "Seconds since the broker started."),
		info:            d("build_info", "The broker's version, always 1.", "version"),
		connCurrent:     d("connections", "Clients connected (past CONNACK)."),
		connTotal:       d("connections_total", "CONNECTs accepted since start."),
		connMax:         d("connections_maximum", "Most clients connected at once since start."),
		connRefused:     d("connections_refused_total", "Connections refused: at accept (reason accept: max_connections, out of descriptors) or by CONNACK reason (bad_user_name_or_password, server_busy...).", "reason"),
		acceptErr:       d("accept_errors_total", "Failed accept calls."),
		lnOpen:          d("listener_connections", "Connections open through a listener, connected or not.", "transport", "addr"),
		lnMax:           d("listener_max_connections", "A listener's own max_connections (0: only the broker's).", "transport", "addr"),
		lnRefused:       d("listener_connections_refused_total", "Connections a listener closed at accept: its max_connections, the broker's, or out of descriptors.", "transport", "addr"),
		authFailures:    d("auth_failures_total", "CONNECTs refused for their credentials (bad user name or password, not authorized, bad authentication method)."),
		authChecks:      d("auth_checks_total", "Full password checks run off the event loops."),
		authQueueFull:   d("auth_queue_full_total", "CONNECTs refused because auth_queue was full."),
		msgsIn:          d("packets_received_all_total", "MQTT packets received, of every type."),
		msgsOut:         d("publish_sent_all_total", "PUBLISH packets sent, of every QoS."),
		bytesIn:         d("bytes_received_total", "Bytes of MQTT packets received."),
		bytesOut:        d("bytes_sent_total", "Bytes of PUBLISH packets sent."),
		pktIn:           d("packets_received_total", "MQTT packets received, by packet type.", "type"),
		pktBytesIn:      d("packet_bytes_received_total", "Bytes of MQTT packets received, by packet type.", "type"),
		pubIn:           d("publish_received_total", "PUBLISH packets received, by QoS.", "qos"),
		pubBytesIn:      d("publish_received_bytes_total", "Bytes of PUBLISH packets received, by QoS.", "qos"),
		pubOut:          d("publish_sent_total", "PUBLISH packets sent, by QoS.", "qos"),
		pubBytesOut:     d("publish_sent_bytes_total", "Bytes of PUBLISH packets sent, by QoS.", "qos"),
		dropped:         d("publish_dropped_total", "Messages dropped, by reason: queued_bytes (max_queued_bytes, max_queued_bytes_total), handover_bytes (max_handover_bytes), other (outbound budget, queue full, packet too large).", "reason"),
		retained:        d("retained_messages", "Retained messages stored."),
		retainedBytes:   d("retained_bytes", "Bytes of retained messages (the max_retained_bytes measure)."),
		retainedRefused: d("retained_refused_total", "Retained messages not stored for max_retained_messages or max_retained_bytes."),
		sessions:        d("sessions", "Sessions, by state: online (a client connected) or offline (persistent, kept).", "state"),
		sessionsEvicted: d("sessions_evicted_total", "Offline sessions discarded for max_sessions."),
		sessionsRefused: d("sessions_refused_total", "CONNECTs refused for max_sessions."),
		expired:         d("sessions_expired_total", "Offline sessions ended by their expiry."),
		subs:            d("subscriptions", "Subscriptions held by all sessions."),
		subsRefused:     d("subscriptions_refused_total", "SUBSCRIBE filters refused for a limit."),
		queued:          d("queued_messages", "QoS 1/2 messages queued for online sessions."),
		inflight:        d("inflight_messages", "QoS 1/2 messages sent to online sessions and not acknowledged."),
		queuedBytes:     d("queued_bytes", "Bytes of QoS 1/2 messages held by all sessions, queued or in flight (max_queued_bytes_total measure)."),
		slowClosed:      d("slow_consumers_disconnected_total", "Connections reset as slow consumers."),
		throttled:       d("throttled_publishers", "Publishers the throttle holds now."),
		throttleHolds:   d("throttle_holds_total", "Times a publisher was held by the throttle."),
		kicked:          d("clients_kicked_total", "Clients disconnected through the admin API."),
		aclRead:         d("acl_read_denied_total", "Deliveries withheld because the subscriber may not read the topic (ACL)."),
		loopBusy:        d("loop_busy_seconds_total", "Time each event loop spent in its callbacks.", "loop"),
		loopHandovers:   d("loop_handovers_total", "Batches each event loop handed to other loops.", "loop"),
		loopItems:       d("loop_handover_items_total", "Items in the batches each event loop handed to other loops.", "loop"),
		loopInbox:       d("loop_inbox_bytes", "QoS 0 bytes handed to each event loop and not yet drained.", "loop"),
		loopConns:       d("loop_connections", "Connections on each event loop, in any state.", "loop"),
		delayedWills:    d("delayed_wills", "MQTT 5 wills waiting for their delay."),
		partialBytes:    d("partial_bytes", "Bytes held by large packets not yet whole (max_partial_bytes measure)."),
		partialRefused:  d("partial_refused_total", "Connections closed for max_partial_bytes."),
		takeoverClose:   d("takeover_closed_total", "Connections closed for max_takeover_bytes."),
		storeCommits:    d("store_commits_total", "Commits of the durable store."),
		storeSyncs:      d("store_syncs_total", "fsyncs of the durable store's log."),
		storeBytes:      d("store_written_bytes_total", "Bytes handed to the durable store."),
		storeFailures:   d("store_failures_total", "Commits of the durable store that failed."),
		storeElided:     d("store_elided_total", "Store operations never written: created and deleted in one group."),
		storeDisk:       d("store_disk_bytes", "Size of the durable store's files."),
		storeRecovery:   d("store_recovery_seconds", "How long recovering the durable store took at start."),
		httpRejected:    d("http_rejected_total", "HTTP requests refused at http_max_requests."),
		httpDenied:      d("http_unauthorized_total", "HTTP requests refused for missing or wrong credentials."),
		scrapeErrors:    d("scrape_loop_errors_total", "Scrapes whose per-loop counters could not be read in time."),
	}
	c.d.cluster = newClusterDescs(d)
	return c
}

// Describe sends every metric's descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// packetTypeNames label packets_received_total by codec.Type.
var packetTypeNames = [16]string{"reserved", "connect", "connack", "publish", "puback", "pubrec", "pubrel",
	"pubcomp", "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", "auth"}

var qosNames = [3]string{"0", "1", "2"}

// Collect reads the broker's counters.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	d := &c.d
	st := c.b.Stats()
	counter := func(desc *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
	}
	gauge(d.up, st.Uptime.Seconds())
	gauge(d.info, 1, engine.Version)
	gauge(d.connCurrent, float64(st.ClientsConnected))
	counter(d.connTotal, st.Connects)
	gauge(d.connMax, float64(st.ClientsMaximum))
	counter(d.acceptErr, st.AcceptErrors)
	counter(d.authChecks, st.AuthChecks)
	counter(d.authQueueFull, st.AuthQueueFull)
	counter(d.msgsIn, st.MessagesReceived)
	counter(d.msgsOut, st.PublishSent)
	counter(d.bytesIn, st.BytesReceived)
	counter(d.bytesOut, st.BytesSent)
	other := st.PublishDropped - min(st.PublishDropped, st.QueuedBytesDropped+st.HandoverDropped)
	counter(d.dropped, st.QueuedBytesDropped, "queued_bytes")
	counter(d.dropped, st.HandoverDropped, "handover_bytes")
	counter(d.dropped, other, "other")
	gauge(d.retained, float64(st.Retained))
	gauge(d.retainedBytes, float64(st.RetainedBytes))
	counter(d.retainedRefused, st.RetainedRefused)
	gauge(d.sessions, float64(st.ClientsConnected), "online")
	gauge(d.sessions, float64(st.ClientsTotal-st.ClientsConnected), "offline")
	counter(d.sessionsEvicted, st.SessionsEvicted)
	counter(d.sessionsRefused, st.SessionsRefused)
	counter(d.expired, st.ClientsExpired)
	gauge(d.subs, float64(st.Subscriptions))
	counter(d.subsRefused, st.SubscriptionsRefused)
	gauge(d.queuedBytes, float64(st.QueuedBytes))
	counter(d.slowClosed, st.SlowConsumersClosed)
	gauge(d.delayedWills, float64(st.DelayedWills))
	gauge(d.partialBytes, float64(st.PartialBytes))
	counter(d.partialRefused, st.PartialRefused)
	counter(d.takeoverClose, st.TakeoverClosed)
	counter(d.storeCommits, st.Store.Commits)
	counter(d.storeSyncs, st.Store.Syncs)
	counter(d.storeBytes, st.Store.BytesWritten)
	counter(d.storeFailures, st.Store.Failures)
	counter(d.storeElided, st.Store.Elided)
	gauge(d.storeDisk, float64(st.Store.DiskBytes))
	gauge(d.storeRecovery, st.Store.Recovered.Seconds())
	counter(d.httpRejected, c.s.rejected.Load())
	counter(d.httpDenied, c.s.denied.Load())

	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	loops, err := c.b.LoopStats(ctx)
	if err != nil {
		c.s.scrapeErrors.Add(1)
		c.log.Warn("metrics: per-loop counters not read", "err", err)
	}
	counter(d.scrapeErrors, c.s.scrapeErrors.Load())
	counter(d.connRefused, st.ConnectionsRefused, "accept")
	for _, l := range c.b.ListenerStats() {
		gauge(d.lnOpen, float64(l.Open), l.Transport, l.Addr)
		gauge(d.lnMax, float64(l.MaxConnections), l.Transport, l.Addr)
		counter(d.lnRefused, l.Refused, l.Transport, l.Addr)
	}
	c.collectLoops(ch, loops)
	c.collectCluster(counter, gauge)
}

// collectLoops sends the metrics summed over loops, and those per loop.
func (c *collector) collectLoops(ch chan<- prometheus.Metric, loops []engine.LoopStats) {
	d := &c.d
	var sum engine.LoopStats
	refused := map[codec.ReasonCode]uint64{}
	for i := range loops {
		l := &loops[i]
		for t := range l.PacketsIn {
			sum.PacketsIn[t] += l.PacketsIn[t]
			sum.BytesIn[t] += l.BytesIn[t]
		}
		for q := range 3 {
			sum.PublishIn[q] += l.PublishIn[q]
			sum.PublishBytesIn[q] += l.PublishBytesIn[q]
			sum.PublishOut[q] += l.PublishOut[q]
			sum.PublishBytesOut[q] += l.PublishBytesOut[q]
		}
		for rc, n := range l.Refused {
			refused[rc] += n
		}
		sum.Queued += l.Queued
		sum.Inflight += l.Inflight
		sum.Throttled += l.Throttled
		sum.ThrottleHolds += l.ThrottleHolds
		sum.Kicked += l.Kicked
		sum.ACLReadDenied += l.ACLReadDenied
		lb := strconv.Itoa(l.Loop)
		ch <- prometheus.MustNewConstMetric(d.loopBusy, prometheus.CounterValue, l.Busy.Seconds(), lb)
		ch <- prometheus.MustNewConstMetric(d.loopHandovers, prometheus.CounterValue, float64(l.Handovers), lb)
		ch <- prometheus.MustNewConstMetric(d.loopItems, prometheus.CounterValue, float64(l.HandoverItems), lb)
		ch <- prometheus.MustNewConstMetric(d.loopInbox, prometheus.GaugeValue, float64(l.InboxBytes), lb)
		ch <- prometheus.MustNewConstMetric(d.loopConns, prometheus.GaugeValue, float64(l.Clients), lb)
	}
	if loops == nil {
		return // the per-loop metrics are left out rather than reported as zeros
	}
	for t := range sum.PacketsIn {
		if t > 0 {
			ch <- prometheus.MustNewConstMetric(d.pktIn, prometheus.CounterValue, float64(sum.PacketsIn[t]), packetTypeNames[t])
			ch <- prometheus.MustNewConstMetric(d.pktBytesIn, prometheus.CounterValue, float64(sum.BytesIn[t]), packetTypeNames[t])
		}
	}
	for q, name := range qosNames {
		ch <- prometheus.MustNewConstMetric(d.pubIn, prometheus.CounterValue, float64(sum.PublishIn[q]), name)
		ch <- prometheus.MustNewConstMetric(d.pubBytesIn, prometheus.CounterValue, float64(sum.PublishBytesIn[q]), name)
		ch <- prometheus.MustNewConstMetric(d.pubOut, prometheus.CounterValue, float64(sum.PublishOut[q]), name)
		ch <- prometheus.MustNewConstMetric(d.pubBytesOut, prometheus.CounterValue, float64(sum.PublishBytesOut[q]), name)
	}
	var authFailed uint64
	for rc, n := range refused {
		ch <- prometheus.MustNewConstMetric(d.connRefused, prometheus.CounterValue, float64(n), strings.ReplaceAll(rc.String(), " ", "_"))
		switch rc {
		case codec.ReasonBadUsernameOrPassword, codec.ReasonNotAuthorized, codec.ReasonBadAuthenticationMethod:
			authFailed += n
		}
	}
	ch <- prometheus.MustNewConstMetric(d.authFailures, prometheus.CounterValue, float64(authFailed))
	ch <- prometheus.MustNewConstMetric(d.queued, prometheus.GaugeValue, float64(sum.Queued))
	ch <- prometheus.MustNewConstMetric(d.inflight, prometheus.GaugeValue, float64(sum.Inflight))
	ch <- prometheus.MustNewConstMetric(d.throttled, prometheus.GaugeValue, float64(sum.Throttled))
	ch <- prometheus.MustNewConstMetric(d.throttleHolds, prometheus.CounterValue, float64(sum.ThrottleHolds))
	ch <- prometheus.MustNewConstMetric(d.kicked, prometheus.CounterValue, float64(sum.Kicked))
	ch <- prometheus.MustNewConstMetric(d.aclRead, prometheus.CounterValue, float64(sum.ACLReadDenied))
}
