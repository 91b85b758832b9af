//go:build linux

package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gust-mqtt/gust/engine/network/uring"
)

// Uring is the Poller on io_uring: each loop owns a ring (single issuer,
// deferred task work) on a goroutine locked to its thread. A connection
// has one multishot RECV armed that picks its buffers from the loop's
// provided-buffer ring, so an idle connection holds no receive buffer; the
// engine's writes of a loop round are copied into fixed-size chunks from
// the loop's pool, queued per connection, and submitted together, as one
// SEND (one chunk) or SENDMSG (several) per connection, with the round's
// single io_uring_enter (which also waits for the next completions). Wake
// writes the loop's eventfd, on which a READ is always armed.
type Uring struct {
	log *slog.Logger

	h     Handler
	loops []*uringLoop

	stopping atomic.Bool
	running  sync.WaitGroup
	done     chan struct{}
	errMu    sync.Mutex
	err      error
}

// NewUring returns a Poller on io_uring.
func NewUring(log *slog.Logger) *Uring {
	return &Uring{log: log, done: make(chan struct{})}
}

// The sizes of a loop's rings and receive buffers.
const (
	uringSQEntries  = 1024
	uringCQEntries  = 8192
	uringBufCount   = 128
	uringBufSize    = 16 << 10
	uringBufGroup   = 1
	uringKeepBuffer = 64 << 10 // a larger idle read buffer is released
	// Outbound bytes wait in chunks of uringChunk; a loop keeps up to
	// uringChunkPool free ones for reuse. A SEND takes at most
	// uringSendIovs chunks (one io_uring SENDMSG), and a submission batch
	// at most uringIovs of them in all (the iovecs the loop keeps for
	// the kernel to read when it takes the batch).
	uringChunk     = 16 << 10
	uringChunkPool = 1024
	uringSendIovs  = 64
	uringIovs      = 4096
	// uringRoundWrite is how many bytes a connection may have queued in a
	// round, with no SEND before them, before the excess counts as
	// outbound: about what a socket with room takes at once.
	uringRoundWrite = 64 << 10
)

// User data of a request: kind in the top byte, then the connection's
// generation (24 bits) and its slot (32 bits).
const (
	kindRecv uint64 = iota + 1
	kindSend
	kindWake
	kindCancel
)

func userData(kind uint64, slot, gen uint32) uint64 {
	return kind<<56 | uint64(gen&0xffffff)<<32 | uint64(slot)
}

// uringLoop is one loop of Uring.
type uringLoop struct {
	u   *Uring
	idx int

	ring *uring.Ring
	bufs *uring.BufRing

	eventFD atomic.Int32 // -1 once closed (by Stop, after the loop returned)
	wakeBuf [8]byte      // the armed eventfd READ's target
	rung    atomic.Bool  // the eventfd is written and not yet read: no need to write it again
	asked   atomic.Bool  // Wake was called: OnWake is due

	mu     sync.Mutex
	tasks  []uringTask
	spare  []uringTask
	closed bool // no more tasks: the loop is stopping or stopped

	conns []*uringConn // by slot; nil when free
	gens  []uint32     // by slot: the generation of its last connection
	free  []uint32
	dirty []*uringConn // connections with writes to submit
	// The RECVs that ended are armed again at the end of the round:
	// first those that found no buffer (starved, oldest first), for one
	// buffer each, then those that ended with bytes (fed), multishot. A
	// RECV submitted earlier takes buffers first, and a multishot one
	// takes many: in this order every starved connection gets a buffer
	// within a few rounds, however many others keep bytes waiting.
	starved []*uringConn
	fed     []*uringConn
	woken   bool

	chunks [][]byte // free outbound chunks
	// iovs and msgs back the SENDMSGs prepared since the kernel last took
	// every entry; the kernel copies them when it takes one (stable
	// submission), so they are reused from the start once it has.
	iovs    *[uringIovs]unix.Iovec
	msgs    *[uringSQEntries]unix.Msghdr
	iovUsed int
	msgUsed int

	// view is the provided buffer being handed to viewConn's OnTraffic
	// when it had no bytes left over (traffic), consumed up to viewOff.
	// It lives in the loop, not in every connection: a connection has
	// one only during its callback, and a loop runs one at a time.
	view     []byte
	viewOff  int
	viewConn *uringConn
}

// uringTask is an Execute function or an adoption.
type uringTask struct {
	fn    func()
	adopt *uringAdopt
}

type uringAdopt struct {
	fd     int
	wrap   Wrap
	local  net.Addr
	failed func(error)
}

// Start creates n loops, each with its ring, and returns them once every
// ring is set up; a kernel without what they need fails Start with an
// error wrapping uring.ErrUnsupported.
func (u *Uring) Start(h Handler, n int) ([]Loop, error) {
	if n < 1 {
		return nil, fmt.Errorf("network: %d event loops", n)
	}
	u.h = h
	u.loops = make([]*uringLoop, n)
	ready := make(chan error, n)
	for i := range u.loops {
		l := &uringLoop{u: u, idx: i}
		l.eventFD.Store(-1)
		u.loops[i] = l
		u.running.Add(1)
		go l.run(ready)
	}
	var first error
	for range n {
		if err := <-ready; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		u.stop()
		u.running.Wait()
		u.closeEventFDs()
		close(u.done)
		return nil, first
	}
	go func() {
		u.running.Wait()
		close(u.done)
	}()
	loops := make([]Loop, n)
	for i, l := range u.loops {
		loops[i] = l
	}
	return loops, nil
}

// stop asks every loop to close its connections and return.
func (u *Uring) stop() {
	u.stopping.Store(true)
	for _, l := range u.loops {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		l.ringBell()
	}
}

// Stop stops the loops and waits for them, or for ctx. Once they have
// returned it closes their eventfds: until then a Wake may still write
// one, which must not be a recycled descriptor.
func (u *Uring) Stop(ctx context.Context) error {
	u.stop()
	select {
	case <-u.done:
		u.closeEventFDs()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed once every loop has returned.
func (u *Uring) Done() <-chan struct{} { return u.done }

// Err is why the loops stopped on their own, nil after Stop.
func (u *Uring) Err() error {
	select {
	case <-u.done:
		u.errMu.Lock()
		defer u.errMu.Unlock()
		return u.err
	default:
		return nil
	}
}

func (u *Uring) closeEventFDs() {
	for _, l := range u.loops {
		if fd := l.eventFD.Swap(-1); fd >= 0 {
			_ = unix.Close(int(fd))
		}
	}
}

func (u *Uring) fail(err error) {
	u.errMu.Lock()
	if u.err == nil {
		u.err = err
	}
	u.errMu.Unlock()
	u.stop()
}

// run is the loop's goroutine.
func (l *uringLoop) run(ready chan<- error) {
	defer l.u.running.Done()
	runtime.LockOSThread() // the ring's single issuer is this thread
	defer runtime.UnlockOSThread()
	if err := l.setup(); err != nil {
		l.release()
		ready <- err
		return
	}
	ready <- nil
	err := l.serve()
	l.shutdown()
	l.release()
	if err != nil {
		l.u.log.Error("io_uring loop failed", "loop", l.idx, "err", err)
		l.u.fail(fmt.Errorf("network: io_uring loop %d: %w", l.idx, err))
	}
}

func (l *uringLoop) setup() error {
	r, err := uring.New(uringSQEntries, uringCQEntries)
	if err != nil {
		return err
	}
	l.ring = r
	if err := r.ProbeOps(uring.OpRecv, uring.OpSend, uring.OpSendmsg, uring.OpRead, uring.OpAsyncCancel); err != nil {
		return err
	}
	b, err := r.NewBufRing(uringBufGroup, uringBufCount, uringBufSize)
	if err != nil {
		return err
	}
	l.bufs = b
	l.chunks = make([][]byte, 0, uringChunkPool)
	l.iovs = new([uringIovs]unix.Iovec)
	l.msgs = new([uringSQEntries]unix.Msghdr)
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("network: eventfd: %w", err)
	}
	l.eventFD.Store(int32(fd))
	if !l.armWake() {
		return errors.New("network: io_uring submission queue full at set-up")
	}
	return nil
}

func (l *uringLoop) release() {
	if l.bufs != nil {
		l.bufs.Close(l.ring)
		l.bufs = nil
	}
	if l.ring != nil {
		l.ring.Close()
		l.ring = nil
	}
}

// sqe returns a free submission entry, submitting what is queued when the
// queue is full.
func (l *uringLoop) sqe() *uring.SQE {
	if e := l.ring.GetSQE(); e != nil {
		return e
	}
	for {
		err := l.enter(0)
		if err == nil || err != unix.EINTR {
			break
		}
	}
	return l.ring.GetSQE()
}

// enter is Ring.Enter; once the kernel has taken every prepared entry the
// SENDMSG headers and iovecs are free again.
func (l *uringLoop) enter(wait uint32) error {
	err := l.ring.Enter(wait)
	if l.ring.Taken() {
		l.iovUsed, l.msgUsed = 0, 0
	}
	return err
}

// getChunk returns an empty outbound chunk.
func (l *uringLoop) getChunk() []byte {
	if n := len(l.chunks); n > 0 {
		b := l.chunks[n-1]
		l.chunks[n-1] = nil
		l.chunks = l.chunks[:n-1]
		return b
	}
	return make([]byte, 0, uringChunk)
}

// putChunk keeps b for reuse while the pool has room.
func (l *uringLoop) putChunk(b []byte) {
	if len(l.chunks) < cap(l.chunks) {
		l.chunks = append(l.chunks, b[:0])
	}
}

func (l *uringLoop) armWake() bool {
	e := l.sqe()
	if e == nil {
		return false
	}
	e.Opcode = uring.OpRead
	e.Fd = l.eventFD.Load()
	e.Addr = uint64(uintptr(unsafe.Pointer(&l.wakeBuf[0])))
	e.Len = uint32(len(l.wakeBuf))
	e.UserData = userData(kindWake, 0, 0)
	return true
}

// serve runs rounds until the Poller stops.
func (l *uringLoop) serve() error {
	for {
		if err := l.enter(1); err != nil && err != unix.EINTR && err != unix.EBUSY && err != unix.EAGAIN {
			return fmt.Errorf("io_uring_enter: %w", err)
		}
		for c := l.ring.Next(); c != nil; c = l.ring.Next() {
			cqe := *c
			l.ring.Advance()
			l.complete(&cqe)
		}
		l.bufs.Publish()
		l.starved = l.rearmAll(l.starved, false)
		l.fed = l.rearmAll(l.fed, true)
		if l.woken {
			l.woken = false
			l.rung.Store(false)
			if l.runTasks() {
				return nil
			}
			if l.asked.Swap(false) {
				l.u.h.OnWake(l.idx)
			}
		}
		l.flush()
	}
}

// complete handles one completion.
func (l *uringLoop) complete(cqe *uring.CQE) {
	kind := cqe.UserData >> 56
	if kind == kindWake {
		l.woken = true
		if !l.armWake() {
			l.u.log.Error("io_uring: cannot re-arm the wake-up read", "loop", l.idx)
		}
		return
	}
	slot := uint32(cqe.UserData)
	gen := uint32(cqe.UserData>>32) & 0xffffff
	var c *uringConn
	if int(slot) < len(l.conns) {
		c = l.conns[slot]
	}
	if c == nil || c.gen&0xffffff != gen {
		if cqe.Flags&uring.CQEBuffer != 0 {
			l.bufs.Recycle(uint16(cqe.Flags >> uring.CQEBufShift))
		}
		return
	}
	switch kind {
	case kindRecv:
		l.received(c, cqe)
	case kindSend:
		l.sent(c, cqe)
	case kindCancel:
		// the cancelled requests complete on their own
	}
}

// received handles a RECV completion of c.
func (l *uringLoop) received(c *uringConn, cqe *uring.CQE) {
	if cqe.Flags&uring.CQEMore == 0 {
		c.recvArmed = false
	}
	hasBuf := cqe.Flags&uring.CQEBuffer != 0
	bid := uint16(cqe.Flags >> uring.CQEBufShift)
	switch {
	case cqe.Res > 0 && hasBuf:
		if c.open {
			l.traffic(c, l.bufs.Buf(bid, int(cqe.Res)))
		}
		l.bufs.Recycle(bid)
	case cqe.Res == 0:
		if hasBuf {
			l.bufs.Recycle(bid)
		}
		c.closingDone = true // the peer is gone: no last message
		l.closeConn(c, io.EOF)
	case cqe.Res < 0:
		if hasBuf {
			l.bufs.Recycle(bid)
		}
		switch errno := unix.Errno(-cqe.Res); errno {
		case unix.ENOBUFS:
			if c.open {
				l.starved = append(l.starved, c)
			}
		case unix.ECANCELED:
			// PauseRead's cancel; a resume that came before this
			// completion found the RECV still armed, so arm it now.
			if c.open && !c.paused {
				l.starved = append(l.starved, c)
			}
		default:
			c.closingDone = true
			l.closeConn(c, fmt.Errorf("recv: %w", errno))
		}
	}
	if c.open && !c.recvArmed && !c.paused && cqe.Res > 0 {
		l.fed = append(l.fed, c)
	}
	l.maybeRelease(c)
}

// traffic hands p, freshly received, to the handler.
func (l *uringLoop) traffic(c *uringConn, p []byte) {
	// Unconsumed bytes move to the front only when p would not fit
	// behind them: a connection the handler reads a little of per
	// callback (a throttled publisher) is not shifted every time.
	if c.inOff > 0 && cap(c.in)-len(c.in) < len(p) {
		c.in = c.in[:copy(c.in, c.in[c.inOff:])]
		c.inOff = 0
	}
	if len(c.in) > 0 {
		c.in = append(c.in, p...)
	} else {
		l.view, l.viewOff, l.viewConn = p, 0, c
	}
	act, err := l.deliver(c)
	if l.viewConn == c { // keep what the handler left
		if rest := l.view[l.viewOff:]; len(rest) > 0 && c.open {
			c.in = append(c.in[:0], rest...)
		}
		l.view, l.viewOff, l.viewConn = nil, 0, nil
	}
	if act == Close {
		l.closeConn(c, err)
		return
	}
	if len(c.in) == 0 && cap(c.in) > uringKeepBuffer {
		c.in = nil
	}
}

// deliver passes c's new bytes to the Handler, through its Layer if it
// has one; a Layer's Fill error closes c after the Handler has had the
// bytes Fill added before it (the error is then returned, for OnClose).
func (l *uringLoop) deliver(c *uringConn) (Action, error) {
	if c.layer == nil {
		return l.u.h.OnTraffic(c), nil
	}
	n, err := c.layer.Fill()
	if n > 0 && c.open && l.u.h.OnTraffic(c.layer) == Close {
		if err == nil && c.open && !c.closingDone {
			c.layer.Closing()
		}
		c.closingDone = true
		return Close, nil
	}
	if err != nil {
		c.closingDone = true // the transport ended: no last message
		return Close, err
	}
	return None, nil
}

// sent handles a SEND completion of c.
func (l *uringLoop) sent(c *uringConn, cqe *uring.CQE) {
	c.sendBusy = false
	flight := c.flight
	c.flight = 0
	if cqe.Res < 0 {
		errno := unix.Errno(-cqe.Res)
		if c.open {
			c.closingDone = true
			l.closeConn(c, fmt.Errorf("send: %w", errno))
		}
		c.dropOut()
		l.maybeRelease(c)
		return
	}
	c.consume(int(cqe.Res))
	if !c.open {
		l.maybeRelease(c)
		return
	}
	switch {
	case cqe.Res < flight: // the rest of the SEND, and what queued behind it
		l.submitSend(c)
	case c.outLen > 0:
		c.behind = true
		l.markDirty(c)
	case c.shutWrite:
		_ = unix.Shutdown(int(c.fd), unix.SHUT_WR)
	}
}

// flush submits a SEND for every connection written to this round.
func (l *uringLoop) flush() {
	for i, c := range l.dirty {
		l.dirty[i] = nil
		c.isDirty = false
		if !c.open || c.sendBusy || c.outLen == 0 {
			continue
		}
		l.submitSend(c)
	}
	l.dirty = l.dirty[:0]
}

// submitSend submits c's unsent bytes, up to uringSendIovs chunks: a SEND
// from one chunk, a SENDMSG over several.
func (l *uringLoop) submitSend(c *uringConn) {
	n := min(len(c.out), uringSendIovs)
	if n > 1 && (l.iovUsed+n > len(l.iovs) || l.msgUsed == len(l.msgs)) {
		_ = l.enter(0) // the kernel takes the batch; its iovecs are free
		if l.iovUsed+n > len(l.iovs) || l.msgUsed == len(l.msgs) {
			n = 1
		}
	}
	e := l.sqe()
	if e == nil {
		l.closeConn(c, errors.New("io_uring submission queue full"))
		return
	}
	first := c.out[0][c.outOff:]
	e.Fd = c.fd
	e.OpFlags = unix.MSG_NOSIGNAL
	e.UserData = userData(kindSend, c.slot, c.gen)
	if n == 1 {
		e.Opcode = uring.OpSend
		e.Addr = uint64(uintptr(unsafe.Pointer(&first[0])))
		e.Len = uint32(len(first))
		c.flight = int32(len(first))
	} else {
		iov := l.iovs[l.iovUsed : l.iovUsed+n]
		l.iovUsed += n
		total := 0
		for i := range iov {
			b := c.out[i]
			if i == 0 {
				b = first
			}
			iov[i].Base = &b[0]
			iov[i].SetLen(len(b))
			total += len(b)
		}
		m := &l.msgs[l.msgUsed]
		l.msgUsed++
		*m = unix.Msghdr{Iov: &iov[0]}
		m.SetIovlen(n)
		e.Opcode = uring.OpSendmsg
		e.Addr = uint64(uintptr(unsafe.Pointer(m)))
		e.Len = 1
		c.flight = int32(total)
	}
	c.sendBusy, c.behind = true, false
}

func (l *uringLoop) markDirty(c *uringConn) {
	if !c.isDirty {
		c.isDirty = true
		l.dirty = append(l.dirty, c)
	}
}

// rearmAll arms a RECV, multishot or for one buffer, for each connection
// of cs still open, unpaused and without one, and returns cs emptied.
func (l *uringLoop) rearmAll(cs []*uringConn, multishot bool) []*uringConn {
	for i, c := range cs {
		cs[i] = nil
		if c.open && !c.recvArmed && !c.paused {
			l.armRecvShot(c, multishot)
		}
	}
	return cs[:0]
}

func (l *uringLoop) armRecv(c *uringConn) { l.armRecvShot(c, true) }

// armRecvShot arms c's RECV: multishot, or for one buffer (for a
// connection whose RECV found none: it takes its one buffer before the
// multishot RECVs submitted after it take the rest).
func (l *uringLoop) armRecvShot(c *uringConn, multishot bool) {
	e := l.sqe()
	if e == nil {
		l.closeConn(c, errors.New("io_uring submission queue full"))
		return
	}
	e.Opcode = uring.OpRecv
	e.Fd = c.fd
	e.Flags = uring.SqeBufferSelect
	if multishot {
		e.Ioprio = uring.RecvMultishot
	}
	e.BufGroup = l.bufs.Group
	e.UserData = userData(kindRecv, c.slot, c.gen)
	c.recvArmed = true
}

// runTasks runs the queued Execute functions and adoptions; it reports
// whether the loop is to stop.
func (l *uringLoop) runTasks() bool {
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = l.spare[:0]
	stop := l.closed && l.u.stopping.Load()
	l.mu.Unlock()
	for i := range tasks {
		t := &tasks[i]
		if t.adopt != nil {
			l.adopt(t.adopt, stop)
		} else if !stop {
			t.fn()
		}
		tasks[i] = uringTask{}
	}
	l.mu.Lock()
	l.spare = tasks[:0]
	l.mu.Unlock()
	return stop
}

// adopt makes a an open connection of the loop.
func (l *uringLoop) adopt(a *uringAdopt, stopping bool) {
	if stopping {
		_ = unix.Close(a.fd)
		a.failed(ErrStopped)
		return
	}
	if _, err := unix.GetsockoptInt(a.fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil {
		_ = unix.Close(a.fd)
		a.failed(fmt.Errorf("network: adopt: %w", err))
		return
	}
	c := &uringConn{l: l, fd: int32(a.fd), local: a.local, open: true}
	if n := len(l.free); n > 0 {
		c.slot = l.free[n-1]
		l.free = l.free[:n-1]
		c.gen = (l.gens[c.slot] + 1) & 0xffffff
	} else {
		c.slot = uint32(len(l.conns))
		l.conns = append(l.conns, nil)
		l.gens = append(l.gens, 0)
		c.gen = 1
	}
	l.gens[c.slot] = c.gen
	l.conns[c.slot] = c
	if a.wrap != nil {
		c.layer = a.wrap(c)
	}
	if l.u.h.OnOpen(l.idx, c.user()) == Close {
		l.closeConn(c, nil)
		l.maybeRelease(c)
		return
	}
	if c.layer != nil && c.open { // what the transport read before adoption
		if act, err := l.deliver(c); act == Close {
			l.closeConn(c, err)
			return
		}
	}
	if c.open {
		l.armRecv(c)
	}
}

// closeConn closes c for the handler: it sends what can be sent at once,
// calls OnClose, and cancels c's requests; the descriptor is closed once
// they have completed (maybeRelease).
func (l *uringLoop) closeConn(c *uringConn, err error) {
	if !c.open {
		return
	}
	if c.layer != nil && !c.closingDone {
		c.closingDone = true
		c.layer.Closing() // a last message (close_notify, close frame)
	}
	c.open = false
	if !c.sendBusy {
		l.writeNow(c)
	}
	if c.layer != nil {
		if err == nil {
			err = c.layer.Err()
		}
		l.u.h.OnClose(c.layer, err)
	} else {
		l.u.h.OnClose(c, err)
	}
	if c.recvArmed || c.sendBusy {
		if e := l.sqe(); e != nil {
			e.Opcode = uring.OpAsyncCancel
			e.Fd = c.fd
			e.OpFlags = 1<<0 | 1<<1 // IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD
			e.UserData = userData(kindCancel, c.slot, c.gen)
		}
	}
	l.maybeRelease(c)
}

// writeNow writes c's unsent bytes without waiting (a closing connection's
// last words, as epoll's loops do).
// What cannot be written at once is dropped.
func (l *uringLoop) writeNow(c *uringConn) {
write:
	for i, p := range c.out {
		if i == 0 {
			p = p[c.outOff:]
		}
		for len(p) > 0 {
			n, err := unix.Write(int(c.fd), p)
			if err != nil || n <= 0 {
				break write
			}
			p = p[n:]
		}
	}
	c.dropOut()
}

// maybeRelease closes c's descriptor and frees its slot once c is closed
// and no request of it is in flight.
func (l *uringLoop) maybeRelease(c *uringConn) {
	if c.open || c.recvArmed || c.sendBusy || c.released {
		return
	}
	if c.outLen > 0 {
		l.writeNow(c)
	}
	c.released = true
	_ = unix.Close(int(c.fd))
	c.in, c.out = nil, nil
	if l.viewConn == c {
		l.view, l.viewOff, l.viewConn = nil, 0, nil
	}
	if l.conns[c.slot] == c {
		l.conns[c.slot] = nil
		l.free = append(l.free, c.slot)
	}
}

// shutdown closes every connection when the loops stop, and waits for
// their requests to finish.
func (l *uringLoop) shutdown() {
	for _, c := range l.conns {
		if c != nil {
			l.closeConn(c, ErrStopped)
		}
	}
	// Drain: cancellations complete promptly; a bounded number of rounds.
	for i := 0; i < 100 && l.live() > 0; i++ {
		if err := l.enter(1); err != nil && err != unix.EINTR {
			break
		}
		for c := l.ring.Next(); c != nil; c = l.ring.Next() {
			cqe := *c
			l.ring.Advance()
			if cqe.UserData>>56 == kindWake {
				continue
			}
			l.complete(&cqe)
		}
	}
	for _, c := range l.conns {
		if c != nil && !c.released {
			c.recvArmed, c.sendBusy = false, false
			l.maybeRelease(c)
		}
	}
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, t := range tasks {
		if t.adopt != nil {
			_ = unix.Close(t.adopt.fd)
			t.adopt.failed(ErrStopped)
		}
	}
}

func (l *uringLoop) live() int {
	n := 0
	for _, c := range l.conns {
		if c != nil && !c.released {
			n++
		}
	}
	return n
}

// ErrStopped is the error OnClose gets for connections closed because the
// loops stop.
var ErrStopped = errors.New("network: event loops stopped")

// Execute queues fn for the loop.
func (l *uringLoop) Execute(fn func()) error { return l.queue(uringTask{fn: fn}) }

// queue adds t to the loop's tasks and rings it.
func (l *uringLoop) queue(t uringTask) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrStopped
	}
	l.tasks = append(l.tasks, t)
	l.mu.Unlock()
	l.ringBell()
	return nil
}

// Wake asks for OnWake and rings the loop.
func (l *uringLoop) Wake() {
	l.asked.Store(true)
	l.ringBell()
}

// ringBell writes the loop's eventfd unless it is written and not yet read.
func (l *uringLoop) ringBell() {
	if l.rung.Swap(true) {
		return
	}
	if fd := l.eventFD.Load(); fd >= 0 {
		_, _ = unix.Write(int(fd), wakeOne)
	}
}

// wakeOne is what Wake writes to the eventfd; a package variable so the
// write does not allocate.
var wakeOne = []byte{1, 0, 0, 0, 0, 0, 0, 0}

// Adopt queues fd for the loop.
func (l *uringLoop) Adopt(fd int, sa unix.Sockaddr, local net.Addr, wrap Wrap, failed func(error)) error {
	return l.queue(uringTask{adopt: &uringAdopt{fd: fd, wrap: wrap, local: local, failed: failed}})
}

// PauseRead cancels c's RECV (paused) or arms it again: while paused, the
// peer's bytes wait in the kernel. Loop-only.
func (l *uringLoop) PauseRead(c Conn, paused bool) bool {
	c = rawConn(c)
	uc, ok := c.(*uringConn)
	if !ok || uc.l != l || !uc.open {
		return false
	}
	if uc.paused == paused {
		return true
	}
	uc.paused = paused
	switch {
	case paused && uc.recvArmed:
		e := l.sqe()
		if e == nil {
			uc.paused = false
			return false
		}
		e.Opcode = uring.OpAsyncCancel
		e.Addr = userData(kindRecv, uc.slot, uc.gen)
		e.UserData = userData(kindCancel, uc.slot, uc.gen)
	case !paused && !uc.recvArmed:
		l.armRecv(uc)
	}
	return true
}

// Close closes c (or the connection under the Layer c), calling OnClose
// before it returns. Loop-only.
func (l *uringLoop) Close(c Conn) error {
	c = rawConn(c)
	uc, ok := c.(*uringConn)
	if !ok || uc.l != l {
		return fmt.Errorf("network: %T is not a connection of this io_uring loop", c)
	}
	l.closeConn(uc, nil)
	return nil
}
