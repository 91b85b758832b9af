package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchRunsGustBench: `gust bench` runs the gust-bench found beside
// gust with its arguments, and says how to get it when there is none.
func TestBenchRunsGustBench(t *testing.T) {
	dir := t.TempDir()
	gust := filepath.Join(dir, "gust")
	if out, err := exec.Command("go", "build", "-o", gust, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(gust, "bench", "--quick")
	cmd.Env = append(os.Environ(), "PATH="+dir) // no gust-bench on PATH either
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "go build -o bin/gust-bench ./cmd/gust-bench") {
		t.Fatalf("without gust-bench: exit %d, output %q", code, out)
	}
	// Help says where the harness is, and exits 0.
	cmd = exec.Command(gust, "bench", "-h")
	cmd.Env = append(os.Environ(), "PATH="+dir)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "./cmd/gust-bench") {
		t.Fatalf("gust bench -h without gust-bench: %v, output %q", err, out)
	}
	// A stand-in gust-bench that prints its arguments.
	stub := filepath.Join(dir, "gust-bench")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\necho \"ran $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(gust, "bench", "--quick", "--reps", "1").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ran --quick --reps 1" {
		t.Fatalf("with gust-bench: %v, output %q", err, out)
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
