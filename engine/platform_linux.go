//go:build linux

package engine

import "golang.org/x/sys/unix"

// CheckPlatform reports whether the broker can run on this operating
// system; on Linux it can. Safe from any goroutine.
func CheckPlatform() error { return nil }

// acceptSocket accepts one connection from the listening socket fd, the
// new socket non-blocking and close-on-exec.
func acceptSocket(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}
