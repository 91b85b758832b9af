//go:build !linux

package loadgen

import (
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// segmentsNote says why Result.Segments is 0 on this platform.
const segmentsNote = "tcp_segments not measured on " + runtime.GOOS + " (no TCP_INFO segment counts)"

// newSocket opens a non-blocking, close-on-exec TCP socket. Without
// SOCK_NONBLOCK and SOCK_CLOEXEC, the flags are set after socket(); the
// fork lock keeps an exec in another goroutine from inheriting the fd
// in between, as the standard library does.
func newSocket(family int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// bindAddressNoPort does nothing: IP_BIND_ADDRESS_NO_PORT is Linux-only,
// so a bound source address takes its port at bind() and each address is
// limited to the ephemeral port range on its own.
func bindAddressNoPort(int) {}

// tcpSegments returns 0: the per-socket segment counts come from Linux's
// TCP_INFO.
func tcpSegments(int) int64 { return 0 }

// fileLimitCap bounds the open-file soft limit to what setrlimit accepts:
// macOS rejects a limit above kern.maxfilesperproc even when the hard
// limit is unlimited.
func fileLimitCap(hard uint64) uint64 {
	if runtime.GOOS != "darwin" {
		return hard
	}
	if n, err := unix.SysctlUint32("kern.maxfilesperproc"); err == nil && uint64(n) < hard {
		return uint64(n)
	}
	return hard
}
