//go:build !linux

package bench

import (
	"fmt"
	"os/exec"
	"runtime"
)

// platformNote says which figures this platform lacks: they come from
// /proc, and the generator cannot be pinned.
const platformNote = runtime.GOOS + ": no /proc, so broker CPU and RSS, stolen CPU, kernel and memory are not measured; no CPU pinning of the generator"

// killWithParent does nothing: a parent-death signal is Linux-only, so
// here a killed harness can leave a broker running (a normal exit or
// cancellation still stops it).
func killWithParent(*exec.Cmd) {}

// pinSelf checks list and reports that this platform has no CPU affinity
// call (sched_setaffinity): the generator runs unpinned. An empty list
// asks for no pinning and succeeds.
func pinSelf(list string) error {
	if list == "" {
		return nil
	}
	if _, err := parseCPUList(list); err != nil {
		return err
	}
	return fmt.Errorf("CPU pinning needs Linux (sched_setaffinity); on %s the generator runs unpinned", runtime.GOOS)
}
