package engine

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/socket"
	"golang.org/x/sys/unix"
)

// The acceptor (listener.go) gives each accepted socket to an event loop
// the way gnet's own accept does: gnet builds its connection for the
// descriptor (newStreamConn) and the loop registers it (register0: epoll,
// connection table, OnOpen). gnet exports no function for that. Its public
// way in for a socket it did not accept, EventLoop.Enroll, takes a
// net.Conn, which costs a Go accept (the socket enters Go's poller too), a
// dup, a pooled goroutine waiting for the loop, and the net.Conn's own
// local and remote addresses kept for the connection's life: about 110 B
// more live heap per idle connection and 190 B more RSS. So the two gnet
// functions are reached through go:linkname. Their signatures are those of
// gnet gnetVersion, which Start checks against the build (checkGnet): a
// broker built with another gnet refuses to start rather than call
// functions whose shape it does not know.

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
