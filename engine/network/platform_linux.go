//go:build linux

package network

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// bellPair creates a loop's doorbell socket pair, both ends close-on-exec.
func bellPair() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}

// gnetLoopHead mirrors the first fields of gnet's eventloop (gnetVersion;
// checkGnet has checked both the version and the dynamic type): poller
// points at a netpoll.Poller, whose first field is its epoll descriptor.
type gnetLoopHead struct {
	listeners map[int]unsafe.Pointer
	idx       int
	engine    unsafe.Pointer
	poller    *struct{ fd int }
}

// loopPollFD returns the epoll descriptor of gnet's event loop el, found
// through gnetLoopHead and checked against the loop's doorbell bell, which
// that epoll watches for input; -1 if the check fails. Any goroutine: the
// fields read are set before the loop runs and never change.
func loopPollFD(el unsafe.Pointer, bell int) int {
	p := (*gnetLoopHead)(el).poller
	if p == nil {
		return -1
	}
	fd := p.fd
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLPRI, Fd: int32(bell)}
	if unix.EpollCtl(fd, unix.EPOLL_CTL_MOD, bell, &ev) != nil {
		return -1
	}
	return fd
}

// pauseRead sets what the epoll pollFD watches on fd: input unless paused,
// output while the connection has outbound bytes (level-triggered, as gnet
// registers its connections). gnet sets the events back to input alone, or
// input and output, whenever its outbound buffer drains or fills.
func pauseRead(pollFD, fd int, paused, out bool) bool {
	var events uint32
	if !paused {
		events = unix.EPOLLIN | unix.EPOLLPRI
	}
	if out {
		events |= unix.EPOLLOUT
	}
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	return unix.EpollCtl(pollFD, unix.EPOLL_CTL_MOD, fd, &ev) == nil
}
