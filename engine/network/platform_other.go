//go:build !linux

package network

import (
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

// loopPollFD finds no poller to pause reads with here: -1.
func loopPollFD(unsafe.Pointer, int) int { return -1 }

// pauseRead cannot pause here.
func pauseRead(int, int, bool, bool) bool { return false }
