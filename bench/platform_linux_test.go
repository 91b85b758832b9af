//go:build linux

package bench

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinSelf pins the test process to one allowed CPU, checks the
// affinity of a thread, and restores the original set.
func TestPinSelf(t *testing.T) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	var all []string
	first := -1
	for c := 0; c < 1024; c++ {
		if orig.IsSet(c) {
			all = append(all, strconv.Itoa(c))
			if first < 0 {
				first = c
			}
		}
	}
	t.Cleanup(func() {
		if err := pinSelf(strings.Join(all, ",")); err != nil {
			t.Errorf("restore affinity %v: %v", all, err)
		}
	})
	if err := pinSelf(strconv.Itoa(first)); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var got unix.CPUSet
	if err := unix.SchedGetaffinity(0, &got); err != nil {
		t.Fatal(err)
	}
	if got.Count() != 1 || !got.IsSet(first) {
		t.Fatalf("affinity after pinSelf(%d): %d CPUs, CPU %d set %v", first, got.Count(), first, got.IsSet(first))
	}
}
