//go:build linux

package bench

import (
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

// platformNote is empty: every figure of env.txt is measured on Linux.
const platformNote = ""

// killWithParent makes the kernel kill cmd's process when the harness
// exits, so a crashed or killed harness leaves no broker running.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
}

// pinSelf restricts this process to the CPUs of list ("0", "0-1", "0,2").
func pinSelf(list string) error {
	set, err := parseCPUList(list)
	if err != nil {
		return err
	}
	var cpus unix.CPUSet
	for _, c := range set {
		cpus.Set(c)
	}
	// Affinity is per thread: set it on every thread of the process (new
	// threads inherit it from the thread that creates them).
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &cpus); err != nil {
			return err
		}
	}
	return nil
}
