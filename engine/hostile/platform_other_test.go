//go:build !linux

package hostile

import (
	"os/exec"
	"runtime"
	"testing"
)

// prepareProcess skips the test: the broker runs on Linux only, and the
// harness reads /proc and sets limits with prlimit.
func prepareProcess(t testing.TB, _ *exec.Cmd) {
	t.Skip("hostile tests need Linux (gust serve, /proc, prlimit); this is " + runtime.GOOS)
}
