//go:build linux

package hostile

import (
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"
)

// prepareProcess makes the kernel kill cmd's process when the test binary
// exits, so a crashed or killed test leaves no broker running.
func prepareProcess(_ testing.TB, cmd *exec.Cmd) {
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
}
