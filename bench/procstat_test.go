package bench

import (
	"os"
	"testing"
)

func TestParseWriteBytes(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want int64
		ok   bool
	}{
		{name: "proc io", in: "rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n", want: 8192, ok: true},
		{name: "missing", in: "rchar: 10\nwchar: 20\n", ok: false},
		{name: "garbage", in: "write_bytes: lots\n", ok: false},
		{name: "negative", in: "write_bytes: -5\n", want: -5, ok: false},
		{name: "empty", in: "", ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseWriteBytes([]byte(tc.in))
			if ok != tc.ok || (ok && got != tc.want) {
				t.Fatalf("got %d, %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestReadWriteBytesSelf writes and syncs 1 MiB into a file under the
// package directory (on disk, where a temporary directory may be a
// tmpfs that counts nothing) and checks write_bytes grew by at least that.
func TestReadWriteBytesSelf(t *testing.T) {
	before, ok := ReadWriteBytes(os.Getpid())
	if !ok {
		t.Skip("/proc/self/io unreadable (not Linux, or no task I/O accounting)")
	}
	f, err := os.CreateTemp(".", "writebytes-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	after, _ := ReadWriteBytes(os.Getpid())
	if after-before < 1<<20 {
		t.Fatalf("write_bytes grew by %d after writing 1 MiB", after-before)
	}
}
