//go:build linux

package engine

import "golang.org/x/sys/unix"

// CheckPlatform reports whether the broker can run on this operating
// system; on Linux it can. Safe from any goroutine.
func CheckPlatform() error { return nil }

// acceptSocket accepts one connection from the listening socket fd, the
// new socket non-blocking and close-on-exec, with its peer's address when
// peer is set. Without it the kernel is asked for no address and nothing
// is allocated: unix.Accept4 allocates the raw address and the Sockaddr
// made from it (176 B of garbage per connection, in the size classes of
// the objects an idle connection keeps).
func acceptSocket(fd int, peer bool) (int, unix.Sockaddr, error) {
	const flags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	if peer {
		return unix.Accept4(fd, flags)
	}
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, flags, 0, 0)
	if errno != 0 {
		return -1, nil, errno
	}
	return int(nfd), nil, nil
}
