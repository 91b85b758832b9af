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

// acceptSocket accepts one connection from the listening socket fd, the
// new socket non-blocking and close-on-exec (set after accept, under the
// fork lock as in bellPair), with its peer's address (peer is Linux's
// saving).
func acceptSocket(fd int, _ bool) (int, unix.Sockaddr, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, nil, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		_ = unix.Close(nfd)
		return -1, nil, err
	}
	return nfd, sa, nil
}
