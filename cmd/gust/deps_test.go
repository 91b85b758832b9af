package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBrokerDependencies: the gust binary links neither the harness nor
// its plotting libraries (gust bench runs the separate gust-bench), so
// make run on a fresh machine downloads and builds only what the broker,
// its clients and the load generator need.
func TestBrokerDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 {
		t.Fatalf("go list -deps gave %d packages", len(pkgs))
	}
	for _, pkg := range pkgs {
		for _, banned := range []string{"gonum.org/", "github.com/gust-mqtt/gust/bench", "codeberg.org/go-", "git.sr.ht/", "golang.org/x/image"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("cmd/gust depends on %s", pkg)
			}
		}
	}
}
