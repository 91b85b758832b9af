//go:build darwin || freebsd

package loadgen

import "golang.org/x/sys/unix"

// poller is the loop's readiness notifier: a kqueue with one read and one
// write filter per connection (level-triggered, as epoll is on Linux), and
// a table from fd to the connection's slot in loop.conns. Loop-only.
//
// The slot table is indexed by fd rather than carried in the kevent's
// udata (a pointer field) so no integer is stored as a pointer. An fd is
// registered only when its socket is dialled, between two waits, and a
// closed fd leaves the kqueue with its filters, so every event a wait
// returns names an fd whose table entry is still the one registered.
type poller struct {
	fd      int
	events  []unix.Kevent_t
	changes [2]unix.Kevent_t
	slots   []int32 // slots[fd] is the slot of the connection owning fd
	timeout unix.Timespec
}

func newPoller(maxEvents int) (poller, error) {
	fd, err := unix.Kqueue()
	if err != nil {
		return poller{}, err
	}
	unix.CloseOnExec(fd)
	return poller{fd: fd, events: make([]unix.Kevent_t, maxEvents)}, nil
}

// add registers fd, owned by the connection in slot, with interest in.
func (p *poller) add(fd, slot int, in interest) error {
	for fd >= len(p.slots) {
		p.slots = append(p.slots, -1)
	}
	p.slots[fd] = int32(slot)
	return p.modify(fd, slot, in)
}

// modify sets both filters of fd: EV_ADD creates a filter the first time
// and updates it after; EV_ENABLE or EV_DISABLE switches it on or off.
// With the read filter off, a close by the peer is seen at the next write
// (epoll's EPOLLRDHUP has no kqueue equivalent without read readiness).
func (p *poller) modify(fd, _ int, in interest) error {
	unix.SetKevent(&p.changes[0], fd, unix.EVFILT_READ, unix.EV_ADD|onOff(in&wantRead != 0))
	unix.SetKevent(&p.changes[1], fd, unix.EVFILT_WRITE, unix.EV_ADD|onOff(in&wantWrite != 0))
	_, err := unix.Kevent(p.fd, p.changes[:], nil, nil)
	return err
}

func onOff(on bool) int {
	if on {
		return unix.EV_ENABLE
	}
	return unix.EV_DISABLE
}

// wait blocks up to timeoutMs milliseconds and returns how many events
// event can then read (0..maxEvents). A connection ready both ways yields
// two events, one per filter.
func (p *poller) wait(timeoutMs int) (int, error) {
	p.timeout = unix.NsecToTimespec(int64(timeoutMs) * 1e6)
	return unix.Kevent(p.fd, nil, p.events, &p.timeout)
}

// event decodes event i of the last wait. hangup is EV_EOF (the peer
// closed, or a connect failed: Fflags then holds the socket error, which
// the connection reads with SO_ERROR) or EV_ERROR.
func (p *poller) event(i int) (slot int, readable, writable, hangup bool) {
	e := &p.events[i]
	slot = int(p.slots[e.Ident])
	hangup = e.Flags&(unix.EV_EOF|unix.EV_ERROR) != 0
	switch e.Filter {
	case unix.EVFILT_READ:
		readable = true
	case unix.EVFILT_WRITE:
		writable = true
	}
	return slot, readable, writable, hangup
}

// close releases the kqueue; registered fds stay open.
func (p *poller) close() error { return unix.Close(p.fd) }
