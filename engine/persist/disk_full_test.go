//go:build linux

package persist

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// smallFS mounts a tmpfs of size bytes for the test, or skips it where
// mounting is not allowed.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)); err != nil {
		t.Skip("a tmpfs mount is needed (root with CAP_SYS_ADMIN):", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// TestDiskFull fills a small file system: the store turns full (commits
// fail with ErrFull at once, no crash), every commit it had accepted is
// there after a reopen, and once space is freed it takes commits again.
func TestDiskFull(t *testing.T) {
	fs := smallFS(t, 48<<20)
	dir := filepath.Join(fs, "data")
	d, err := OpenDisk(dir, DiskOptions{Ballast: 4 << 20, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Close() }()
	if _, err := os.Stat(filepath.Join(dir, ballastName)); err != nil {
		t.Fatal("no ballast:", err)
	}
	// Leave about 10 MiB free outside the ballast.
	free, err := freeBytes(fs)
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(fs, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	if err := fallocate(f, free-10<<20); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	payload := make([]byte, 256<<10)
	var acked []uint64
	var full error
	for id := uint64(1); id < 1000 && full == nil; id++ {
		var b Batch
		b.PutMessage(&Message{ID: id, Topic: []byte("t"), Payload: payload, QoS: 1})
		switch err := commitWait(t, d, &b); {
		case err == nil:
			acked = append(acked, id)
		case errors.Is(err, ErrFull):
			full = err
		default:
			t.Fatalf("commit %d: %v", id, err)
		}
	}
	if full == nil || !d.Full() {
		t.Fatal("the store never turned full")
	}
	t.Logf("%d commits of 256 KiB accepted before the disk was full", len(acked))
	var del Batch // deletes make room: taken while full
	del.DeleteMessage(acked[0])
	if err := commitWait(t, d, &del); err != nil {
		t.Fatal("a delete while full:", err)
	}
	acked = acked[1:]

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.Full() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if d.Full() {
		t.Fatal("still full after space returned")
	}
	var b Batch
	b.PutMessage(&Message{ID: 5000, Topic: []byte("t"), QoS: 1})
	if err := commitWait(t, d, &b); err != nil {
		t.Fatal("commit after space returned:", err)
	}
	acked = append(acked, 5000)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, err = OpenDisk(dir, DiskOptions{Ballast: 4 << 20, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	got := recoverAll(t, d)
	if len(got.lines) != len(acked) {
		t.Fatalf("%d messages recovered, %d acknowledged", len(got.lines), len(acked))
	}
	for i, id := range acked {
		if !strings.HasPrefix(got.lines[i], "message "+strconv.FormatUint(id, 10)+" ") {
			t.Fatalf("record %d: %s, want message %d", i, got.lines[i], id)
		}
	}
}
