package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gust-mqtt/gust/codec"
)

// FloorRelay is the floor of the comparison: not a broker but the least a
// broker must do, so a table shows how far the generator and the kernel let
// any broker go on this machine. It reads MQTT frames from each socket and
// copies every PUBLISH frame, unchanged, to the sockets whose subscriptions
// match its topic. Beyond framing it answers only what keeps clients going:
// CONNACK, SUBACK, UNSUBACK, PINGRESP and PUBACK for a QoS 1 publish. It
// keeps no session, retains nothing, checks nothing, ignores the
// subscribers' acknowledgements and QoS 2, and serves shared subscriptions
// as plain ones; a subscriber that cannot keep up stops the publishers
// sending to it (nothing is dropped). Safe from any goroutine.
//
// Each connection has a reader goroutine and a writer goroutine: a
// benchmark tool, not the broker's data path. A reader appends the frames
// of one read to the outboxes they go to, consecutive frames with the same
// destinations in one append per outbox, and wakes each outbox's writer
// once, so one write carries everything that arrived meanwhile.
type FloorRelay struct {
	mu   sync.RWMutex
	subs []floorSub
	gen  atomic.Uint64 // bumped on every change of subs
}

type floorSub struct {
	filter string
	out    *outbox
}

// Floor bounds.
const (
	// floorPending is the most bytes an outbox holds before the readers
	// appending to it wait for its writer (backpressure, not loss).
	floorPending = 1 << 20
	// floorMaxFrame is the largest frame the relay reads; a larger one
	// closes the connection.
	floorMaxFrame = 1 << 20
	// floorRead is the read buffer of a connection.
	floorRead = 64 << 10
)

// errFloorFrame closes a connection whose frame the relay cannot read.
var errFloorFrame = errors.New("bench: floor: malformed or oversize frame")

// NewFloorRelay returns a relay with no subscriptions.
func NewFloorRelay() *FloorRelay { return &FloorRelay{} }

// ServeFloor runs a FloorRelay on addr until ctx ends.
func ServeFloor(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); _ = ln.Close() }()
	return NewFloorRelay().Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx ends or ln is closed; it
// returns nil then. Accept errors other than the close are retried.
func (f *FloorRelay) Serve(ctx context.Context, ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			continue
		}
		go f.serveConn(c)
	}
}

// outbox is the bytes waiting to be written to one connection.
type outbox struct {
	mu      sync.Mutex
	space   sync.Cond // signalled when pending is taken by the writer
	pending []byte
	closed  bool
	wake    chan struct{} // capacity 1: the writer has work
}

func newOutbox() *outbox {
	o := &outbox{wake: make(chan struct{}, 1), pending: make([]byte, 0, floorRead)}
	o.space.L = &o.mu
	return o
}

// add appends frame, waiting while the outbox is full. It reports whether
// the outbox was empty (its writer needs waking once the caller's batch
// is appended).
func (o *outbox) add(frame []byte) (wasEmpty bool) {
	o.mu.Lock()
	for len(o.pending) >= floorPending && !o.closed {
		o.kick()
		o.space.Wait()
	}
	if o.closed {
		o.mu.Unlock()
		return false
	}
	wasEmpty = len(o.pending) == 0
	o.pending = append(o.pending, frame...)
	o.mu.Unlock()
	return wasEmpty
}

// kick wakes the writer without blocking.
func (o *outbox) kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.space.Broadcast()
	o.mu.Unlock()
	o.kick()
}

// writeLoop writes the outbox to c until it is closed or a write fails.
func (o *outbox) writeLoop(c net.Conn) {
	spare := make([]byte, 0, floorRead)
	for range o.wake {
		o.mu.Lock()
		buf, closed := o.pending, o.closed
		o.pending = spare[:0]
		o.space.Broadcast()
		o.mu.Unlock()
		if closed {
			return
		}
		if len(buf) > 0 {
			if _, err := c.Write(buf); err != nil {
				_ = c.Close()
				o.close()
				return
			}
		}
		spare = buf
	}
}

// floorConn is a connection's reader state.
type floorConn struct {
	f       *FloorRelay
	out     *outbox
	v5      bool
	gen     uint64
	routes  map[string][]*outbox // topic -> outboxes, valid while gen is f.gen
	touched []*outbox
	// run is consecutive PUBLISH frames of the current read with the same
	// destinations (runOuts), not yet appended to them.
	run     []byte
	runOuts []*outbox
	acks    []byte // PUBACKs of the current read, not yet appended to out
}

func (f *FloorRelay) serveConn(c net.Conn) {
	fc := &floorConn{f: f, out: newOutbox(), routes: map[string][]*outbox{}}
	go fc.out.writeLoop(c)
	defer func() {
		_ = c.Close()
		fc.out.close()
		f.unsubscribeAll(fc.out)
	}()
	buf := make([]byte, floorRead)
	have := 0
	for {
		n, err := c.Read(buf[have:])
		if n == 0 && err != nil {
			return
		}
		have += n
		used, err := fc.frames(buf[:have])
		if err != nil {
			return
		}
		have = copy(buf, buf[used:have])
		if have == len(buf) {
			if len(buf) >= floorMaxFrame+8 {
				return
			}
			buf = append(buf, make([]byte, len(buf))...)
		}
	}
}

// frames handles every whole frame at the start of b and wakes the
// writers it gave work to; it returns the bytes used.
func (fc *floorConn) frames(b []byte) (int, error) {
	used := 0
	defer fc.flush()
	for used < len(b) {
		t, _, n, err := codec.PacketLen(b[used:], floorMaxFrame)
		if errors.Is(err, codec.ErrIncomplete) {
			return used, nil
		}
		if err != nil {
			return used, errFloorFrame
		}
		if err := fc.frame(t, b[used:used+n]); err != nil {
			return used, err
		}
		used += n
	}
	return used, nil
}

func (fc *floorConn) flush() {
	fc.flushRun()
	if len(fc.acks) > 0 {
		fc.send(fc.out, fc.acks)
		fc.acks = fc.acks[:0]
	}
	for _, o := range fc.touched {
		o.kick()
	}
	fc.touched = fc.touched[:0]
}

// flushRun appends the pending run of frames to its outboxes.
func (fc *floorConn) flushRun() {
	for _, o := range fc.runOuts {
		fc.send(o, fc.run)
	}
	fc.run, fc.runOuts = nil, nil
}

// sameOuts reports whether a and b are the same cached route.
func sameOuts(a, b []*outbox) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func (fc *floorConn) send(o *outbox, frame []byte) {
	if o.add(frame) {
		fc.touched = append(fc.touched, o)
	}
}

// frame handles one whole frame pkt of type t.
func (fc *floorConn) frame(t codec.Type, pkt []byte) error {
	body := pkt[headerLen(pkt):]
	if t != codec.TypePublish {
		fc.flush() // in order with the frames before it
	}
	switch t {
	case codec.TypeConnect:
		// Protocol name (2-byte length + bytes), then the level.
		if len(body) < 2 {
			return errFloorFrame
		}
		at := 2 + int(binary.BigEndian.Uint16(body))
		if at >= len(body) {
			return errFloorFrame
		}
		fc.v5 = body[at] == 5
		if fc.v5 {
			fc.send(fc.out, []byte{0x20, 3, 0, 0, 0})
		} else {
			fc.send(fc.out, []byte{0x20, 2, 0, 0})
		}
	case codec.TypePublish:
		return fc.publish(pkt, body)
	case codec.TypeSubscribe:
		return fc.subscribe(body)
	case codec.TypeUnsubscribe:
		if len(body) < 2 {
			return errFloorFrame
		}
		fc.f.unsubscribeAll(fc.out) // the scenarios subscribe once per connection
		ack := []byte{0xb0, 2, body[0], body[1]}
		if fc.v5 {
			ack = []byte{0xb0, 4, body[0], body[1], 0, 0}
		}
		fc.send(fc.out, ack)
	case codec.TypePingreq:
		fc.send(fc.out, []byte{0xd0, 0})
	case codec.TypeDisconnect:
		return errFloorFrame
	}
	return nil // acknowledgements from subscribers, QoS 2 flows: ignored
}

// headerLen is the length of pkt's fixed header (pkt is a whole frame).
func headerLen(pkt []byte) int {
	n := 2
	for n < len(pkt) && n < 5 && pkt[n-1]&0x80 != 0 {
		n++
	}
	return n
}

func (fc *floorConn) publish(pkt, body []byte) error {
	if len(body) < 2 {
		return errFloorFrame
	}
	tl := int(binary.BigEndian.Uint16(body))
	if 2+tl > len(body) {
		return errFloorFrame
	}
	topic := body[2 : 2+tl]
	if qos := pkt[0] >> 1 & 3; qos == 1 {
		if len(body) < 4+tl {
			return errFloorFrame
		}
		fc.acks = append(fc.acks, 0x40, 2, body[2+tl], body[3+tl])
	}
	if g := fc.f.gen.Load(); g != fc.gen {
		clear(fc.routes)
		fc.gen = g
	}
	outs, ok := fc.routes[string(topic)]
	if !ok {
		outs = fc.f.match(string(topic))
		fc.routes[string(topic)] = outs
	}
	// pkt lies in the read buffer right after the run when they are
	// consecutive frames of this read.
	if len(fc.run) > 0 && cap(fc.run) > len(fc.run) && sameOuts(outs, fc.runOuts) && &fc.run[:len(fc.run)+1][len(fc.run)] == &pkt[0] {
		fc.run = fc.run[:len(fc.run)+len(pkt)]
		return nil
	}
	fc.flushRun()
	fc.run, fc.runOuts = pkt, outs
	return nil
}

func (fc *floorConn) subscribe(body []byte) error {
	if len(body) < 2 {
		return errFloorFrame
	}
	ack := []byte{0x90, 0, body[0], body[1]}
	at := 2
	if fc.v5 {
		ack = append(ack, 0)
		plen, n := uvarint(body[at:])
		if n == 0 {
			return errFloorFrame
		}
		at += n + plen
	}
	var filters []string
	for at+2 <= len(body) {
		fl := int(binary.BigEndian.Uint16(body[at:]))
		if at+2+fl >= len(body) {
			return errFloorFrame
		}
		filters = append(filters, string(body[at+2:at+2+fl]))
		ack = append(ack, body[at+2+fl]&3)
		at += 3 + fl
	}
	if len(filters) == 0 || len(ack) > 127 {
		return errFloorFrame
	}
	ack[1] = byte(len(ack) - 2)
	fc.f.mu.Lock()
	for _, fl := range filters {
		if rest, ok := strings.CutPrefix(fl, "$share/"); ok {
			_, fl, _ = strings.Cut(rest, "/") // $share/group/filter
		}
		fc.f.subs = append(fc.f.subs, floorSub{filter: fl, out: fc.out})
	}
	fc.f.gen.Add(1)
	fc.f.mu.Unlock()
	fc.send(fc.out, ack)
	return nil
}

// uvarint decodes an MQTT variable byte integer; n is 0 when b holds none.
func uvarint(b []byte) (v, n int) {
	for i := 0; i < 4 && i < len(b); i++ {
		v |= int(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

// match returns the outboxes whose filters match topic, once each.
func (f *FloorRelay) match(topic string) []*outbox {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []*outbox
	for _, s := range f.subs {
		if topicMatch(s.filter, topic) && !containsOutbox(out, s.out) {
			out = append(out, s.out)
		}
	}
	return out
}

func containsOutbox(os []*outbox, o *outbox) bool {
	for _, x := range os {
		if x == o {
			return true
		}
	}
	return false
}

func (f *FloorRelay) unsubscribeAll(o *outbox) {
	f.mu.Lock()
	kept := f.subs[:0]
	for _, s := range f.subs {
		if s.out != o {
			kept = append(kept, s)
		}
	}
	clear(f.subs[len(kept):])
	f.subs = kept
	f.gen.Add(1)
	f.mu.Unlock()
}

// topicMatch reports whether the MQTT filter matches topic (+ one level,
// # the rest; no $-topic rule: the relay serves only the generator).
func topicMatch(filter, topic string) bool {
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		switch fl {
		case "#":
			return true
		case "+":
		default:
			tl, _, _ := strings.Cut(topic, "/")
			if fl != tl {
				return false
			}
		}
		_, trest, tmore := strings.Cut(topic, "/")
		if !fmore || !tmore {
			return fmore == tmore || (!tmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}
