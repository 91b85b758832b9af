package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	gerrors "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/socket"
	"golang.org/x/sys/unix"
)

// Gnet is the Poller on gnet's event loops (epoll on Linux). gnet accepts
// nothing here: it listens on a sealed socket (sealedSocket), and the
// broker's own acceptor hands each socket to a loop with Loop.Adopt. Each
// loop has a doorbell, a socket pair whose read end the loop watches, so
// that Wake costs one write and no allocation.
type Gnet struct {
	log *slog.Logger

	h      Handler
	eng    gnet.Engine
	sealed *sealedSocket
	loops  []*gnetLoop // by index; set before Start returns
	ready  chan struct{}
	once   sync.Once

	done chan struct{}
	err  error // why the loops stopped; written before done is closed
}

// NewGnet returns a Poller on gnet that logs gnet's own lines to log.
func NewGnet(log *slog.Logger) *Gnet {
	return &Gnet{log: log, done: make(chan struct{}), ready: make(chan struct{})}
}

// gnetLoop is one of Gnet's loops.
type gnetLoop struct {
	idx    int
	el     gnet.EventLoop
	bellFD atomic.Int32 // write end of the doorbell, -1 once closed
	// wrap is the Wrap of the socket Adopt is registering, read by its
	// OnOpen (which gnet calls inside the registration). Loop-only.
	wrap Wrap
	// pollFD is the descriptor of the loop's epoll, -1 where PauseRead
	// cannot pause (another platform, or a poller it could not find).
	pollFD int
	bell   int // the doorbell's read end, watched by the loop
}

// doorbell is the gnet context of a loop's doorbell connection. idx is set
// before the doorbell is registered; el by its OnOpen, on its loop.
type doorbell struct {
	idx int
	el  gnet.EventLoop
	fd  int // the descriptor gnet watches
}

// Start starts gnet with n event loops, gives each its doorbell and
// returns them.
func (g *Gnet) Start(h Handler, n int) ([]Loop, error) {
	if n < 1 {
		return nil, fmt.Errorf("network: %d event loops", n)
	}
	g.h = h
	sealed, err := newSealedSocket()
	if err != nil {
		return nil, fmt.Errorf("network: event loops: %w", err)
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(n),
		gnet.WithLoadBalancing(gnet.RoundRobin), // Register's choice: see bootLoops
		gnet.WithLogger(gnetLogger{g.log}),
		gnet.WithTicker(true), // OnTick: every loop is registered
	}
	go func() {
		g.err = gnet.Run((*gnetHandler)(g), "unix://"+sealed.path, opts...)
		close(g.done)
	}()
	select {
	case <-g.ready:
	case <-g.done:
		sealed.seal()
		sealed.close()
		return nil, fmt.Errorf("network: event loops: %w", g.err)
	}
	sealed.seal()
	g.sealed = sealed
	err = g.bootLoops(n)
	if err == nil {
		err = checkGnet(g.loops[0].el)
	}
	if err == nil {
		for _, l := range g.loops {
			l.pollFD = loopPollFD(eventLoopPointer(l.el), l.bell)
		}
	}
	if err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Stop(ctx)
		return nil, err
	}
	loops := make([]Loop, n)
	for i, l := range g.loops {
		loops[i] = l
	}
	return loops, nil
}

// Stop stops gnet's engine; once its loops have returned it closes the
// doorbells and the sealed socket's directory. If ctx expires first they
// stay open: a wedged loop may still ring a doorbell, which must not be a
// recycled descriptor.
func (g *Gnet) Stop(ctx context.Context) error {
	var err error
	select {
	case <-g.done: // stopped on its own
	default:
		if err = g.eng.Stop(ctx); errors.Is(err, gerrors.ErrEngineInShutdown) {
			err = nil // stopping already: wait below
		}
	}
	select {
	case <-g.done:
		for _, l := range g.loops {
			if fd := l.bellFD.Swap(-1); fd >= 0 {
				_ = unix.Close(int(fd))
			}
		}
		if g.sealed != nil {
			g.sealed.close()
		}
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Done is closed when gnet's engine has stopped.
func (g *Gnet) Done() <-chan struct{} { return g.done }

// Err is the error gnet's engine stopped with.
func (g *Gnet) Err() error {
	select {
	case <-g.done:
		return g.err
	default:
		return nil
	}
}

// bootLoops gives each of gnet's n event loops its doorbell. gnet lists
// its loops to nobody, but Engine.Register with its round robin puts n
// registrations in a row on n distinct loops (nothing else registers or
// accepts meanwhile).
func (g *Gnet) bootLoops(n int) error {
	for i := 0; i < n; i++ {
		l, err := g.openDoorbell(i)
		if err != nil {
			return fmt.Errorf("network: doorbell: %w", err)
		}
		for _, o := range g.loops {
			if o.el == l.el {
				_ = unix.Close(int(l.bellFD.Load()))
				return fmt.Errorf("network: doorbells %d and %d landed on one event loop", o.idx, i)
			}
		}
		g.loops = append(g.loops, l)
	}
	return nil
}

// openDoorbell creates a socket pair whose read end gnet watches on the
// loop its round robin picks, and returns that loop with the write end.
func (g *Gnet) openDoorbell(idx int) (*gnetLoop, error) {
	fds, err := bellPair()
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fds[1], true); err != nil {
		_ = unix.Close(fds[0])
		_ = unix.Close(fds[1])
		return nil, err
	}
	f := os.NewFile(uintptr(fds[0]), "gust-doorbell")
	nc, err := net.FileConn(f) // dups fds[0]
	_ = f.Close()
	if err != nil {
		_ = unix.Close(fds[1])
		return nil, err
	}
	d := &doorbell{idx: idx}
	ctx := gnet.NewNetConnContext(gnet.NewContext(context.Background(), d), nc)
	ch, err := g.eng.Register(ctx)
	if err != nil {
		_ = nc.Close()
		_ = unix.Close(fds[1])
		return nil, err
	}
	res := <-ch // OnOpen has set d.el before the result is sent
	if res.Err != nil || res.Conn == nil || d.el == nil {
		_ = unix.Close(fds[1])
		if res.Err != nil {
			return nil, res.Err
		}
		return nil, errors.New("event loops stopped")
	}
	l := &gnetLoop{idx: idx, el: d.el, pollFD: -1, bell: d.fd}
	l.bellFD.Store(int32(fds[1]))
	return l, nil
}

// loopIndex returns the index of el, -1 if it is not one of g's loops.
func (g *Gnet) loopIndex(el gnet.EventLoop) int {
	for _, l := range g.loops {
		if l.el == el {
			return l.idx
		}
	}
	return -1
}

// Execute runs fn on the loop through gnet's task queue.
func (l *gnetLoop) Execute(fn func()) error {
	return l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		return nil // an error here would stop the loop
	}))
}

// Wake writes one byte to the doorbell. EAGAIN means the socket is full of
// earlier rings, which is as good.
func (l *gnetLoop) Wake() {
	if fd := l.bellFD.Load(); fd >= 0 {
		_, _ = unix.Write(int(fd), bellByte)
	}
}

// bellByte is what Wake writes; a package variable so the write does not
// allocate.
var bellByte = []byte{1}

// Close closes c through gnet, which calls OnClose before returning; a
// Layer gets its Closing first and its raw connection is closed.
func (l *gnetLoop) Close(c Conn) error {
	if ly, ok := c.(Layer); ok {
		ly.Closing()
		for ok { // a Layer may be over another (WebSocket over TLS)
			c = ly.Under()
			ly, ok = c.(Layer)
		}
	}
	gc, ok := c.(gnet.Conn)
	if !ok {
		return fmt.Errorf("network: %T is not a gnet connection", c)
	}
	return l.el.Close(gc)
}

// PauseRead sets the events the loop's epoll watches on c: none but
// those of its outbound buffer while paused, input too otherwise.
func (l *gnetLoop) PauseRead(c Conn, paused bool) bool {
	gc, ok := c.(gnet.Conn)
	if !ok || l.pollFD < 0 {
		return false
	}
	return pauseRead(l.pollFD, gc.Fd(), paused, gc.OutboundBuffered() > 0)
}

// A loop adopts an accepted socket the way gnet's own accept does: gnet
// builds its connection for the descriptor (newStreamConn) and the loop
// registers it (register0: epoll, connection table, OnOpen). gnet exports
// no function for that. Its public way in for a socket it did not accept,
// EventLoop.Enroll, takes a net.Conn, which costs a Go accept (the socket
// enters Go's poller too), a dup, a pooled goroutine waiting for the loop,
// and keeps the net.Conn's own local and remote addresses for the
// connection's life: more memory per idle connection (RSS per idle
// connection, conn scenario of `gust bench`). So the two gnet functions
// are reached through go:linkname. Their signatures are those of gnet
// gnetVersion, which Start checks against the build (checkGnet): a broker
// built with another gnet refuses to start rather than call functions
// whose shape it does not know.

// Adopt builds gnet's connection for fd here and registers it on the loop,
// its OnOpen wrapping it with wrap (if not nil). gnet keeps no peer address
// (neither sa nor a net.TCPAddr: 80 bytes per connection, which gnet reads
// only for UDP); PeerAddr asks the socket.
func (l *gnetLoop) Adopt(fd int, _ unix.Sockaddr, local net.Addr, wrap Wrap, failed func(error)) error {
	el := eventLoopPointer(l.el)
	c := gnetNewStreamConn("tcp", fd, el, nil, local, nil)
	return l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		l.wrap = wrap
		err := gnetRegister0(el, c)
		l.wrap = nil // set back if the registration failed before OnOpen
		if err != nil {
			failed(err)
		}
		return nil // an error here would stop the loop
	}))
}

// PeerAddr returns c's peer address: its RemoteAddr, or for a connection
// that keeps none (Gnet's Adopt) the socket's peer name, read now; nil if
// neither is known (the peer is gone). It allocates. Loop-only.
func PeerAddr(c Conn) net.Addr {
	if a := c.RemoteAddr(); a != nil {
		return a
	}
	c = rawConn(c)
	fc, ok := c.(interface{ Fd() int })
	if !ok {
		return nil
	}
	sa, err := unix.Getpeername(fc.Fd())
	if err != nil {
		return nil
	}
	return socket.SockaddrToTCPOrUnixAddr(sa)
}

// gnetHandler is Gnet as gnet's event handler: it routes doorbells and
// passes every other connection to the Handler.
type gnetHandler Gnet

// OnBoot records the engine.
func (gh *gnetHandler) OnBoot(eng gnet.Engine) gnet.Action {
	gh.eng = eng
	return gnet.None
}

// OnShutdown is gnet's; nothing to do.
func (gh *gnetHandler) OnShutdown(gnet.Engine) {}

// OnTick runs once, when gnet has registered every event loop (OnBoot
// comes before): it says the engine is ready and asks never to be called
// again.
func (gh *gnetHandler) OnTick() (time.Duration, gnet.Action) {
	gh.once.Do(func() { close(gh.ready) })
	return math.MaxInt64, gnet.None
}

// OnOpen records a doorbell's loop, or opens a connection.
func (gh *gnetHandler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if d, ok := gc.Context().(*doorbell); ok {
		d.el = gc.EventLoop()
		d.fd = gc.Fd()
		return nil, gnet.None
	}
	idx := (*Gnet)(gh).loopIndex(gc.EventLoop())
	if idx < 0 {
		return nil, gnet.Close // not booted: nothing accepts before Start returns
	}
	l := gh.loops[idx]
	if l.wrap == nil {
		return nil, action(gh.h.OnOpen(idx, gc))
	}
	ly := l.wrap(gc)
	l.wrap = nil
	gc.SetContext(ly)
	if gh.h.OnOpen(idx, ly) == Close {
		ly.Closing()
		return nil, gnet.Close
	}
	return nil, gh.fill(ly) // what the transport read before adoption
}

// OnTraffic wakes a doorbell's loop or passes a connection's bytes on,
// through its Layer if it has one.
func (gh *gnetHandler) OnTraffic(gc gnet.Conn) gnet.Action {
	switch x := gc.Context().(type) {
	case *doorbell:
		_, _ = gc.Discard(-1)
		gh.h.OnWake(x.idx)
		return gnet.None
	case Layer:
		return gh.fill(x)
	}
	return action(gh.h.OnTraffic(gc))
}

// fill decodes a Layer's raw bytes and passes what it added on, even when
// the transport ended after them (a TLS close_notify after the last
// records).
func (gh *gnetHandler) fill(ly Layer) gnet.Action {
	n, err := ly.Fill()
	if n > 0 && gh.h.OnTraffic(ly) == Close {
		if err == nil {
			ly.Closing()
		}
		return gnet.Close
	}
	if err != nil {
		return gnet.Close // OnClose passes ly.Err()
	}
	return gnet.None
}

// OnClose passes a connection's close on, with its Layer if it has one; a
// doorbell closes only when the loops stop.
func (gh *gnetHandler) OnClose(gc gnet.Conn, err error) gnet.Action {
	switch x := gc.Context().(type) {
	case *doorbell:
	case Layer:
		if err == nil {
			err = x.Err()
		}
		gh.h.OnClose(x, err)
	default:
		gh.h.OnClose(gc, err)
	}
	return gnet.None
}

func action(a Action) gnet.Action {
	if a == Close {
		return gnet.Close
	}
	return gnet.None
}

// sealedSocket is the listener gnet's server engine is started with. Its
// engine offers Register (the doorbells) and Stop only with a listener of
// its own, and its accept treats running out of descriptors as fatal; so
// it gets a unix socket that nothing can reach: bound in a new private
// directory through that directory's descriptor (/proc/self/fd/N/s), then
// unlinked with its directory (seal) as soon as gnet has bound it. Its
// accept never runs; nothing is left behind even if the process is
// killed; and the path gnet removes when it closes the socket names
// nothing while the descriptor stays open (close, after the engine has
// stopped).
type sealedSocket struct {
	dir  *os.File
	path string
}

func newSealedSocket() (*sealedSocket, error) {
	name, err := os.MkdirTemp("", "gust-loops-")
	if err != nil {
		return nil, err
	}
	dir, err := os.Open(name)
	if err != nil {
		_ = os.Remove(name)
		return nil, err
	}
	return &sealedSocket{dir: dir, path: "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/s"}, nil
}

// seal unlinks the socket and its directory: it stays bound, nobody can
// reach it.
func (s *sealedSocket) seal() {
	_ = os.Remove(s.path)
	_ = os.Remove(s.dir.Name())
}

// close releases the directory's descriptor; call it after the engine
// has stopped (and seal before).
func (s *sealedSocket) close() { _ = s.dir.Close() }

// gnetVersion is the gnet release whose unexported functions are linked
// below; TestGnetVersionPinned keeps it equal to go.mod's.
const gnetVersion = "v2.9.7"

// gnetNewStreamConn is gnet's newStreamConn(proto string, fd int,
// el *eventloop, sa unix.Sockaddr, localAddr, remoteAddr net.Addr) *conn;
// the two unexported pointer types are passed as unsafe.Pointer.
//
//go:linkname gnetNewStreamConn github.com/panjf2000/gnet/v2.newStreamConn
func gnetNewStreamConn(proto string, fd int, el unsafe.Pointer, sa unix.Sockaddr, localAddr, remoteAddr net.Addr) unsafe.Pointer

// gnetRegister0 is gnet's (*eventloop).register0(c *conn) error: it adds
// c to the loop's poller and connection table and calls OnOpen; on failure
// it closes the descriptor. Loop-only.
//
//go:linkname gnetRegister0 github.com/panjf2000/gnet/v2.(*eventloop).register0
func gnetRegister0(el, c unsafe.Pointer) error

// checkGnet reports an error unless the gnet linked into the binary is
// gnetVersion and el is one of its event loops. A binary without module
// information is trusted (go.mod pins the version).
func checkGnet(el gnet.EventLoop) error {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path != "github.com/panjf2000/gnet/v2" {
				continue
			}
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
			if v != gnetVersion {
				return fmt.Errorf("network: built with gnet %s; the connection hand-off is written for gnet %s", v, gnetVersion)
			}
		}
	}
	if t := fmt.Sprintf("%T", el); t != "*gnet.eventloop" {
		return fmt.Errorf("network: gnet event loop of type %s, want *gnet.eventloop", t)
	}
	return nil
}

// eventLoopPointer returns the *gnet.eventloop inside el (checkGnet has
// checked its dynamic type): the data word of the interface value.
func eventLoopPointer(el gnet.EventLoop) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&el))[1]
}

// gnetLogger sends gnet's own log lines to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
