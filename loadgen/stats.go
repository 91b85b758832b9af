package loadgen

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1 µs to 60 s with three
// significant digits (values out of range are clamped).
const (
	histMin = 1
	histMax = 60_000_000
	histSig = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSig) }

// record adds one latency to h, clamped to its range.
func record(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMin {
		us = histMin
	} else if us > histMax {
		us = histMax
	}
	_ = h.RecordValue(us) // cannot fail: the value is clamped into range
}

// counters are one loop's running totals: written by the loop, read by the
// reporter, so every field is atomic.
type counters struct {
	connected, connFailed, ready    atomic.Int64
	sent, acked, delivered          atomic.Int64
	duplicated, outOfOrder, errors  atomic.Int64
	bytesOut, bytesIn, retainedDone atomic.Int64
	segments                        atomic.Int64 // TCP segments both ways, read from TCP_INFO at close
	foreign                         atomic.Int64 // deliveries not stamped by this run
	lastDelivery                    atomic.Int64 // Unix nanos of the latest delivery
	lastAck                         atomic.Int64 // Unix nanos of the latest PUBACK / PUBCOMP
	// leaving, away, back and resumed count persistent subscribers that
	// sent DISCONNECT, saw the broker close, reconnected, and found their
	// session kept (Offline).
	leaving, away, back, resumed atomic.Int64
}

// loopStats is what one loop measures. mu guards the histograms.
type loopStats struct {
	counters
	mu       sync.Mutex
	latency  *hdrhistogram.Histogram // whole run, except the current interval
	interval *hdrhistogram.Histogram // since the last progress line (folded into latency then)
	connect  *hdrhistogram.Histogram // TCP connect start to CONNACK (to SUBACK for subscribers)
}

func newLoopStats() *loopStats {
	return &loopStats{latency: newHist(), interval: newHist(), connect: newHist()}
}

// Percentiles summarises a latency histogram in microseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	P50   int64   `json:"p50_us"`
	P90   int64   `json:"p90_us"`
	P99   int64   `json:"p99_us"`
	P999  int64   `json:"p999_us"`
	Max   int64   `json:"max_us"`
	Mean  float64 `json:"mean_us"`
}

func percentiles(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.TotalCount(),
		P50:   h.ValueAtQuantile(50),
		P90:   h.ValueAtQuantile(90),
		P99:   h.ValueAtQuantile(99),
		P999:  h.ValueAtQuantile(99.9),
		Max:   h.Max(),
		Mean:  h.Mean(),
	}
}

// Result is the outcome of one run, written as the last JSON line.
type Result struct {
	Type string `json:"type"` // always "result"
	Mode Mode   `json:"mode"`
	Addr string `json:"addr"`

	Publishers  int `json:"publishers"`
	Subscribers int `json:"subscribers"`
	Conns       int `json:"conns"`
	QoS         int `json:"qos"`
	PayloadSize int `json:"payload_size"`

	// Connected counts clients that reached CONNACK; ConnectFailed those
	// that did not (refused, reset, timed out).
	Connected     int64       `json:"connected"`
	ConnectFailed int64       `json:"connect_failed"`
	ConnectSecs   float64     `json:"connect_secs"` // time until every client was ready
	ConnectRate   float64     `json:"connect_rate"` // connections per second while connecting
	ConnectLat    Percentiles `json:"connect_latency"`

	// Sent counts PUBLISH packets written; Acked those completed by
	// PUBACK / PUBCOMP (QoS 1/2).
	Sent  int64 `json:"sent"`
	Acked int64 `json:"acked"`
	// Expected is how many deliveries the subscribers should have seen
	// (-1 when unknown, as in sub mode).
	Expected   int64 `json:"expected"`
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Duplicated int64 `json:"duplicated"`
	OutOfOrder int64 `json:"out_of_order"`
	Errors     int64 `json:"errors"`
	// Foreign counts deliveries not stamped by this run (left over from
	// an earlier run or published by someone else); they are ignored.
	Foreign int64 `json:"foreign"`
	// RetainedDone counts subscribers that received ExpectRetained messages.
	RetainedDone int64 `json:"retained_done,omitempty"`

	PublishSecs float64     `json:"publish_secs"` // publish phase length
	DeliverSecs float64     `json:"deliver_secs"` // first publish to last delivery
	SendRate    float64     `json:"send_rate"`    // Sent / PublishSecs
	DeliverRate float64     `json:"deliver_rate"` // Delivered / DeliverSecs
	Latency     Percentiles `json:"latency"`

	// AckSecs is the time from the first publish to the last PUBACK /
	// PUBCOMP and AckRate is Acked / AckSecs: the acknowledged publish
	// rate (QoS 1/2; with Offline, the rate while the subscribers are away).
	AckSecs float64 `json:"ack_secs,omitempty"`
	AckRate float64 `json:"ack_rate,omitempty"`
	// Offline runs: Away counts subscribers that left (the broker closed
	// their connection after DISCONNECT), Back those that reconnected and
	// Resumed those whose session the broker had kept. DrainSecs is the
	// time from the reconnect to the last delivery and DrainRate the
	// deliveries (duplicates left out) per second over it.
	Away      int64   `json:"away,omitempty"`
	Back      int64   `json:"back,omitempty"`
	Resumed   int64   `json:"resumed,omitempty"`
	DrainSecs float64 `json:"drain_secs,omitempty"`
	DrainRate float64 `json:"drain_rate,omitempty"`

	BytesOut int64 `json:"bytes_out"`
	BytesIn  int64 `json:"bytes_in"`
	// Segments is the number of TCP segments sent and received on the
	// generator's sockets (TCP_INFO segs_out + segs_in, read just before
	// each close), so handshakes, ACKs and headers can be counted. It is
	// 0 off Linux, which Note then says.
	Segments int64 `json:"tcp_segments"`
	// GenCPUSecs is the CPU time (user+system) the generator process used
	// during the run, so its own share of a small machine is visible.
	GenCPUSecs float64 `json:"gen_cpu_secs"`
	Elapsed    float64 `json:"elapsed_secs"`
	// FileLimit is the open-file soft limit during the run.
	FileLimit uint64 `json:"file_limit"`
	// Note carries warnings, e.g. a file limit that could not be raised.
	Note string `json:"note,omitempty"`

	// NotReady counts clients neither ready nor failed when the connect
	// phase ended (ConnectTimeout: no CONNACK or SUBACK in time).
	NotReady int64 `json:"not_ready,omitempty"`
	// Failures says why clients failed to connect or lost their
	// connection, most frequent first, each with its count:
	// "connect: connection refused (11); CONNACK 0x86 bad user name or
	// password (1)". Empty when none did.
	Failures string `json:"failures,omitempty"`
}

// addNote appends s (if not empty) to r.Note, separated by "; ".
func (r *Result) addNote(s string) {
	switch {
	case s == "":
	case r.Note == "":
		r.Note = s
	default:
		r.Note += "; " + s
	}
}

// Progress is one per-second JSON line.
type Progress struct {
	Type      string  `json:"type"` // always "progress"
	Elapsed   float64 `json:"elapsed_secs"`
	Connected int64   `json:"connected"`
	// Ready counts the clients ready to work: subscribers once their
	// SUBACK is in, the others once connected.
	Ready       int64   `json:"ready"`
	Sent        int64   `json:"sent"`
	Delivered   int64   `json:"delivered"`
	SendRate    float64 `json:"send_rate"`
	DeliverRate float64 `json:"deliver_rate"`
	P99         int64   `json:"p99_us"`
	Errors      int64   `json:"errors"`
}
