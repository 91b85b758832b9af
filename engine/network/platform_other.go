//go:build !linux

package network

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bellPair creates a loop's doorbell socket pair, both ends close-on-exec.
// Without SOCK_CLOEXEC the flag is set after socketpair(); the fork lock
// keeps an exec in another goroutine from inheriting the fds in between.
func bellPair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fds, err
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	return fds, nil
}

// NewUring returns a Poller whose Start fails: io_uring is Linux's.
func NewUring(log *slog.Logger) Poller { return uringAbsent{} }

type uringAbsent struct{}

func (uringAbsent) Start(Handler, int) ([]Loop, error) {
	return nil, errors.New("network: io_uring is available on Linux only")
}
func (uringAbsent) Stop(context.Context) error { return nil }
func (uringAbsent) Done() <-chan struct{}      { return closedChan }
func (uringAbsent) Err() error                 { return nil }

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// loopPollFD finds no poller to pause reads with here: -1.
func loopPollFD(unsafe.Pointer, int) int { return -1 }

// pauseRead cannot pause here.
func pauseRead(int, int, bool, bool) bool { return false }
