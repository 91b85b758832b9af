//go:build linux

package loadgen

import "golang.org/x/sys/unix"

// poller is the loop's readiness notifier: an epoll instance whose event
// data is the connection's slot in loop.conns. Loop-only.
type poller struct {
	fd     int
	events []unix.EpollEvent
}

func newPoller(maxEvents int) (poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return poller{}, err
	}
	return poller{fd: fd, events: make([]unix.EpollEvent, maxEvents)}, nil
}

// epollEvents is the epoll mask of in. EPOLLRDHUP is always set, so a
// connection that does not read (a slow subscriber) still learns of a
// close by the broker.
func epollEvents(in interest) uint32 {
	ev := uint32(unix.EPOLLRDHUP)
	if in&wantRead != 0 {
		ev |= unix.EPOLLIN
	}
	if in&wantWrite != 0 {
		ev |= unix.EPOLLOUT
	}
	return ev
}

// add registers fd, owned by the connection in slot, with interest in.
func (p *poller) add(fd, slot int, in interest) error {
	e := unix.EpollEvent{Events: epollEvents(in), Fd: int32(slot)}
	return unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, fd, &e)
}

// modify changes the interest of a registered fd.
func (p *poller) modify(fd, slot int, in interest) error {
	e := unix.EpollEvent{Events: epollEvents(in), Fd: int32(slot)}
	return unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, fd, &e)
}

// wait blocks up to timeoutMs milliseconds and returns how many events
// event can then read (0..maxEvents).
func (p *poller) wait(timeoutMs int) (int, error) {
	return unix.EpollWait(p.fd, p.events, timeoutMs)
}

// event decodes event i of the last wait. hangup covers a close by the
// peer (EPOLLRDHUP), a reset or a failed connect (EPOLLHUP, EPOLLERR).
func (p *poller) event(i int) (slot int, readable, writable, hangup bool) {
	ev := p.events[i].Events
	return int(p.events[i].Fd), ev&unix.EPOLLIN != 0, ev&unix.EPOLLOUT != 0,
		ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
}

// close releases the epoll instance; registered fds stay open.
func (p *poller) close() error { return unix.Close(p.fd) }
