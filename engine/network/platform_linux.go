//go:build linux

package network

import "golang.org/x/sys/unix"

// bellPair creates a loop's doorbell socket pair, both ends close-on-exec.
func bellPair() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
