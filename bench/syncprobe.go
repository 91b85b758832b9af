package bench

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// sysProbeInterval is the $SYS period the harness gives a durable Gust,
// so its fsync counter is read five times a second during a run.
const sysProbeInterval = 200 * time.Millisecond

// syncsTopic is where Gust publishes its store's fsync count.
const syncsTopic = "$SYS/broker/store/syncs"

// maxSyncSamples bounds the samples a probe keeps (over 3 hours at
// sysProbeInterval); later ones are dropped.
const maxSyncSamples = 1 << 16

// maxProbePacket bounds one packet the probe reads; a $SYS counter is a
// few bytes.
const maxProbePacket = 4096

// errProbePacket means the broker sent the probe a packet it cannot use.
var errProbePacket = errors.New("bench: unexpected packet on the $SYS probe")

// syncSample is one publication of the fsync counter and when it came.
type syncSample struct {
	at    time.Time
	syncs uint64
}

// syncProbe is an MQTT subscriber to syncsTopic that records every live
// publication (not the retained copy sent on subscribing, whose time is
// unknown). Safe from any goroutine; stop is called once.
type syncProbe struct {
	conn     net.Conn
	finished chan struct{}
	mu       sync.Mutex
	samples  []syncSample
}

// startSyncProbe connects to the broker at addr and subscribes.
func startSyncProbe(addr string) (*syncProbe, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	id := "gust-bench-syncs-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	out := codec.AppendConnect(nil, &codec.Connect{Version: codec.V311, CleanStart: true, ClientID: []byte(id)})
	sub := codec.Subscribe{PacketID: 1, Filters: []codec.Subscription{{Filter: []byte(syncsTopic)}}}
	out = codec.AppendSubscribe(out, codec.V311, &sub)
	if _, err := c.Write(out); err != nil {
		_ = c.Close()
		return nil, err
	}
	p := &syncProbe{conn: c, finished: make(chan struct{})}
	go p.read()
	return p, nil
}

// read handles packets until the connection closes.
func (p *syncProbe) read() {
	defer close(p.finished)
	var buf []byte
	rd := make([]byte, 1024)
	for {
		n, err := p.conn.Read(rd)
		if err != nil {
			return
		}
		buf = append(buf, rd[:n]...)
		used, err := p.handle(buf, time.Now())
		if err != nil {
			return
		}
		buf = buf[:copy(buf, buf[used:])]
	}
}

// handle records the counter of every whole live PUBLISH at the start of
// b and returns how many bytes it used.
func (p *syncProbe) handle(b []byte, now time.Time) (int, error) {
	used := 0
	for used < len(b) {
		t, _, n, err := codec.PacketLen(b[used:], maxProbePacket)
		if err == codec.ErrIncomplete {
			return used, nil
		}
		if err != nil {
			return used, err
		}
		switch t {
		case codec.TypePublish:
			var pub codec.Publish
			if _, err := codec.DecodePublish(b[used:used+n], codec.V311, &pub); err != nil {
				return used, err
			}
			if v, err := strconv.ParseUint(string(pub.Payload), 10, 64); err == nil && !pub.Retain && string(pub.Topic) == syncsTopic {
				p.add(syncSample{at: now, syncs: v})
			}
		case codec.TypeConnack, codec.TypeSuback:
		default:
			return used, errProbePacket
		}
		used += n
	}
	return used, nil
}

func (p *syncProbe) add(s syncSample) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.samples) < maxSyncSamples {
		p.samples = append(p.samples, s)
	}
}

// stop disconnects and returns the samples, oldest first.
func (p *syncProbe) stop() []syncSample {
	_, _ = p.conn.Write(codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
	_ = p.conn.Close()
	<-p.finished
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.samples
}

// fsyncRate is the fsyncs per second between the first and the last
// sample taken within [from, to]; ok is false with fewer than two such
// samples (a run too short for the $SYS period) or a counter that went
// backwards (a restarted broker).
func fsyncRate(samples []syncSample, from, to time.Time) (rate float64, ok bool) {
	var first, last *syncSample
	for i := range samples {
		s := &samples[i]
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		if first == nil {
			first = s
		}
		last = s
	}
	if first == nil || first == last || last.syncs < first.syncs {
		return 0, false
	}
	secs := last.at.Sub(first.at).Seconds()
	if secs <= 0 {
		return 0, false
	}
	return float64(last.syncs-first.syncs) / secs, true
}
