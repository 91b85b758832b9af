package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func init() { commands["bench"] = runBench }

// benchBinary is the harness's own binary: the broker does not link it
// (its plots need libraries twice the broker's size).
const benchBinary = "gust-bench"

// runBench replaces the process with gust-bench, found next to this
// binary or on PATH, with the same arguments.
func runBench(args []string) int {
	path, err := findBench()
	if err != nil {
		help := len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help")
		out := os.Stderr
		if help {
			out = os.Stdout
		}
		fmt.Fprintf(out, "gust bench: %v\nthe harness is the %s binary: go build -o bin/%s ./cmd/%s (make build), or go run ./cmd/%s\n",
			err, benchBinary, benchBinary, benchBinary, benchBinary)
		if help {
			return 0
		}
		return 2
	}
	err = unix.Exec(path, append([]string{path}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "gust bench: run %s: %v\n", path, err)
	return 1
}

// findBench looks for gust-bench beside the running binary, then on PATH.
func findBench() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), benchBinary)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath(benchBinary)
	if err != nil {
		return "", errors.New(benchBinary + " not found beside gust or on PATH")
	}
	return p, nil
}
