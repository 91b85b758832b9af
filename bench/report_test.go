package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteLeavesTrackedResults writes a run as make bench does (no
// --publish, no --results): the tracked results/README.md is left as it
// was and the run lands under results/local, which git ignores; only a
// published run goes into results/ and regenerates its README.md.
func TestWriteLeavesTrackedResults(t *testing.T) {
	root := t.TempDir()
	tracked := filepath.Join(root, "results")
	if err := os.MkdirAll(tracked, 0o755); err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(tracked, "README.md")
	const headline = "# the published headline\n"
	if err := os.WriteFile(readme, []byte(headline), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(publish bool) string {
		h := &harness{cfg: Config{Label: "t", Publish: publish, Size: Quick}, root: root,
			all: Scenarios(Quick), started: time.Now()}
		dir, err := h.write(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir := run(false)
	if got, _ := os.ReadFile(readme); string(got) != headline {
		t.Fatalf("an unpublished run rewrote results/README.md:\n%s", got)
	}
	if filepath.Dir(dir) != filepath.Join(tracked, LocalResults) {
		t.Fatalf("unpublished run in %s, want under results/%s", dir, LocalResults)
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.md")); err != nil {
		t.Fatal("no summary.md:", err)
	}
	if err := os.RemoveAll(dir); err != nil { // the published run may take the same name
		t.Fatal(err)
	}
	dir = run(true)
	if filepath.Dir(dir) != tracked {
		t.Fatalf("published run in %s, want in results/", dir)
	}
	if got, _ := os.ReadFile(readme); !strings.Contains(string(got), filepath.Base(dir)) {
		t.Fatalf("a published run did not regenerate results/README.md:\n%s", got)
	}
}

// TestLocalResultsIgnored checks that git ignores what make bench writes,
// so that it leaves the work tree clean.
func TestLocalResultsIgnored(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(git, "check-ignore", "-q", filepath.Join("results", LocalResults, "2026-01-01T0000-quick-abc", "summary.md"))
	cmd.Dir = root
	if err := cmd.Run(); err != nil {
		t.Fatalf("git does not ignore results/%s (%v): make bench would dirty the tree", LocalResults, err)
	}
}
