package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The HTTP baseline protocol (served by bench's HTTP broker):
//
//	POST /pub?topic=T     body = payload; 204 once handed to subscribers
//	GET  /sub?filter=F    Server-Sent Events: ": ok" once subscribed, then
//	                      one "data: <base64 payload>" event per message
//
// RunHTTP drives it with the same Config, stamps and histograms as the
// MQTT generator, with goroutines and net/http (the baseline is a
// reference point, not the thing being optimised).

// countingConn counts the bytes read and written on one socket.
type countingConn struct {
	net.Conn
	in, out, segs *atomic.Int64
}

// Read reads from the socket and counts the bytes.
func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Add(int64(n))
	return n, err
}

// Close adds the socket's TCP segment counts before closing it.
func (c countingConn) Close() error {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) { c.segs.Add(tcpSegments(int(fd))) })
		}
	}
	return c.Conn.Close()
}

// Write writes to the socket and counts the bytes.
func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// httpRun is the shared state of one RunHTTP.
type httpRun struct {
	cfg      *Config
	base     string
	start    time.Time
	in, out  atomic.Int64
	segs     atomic.Int64
	conns    atomic.Int64
	st       *loopStats
	expected atomic.Int64
	ready    sync.WaitGroup
	stopPub  atomic.Bool
}

func (h *httpRun) client(keepAlive bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	tr := &http.Transport{
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			h.conns.Add(1)
			return countingConn{Conn: c, in: &h.in, out: &h.out, segs: &h.segs}, nil
		},
	}
	return &http.Client{Transport: tr}
}

// RunHTTP runs cfg (pubsub mode) against the HTTP baseline broker at
// cfg.Addr. keepAlive selects persistent connections for publishes;
// without it every POST opens and closes a TCP connection.
func RunHTTP(ctx context.Context, cfg Config, keepAlive bool) (*Result, error) {
	cfg.Mode = ModePubSub
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	h := &httpRun{cfg: &cfg, base: "http://" + cfg.Addr, st: newLoopStats()}
	cpu0 := cpuSeconds()
	h.start = time.Now()
	subCtx, cancelSubs := context.WithCancel(ctx)
	defer cancelSubs()
	var subs sync.WaitGroup
	for i := 0; i < cfg.Subscribers; i++ {
		h.ready.Add(1)
		subs.Add(1)
		go func() { defer subs.Done(); h.subscribe(subCtx, i) }()
	}
	h.ready.Wait()
	ready := time.Now()
	recv := newReceivers(&cfg)
	var pubs sync.WaitGroup
	var sent atomic.Int64
	pubStart := time.Now()
	for i := 0; i < cfg.Publishers; i++ {
		pubs.Add(1)
		go func() { defer pubs.Done(); h.publish(ctx, i, keepAlive, recv, &sent) }()
	}
	timer := time.AfterFunc(cfg.Duration, func() { h.stopPub.Store(true) })
	pubs.Wait()
	timer.Stop()
	pubEnd := time.Now()
	wait(ctx, pubEnd.Add(cfg.Drain), func() bool {
		return h.st.delivered.Load()-h.st.duplicated.Load() >= h.expected.Load()
	})
	end := time.Now()
	cancelSubs()
	subs.Wait()
	r := &runner{cfg: &cfg, loops: []*loop{{st: h.st}}}
	r.expected.Store(h.expected.Load())
	res := r.result(phaseTimes{ready: ready, pubStart: pubStart, pubEnd: pubEnd, end: end}, h.start)
	res.Mode = "http"
	res.Connected = h.conns.Load()
	res.BytesIn, res.BytesOut, res.Segments = h.in.Load(), h.out.Load(), h.segs.Load()
	res.GenCPUSecs = cpuSeconds() - cpu0
	if !keepAlive {
		res.addNote("HTTP without keep-alive: one TCP connection per publish")
	}
	res.addNote(segmentsNote)
	return res, nil
}

// subscribe holds one SSE stream until ctx ends.
func (h *httpRun) subscribe(ctx context.Context, i int) {
	signalled := false
	defer func() {
		if !signalled {
			h.st.connFailed.Add(1)
			h.ready.Done()
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		h.base+"/sub?filter="+url.QueryEscape(expand(h.cfg.SubTopic, i, 0)), nil)
	if err != nil {
		return
	}
	t0 := time.Now()
	resp, err := h.client(true).Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	rd := bufio.NewReaderSize(resp.Body, 64<<10)
	wins := map[uint32]*seqWindow{}
	buf := make([]byte, h.cfg.PayloadSize+16)
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return
		}
		if bytes.HasPrefix(line, []byte(": ok")) && !signalled {
			signalled = true
			h.st.mu.Lock()
			record(h.st.connect, time.Since(t0))
			h.st.mu.Unlock()
			h.st.ready.Add(1)
			h.ready.Done()
			continue
		}
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		n, err := base64.StdEncoding.Decode(buf[:cap(buf)], bytes.TrimSpace(data))
		if err != nil {
			h.st.errors.Add(1)
			continue
		}
		h.deliver(buf[:n], wins)
	}
}

// deliver classifies one delivered payload.
func (h *httpRun) deliver(p []byte, wins map[uint32]*seqWindow) {
	now := time.Now()
	sent, pub, seq, ok := readStamp(p)
	if !ok || sent < h.start.UnixNano() {
		h.st.foreign.Add(1)
		return
	}
	h.st.delivered.Add(1)
	h.st.lastDelivery.Store(now.UnixNano())
	w := wins[pub]
	if w == nil {
		w = &seqWindow{}
		wins[pub] = w
	}
	switch w.add(seq) {
	case seqDuplicate:
		h.st.duplicated.Add(1)
		return
	case seqOutOfOrder:
		h.st.outOfOrder.Add(1)
	}
	h.st.mu.Lock()
	record(h.st.latency, now.Sub(time.Unix(0, sent)))
	h.st.mu.Unlock()
}

// publish POSTs stamped messages until the count or the duration ends.
func (h *httpRun) publish(ctx context.Context, i int, keepAlive bool, recv *receivers, sent *atomic.Int64) {
	cfg := h.cfg
	cl := h.client(keepAlive)
	topic := expand(cfg.PubTopic, i, 0)
	n := recv.count(topic)
	u := h.base + "/pub?topic=" + url.QueryEscape(topic)
	payload := make([]byte, cfg.PayloadSize)
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	next := time.Now()
	for seq := 0; (cfg.Count == 0 || seq < cfg.Count) && !h.stopPub.Load() && ctx.Err() == nil; seq++ {
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			next = next.Add(interval)
		}
		putStamp(payload, time.Now().UnixNano(), uint32(i), uint32(seq))
		resp, err := cl.Post(u, "application/octet-stream", bytes.NewReader(payload))
		if err != nil {
			h.st.errors.Add(1)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		h.st.sent.Add(1)
		h.expected.Add(n)
		if resp.StatusCode/100 == 2 {
			h.st.acked.Add(1)
		} else {
			h.st.errors.Add(1)
		}
	}
	cl.CloseIdleConnections()
}
