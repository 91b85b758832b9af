package engine

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/socket"
	"golang.org/x/sys/unix"
)

// The broker's side of gnet: the engine runs the event loops and accepts
// nothing (it listens on a sealed socket); the acceptor (listener.go)
// accepts, and each socket it admits is adopted by a loop, round robin.

// startLoops starts the gnet engine and its event loops, with nothing
// that accepts: gnet gets a sealed listener (sealedSocket), connections
// come from the acceptor through loop.adopt. It returns the broker's
// loops, one per gnet loop, each with its doorbell.
func (b *Broker) startLoops() ([]*loop, error) {
	sealed, err := newSealedSocket()
	if err != nil {
		return nil, fmt.Errorf("engine: event loops: %w", err)
	}
	h := &handler{b: b, ready: make(chan struct{})}
	b.engDone = make(chan struct{})
	n := b.cfg.Loops
	if n == 0 {
		n = runtime.NumCPU() // gnet's own choice with WithMulticore
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(n),
		gnet.WithLoadBalancing(gnet.RoundRobin), // Register's choice: see bootLoops
		gnet.WithLogger(gnetLogger{b.log}),
		gnet.WithTicker(true), // OnTick: every loop is registered
	}
	go func() {
		b.engErr = gnet.Run(h, "unix://"+sealed.path, opts...)
		close(b.engDone)
	}()
	select {
	case <-h.ready:
	case <-b.engDone:
		sealed.seal()
		sealed.close()
		return nil, fmt.Errorf("engine: event loops: %w", b.engErr)
	}
	sealed.seal()
	b.sealed = sealed
	b.eng = h.eng
	loops, err := b.bootLoops(n)
	if err == nil {
		err = checkGnet(loops[0].el)
	}
	if err != nil {
		b.closing.Store(true) // not a failure for Done to report
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = b.eng.Stop(ctx)
		select {
		case <-b.engDone:
			sealed.close()
		default:
		}
		return nil, err
	}
	return loops, nil
}

// watchLoops reports through Done an engine that stopped while the broker
// was not shutting down: every client is gone, the broker cannot serve.
func (b *Broker) watchLoops() {
	<-b.engDone
	if b.closing.Load() {
		return
	}
	err := b.engErr
	if err == nil {
		err = ErrStopped
	}
	b.log.Error("event loops stopped on their own", "err", err)
	b.report(fmt.Errorf("engine: event loops stopped: %w", err))
}

// sealedSocket is the listener gnet's server engine is started with. Its
// engine offers Register (the hand-off) and Stop only with a listener of
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

// roundRobin returns the hand-off of the acceptor (accepted from local):
// each socket goes to the next of loops. Called by the acceptor goroutine
// only.
func roundRobin(loops []*loop, local net.Addr) handOffFunc {
	next := 0
	return func(fd int, sa unix.Sockaddr, lost func(error)) error {
		l := loops[next]
		if next++; next == len(loops) {
			next = 0
		}
		return l.adopt(fd, sa, local, lost)
	}
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

// adopt makes fd, a TCP socket accepted from local with peer sa
// (non-blocking, close-on-exec), a connection of loop l: gnet's connection
// is built here, registered on the loop (OnOpen runs there). If the loop
// cannot take it, failed runs on the loop (the descriptor is then closed
// by gnet); if the engine has stopped, adopt returns an error and the
// caller closes fd. Called by the acceptor goroutine.
func (l *loop) adopt(fd int, sa unix.Sockaddr, local net.Addr, failed func(error)) error {
	el := eventLoopPointer(l.el)
	c := gnetNewStreamConn("tcp", fd, el, sa, local, socket.SockaddrToTCPOrUnixAddr(sa))
	return l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		if err := gnetRegister0(el, c); err != nil {
			failed(err)
		}
		return nil // an error here would stop the loop
	}))
}

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
				return fmt.Errorf("engine: built with gnet %s; the connection hand-off is written for gnet %s", v, gnetVersion)
			}
		}
	}
	if t := fmt.Sprintf("%T", el); t != "*gnet.eventloop" {
		return fmt.Errorf("engine: gnet event loop of type %s, want *gnet.eventloop", t)
	}
	return nil
}

// eventLoopPointer returns the *gnet.eventloop inside el (checkGnet has
// checked its dynamic type): the data word of the interface value.
func eventLoopPointer(el gnet.EventLoop) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&el))[1]
}
