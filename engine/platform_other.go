//go:build !linux

package engine

import (
	"errors"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// CheckPlatform reports whether the broker can run on this operating
// system: it runs on Linux only, the one platform its event loops are
// built for and tested on. The package compiles elsewhere so that the
// tools sharing the module build. Safe from any goroutine.
func CheckPlatform() error {
	return errors.New("the broker runs on Linux only (epoll/io_uring event loops); this is " + runtime.GOOS)
}

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
