//go:build linux

package engine

import "golang.org/x/sys/unix"

// CheckPlatform reports whether the broker can run on this operating
// system; on Linux it can. Safe from any goroutine.
func CheckPlatform() error { return nil }

// bellPair creates a loop's doorbell socket pair, both ends close-on-exec.
func bellPair() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
