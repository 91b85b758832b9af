//go:build linux

package persist

import (
	"os"

	"golang.org/x/sys/unix"
)

// fallocate gives f size bytes of allocated blocks.
func fallocate(f *os.File, size int64) error {
	return unix.Fallocate(int(f.Fd()), 0, 0, size)
}

// freeBytes is the space an unprivileged writer has left on dir's file
// system.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
