//go:build !linux

package persist

import (
	"errors"
	"os"
)

// fallocate writes size zero bytes to f.
func fallocate(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for size > 0 {
		n := min(size, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		size -= n
	}
	return f.Sync()
}

// freeBytes is not known off Linux: the reserve is never put back.
func freeBytes(string) (int64, error) {
	return 0, errors.New("persist: free space unknown on this platform")
}
