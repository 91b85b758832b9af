package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gust-mqtt/gust/loadgen"
)

// claimVariant is one protocol setting of the MQTT-vs-HTTP table.
type claimVariant struct {
	name      string
	http      bool
	keepAlive bool
	qos       byte
}

// ClaimRow is one measured cell row of the claims table.
type ClaimRow struct {
	Variant         string  `json:"variant"`
	Target          string  `json:"target"`
	Messages        int     `json:"messages"`
	Delivered       int64   `json:"delivered"`
	Lost            int64   `json:"lost"`
	AppBytesPerMsg  float64 `json:"app_bytes_per_msg"`
	SegsPerMsg      float64 `json:"tcp_segments_per_msg"`
	WireBytesPerMsg float64 `json:"wire_bytes_per_msg"`
	Rate            float64 `json:"msgs_per_sec"`
	P50, P99        int64
	BrokerCPUus     float64 `json:"broker_cpu_us_per_msg"`
	TotalCPUus      float64 `json:"total_cpu_us_per_msg"`
	Error           string  `json:"error,omitempty"`
}

// tcpHeaderBytes is the IPv4 (20) + TCP with timestamps (32) header of
// every loopback segment, used to turn segment counts into wire bytes.
const tcpHeaderBytes = 52

// claimCounts are the message counts of the growth columns.
func claimCounts(size Size) []int {
	if size == Quick {
		return []int{100, 1000}
	}
	return []int{100, 1000, 10000}
}

// runClaims measures MQTT QoS 0/1/2 on the reference MQTT target against
// the HTTP baseline with and without keep-alive, at growing message counts.
func (h *harness) runClaims(ctx context.Context) []ClaimRow {
	var mqtt, web *Target
	for i := range h.targets {
		t := &h.targets[i]
		if t.Kind == KindHTTP && web == nil {
			web = t
		} else if t.Kind != KindHTTP && (mqtt == nil || t.Kind == KindGust && mqtt.Kind != KindGust) {
			mqtt = t
		}
	}
	if web == nil {
		w := Target{Name: KindHTTP, Kind: KindHTTP}
		if err := w.prepare(ctx, h.root, h.tmp); err == nil {
			web = &w
		}
	}
	variants := []claimVariant{
		{name: "MQTT QoS 0", qos: 0}, {name: "MQTT QoS 1", qos: 1}, {name: "MQTT QoS 2", qos: 2},
		{name: "HTTP keep-alive (POST + SSE)", http: true, keepAlive: true},
		{name: "HTTP new connection per POST (+ SSE)", http: true},
	}
	var rows []ClaimRow
	for _, n := range claimCounts(h.cfg.Size) {
		for _, v := range variants {
			t := mqtt
			if v.http {
				t = web
			}
			if t == nil || ctx.Err() != nil {
				continue
			}
			row := h.claimOne(ctx, t, v, n)
			h.logf("claims %s n=%d: %.1f app B/msg, %.2f segs/msg, %.0f msg/s %s", v.name, n, row.AppBytesPerMsg, row.SegsPerMsg, row.Rate, row.Error)
			rows = append(rows, row)
		}
	}
	return rows
}

func (h *harness) claimOne(ctx context.Context, t *Target, v claimVariant, n int) ClaimRow {
	row := ClaimRow{Variant: v.name, Target: t.Name, Messages: n}
	r, err := t.start(ctx, h.tmp, h.cfg.PinBroker, false)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	defer r.stop()
	cfg := loadgen.DefaultConfig()
	cfg.Addr, cfg.QoS, cfg.Count = r.addr, v.qos, n
	cfg.Publishers, cfg.Subscribers = 1, 1
	cfg.PubTopic, cfg.SubTopic = "claims/t", "claims/t"
	cfg.Duration, cfg.Drain = 60*time.Second, 3*time.Second
	cfg.Inflight = 16
	cfg.ClientPrefix = fmt.Sprintf("claims%d", time.Now().UnixNano()%1e6)
	var s *Sampler
	if r.pid > 0 {
		s = StartSampler(r.pid, 100*time.Millisecond)
	}
	var res *loadgen.Result
	if v.http {
		res, err = loadgen.RunHTTP(ctx, cfg, v.keepAlive)
	} else {
		res, err = loadgen.Run(ctx, cfg)
	}
	var bcpu float64
	if s != nil {
		bcpu = s.Stop().CPUSecs
	}
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.Delivered, row.Lost = res.Delivered, res.Lost
	if d := float64(res.Delivered); d > 0 {
		row.AppBytesPerMsg = float64(res.BytesOut+res.BytesIn) / d
		row.SegsPerMsg = float64(res.Segments) / d
		row.WireBytesPerMsg = row.AppBytesPerMsg + row.SegsPerMsg*tcpHeaderBytes
		row.BrokerCPUus = bcpu / d * 1e6
		row.TotalCPUus = (bcpu + res.GenCPUSecs) / d * 1e6
	}
	row.Rate, row.P50, row.P99 = res.DeliverRate, res.Latency.P50, res.Latency.P99
	return row
}

// claimsMarkdown renders the claims table.
func claimsMarkdown(rows []ClaimRow) string {
	var b strings.Builder
	b.WriteString("## MQTT vs HTTP: the textbook claims, measured\n\n" +
		"One publisher, one subscriber, 64-byte payloads, flat out, on the same machine. Bytes per message are all " +
		"application bytes the generator's sockets wrote and read (publisher→broker plus broker→subscriber, " +
		"connection setup, acknowledgements and HTTP headers included) divided by messages delivered; wire bytes add " +
		"52 bytes of IPv4+TCP header for every TCP segment of the generator's connections (TCP_INFO segs_out + segs_in " +
		"of each socket read just before it closes: handshakes, ACKs and payload segments, not the final FIN exchange). HTTP delivery is Server-Sent Events with base64 payloads. " +
		"CPU is microseconds of CPU per delivered message: the broker process alone, and broker plus generator.\n\n")
	b.WriteString("| variant | target | messages | delivered | lost | app bytes/msg | TCP segments/msg | wire bytes/msg | msg/s | p50 µs | p99 µs | broker CPU µs/msg | total CPU µs/msg |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(&b, "| %s | %s | %d | error: %s ||||||||||\n", r.Variant, r.Target, r.Messages, oneLine(r.Error))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %.1f | %.2f | %.1f | %.0f | %d | %d | %.1f | %.1f |\n",
			r.Variant, r.Target, r.Messages, r.Delivered, r.Lost, r.AppBytesPerMsg, r.SegsPerMsg, r.WireBytesPerMsg,
			r.Rate, r.P50, r.P99, r.BrokerCPUus, r.TotalCPUus)
	}
	return b.String()
}
