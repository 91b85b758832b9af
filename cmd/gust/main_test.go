package main

import (
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestHelpExitsZero: -h, --help and `gust help COMMAND` exit 0 for every
// command; `gust help`, `gust -h` and `gust --help` list the commands.
func TestHelpExitsZero(t *testing.T) {
	for name := range commands {
		if name == "bench" {
			continue // runs the gust-bench binary; its -h is tested in cmd/gust-bench
		}
		for _, args := range [][]string{{name, "-h"}, {name, "--help"}, {"help", name}} {
			if code := run(args); code != 0 {
				t.Errorf("gust %s: exit %d, want 0", strings.Join(args, " "), code)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		r := runGust(t, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "serve") || !strings.Contains(r.stdout, "pub") {
			t.Errorf("gust %s: exit %d, output %q", strings.Join(args, " "), r.code, r.stdout)
		}
	}
	for _, args := range [][]string{{}, {"nosuch"}, {"help", "nosuch"}, {"serve", "--nosuch"}, {"load", "--nosuch"}} {
		if code := run(args); code != 2 {
			t.Errorf("gust %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
	if r := runGust(t, "", "nosuch"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "nosuch"`) {
		t.Errorf("unknown command: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestVersion: `gust version` and `gust --version` print the version and
// revision stamped by -ldflags (as make release does), else the build
// information's.
func TestVersion(t *testing.T) {
	bin := binDir + "/gust-stamped"
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test -X main.revision=0123456789abcdef",
		"-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("gust %s: %v", arg, err)
		}
		want := "gust v9.8.7-test revision 0123456789ab " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
		if string(out) != want {
			t.Errorf("gust %s = %q, want %q", arg, out, want)
		}
	}
	r := runGust(t, "", "version")
	if r.code != 0 || !regexp.MustCompile(`^gust \S+ `).MatchString(r.stdout) || strings.Contains(r.stdout, "v9.8.7") {
		t.Errorf("unstamped: exit %d, %q", r.code, r.stdout)
	}
	if code := run([]string{"version", "extra"}); code != 2 {
		t.Errorf("gust version extra: exit %d, want 2", code)
	}
}

// TestBuildVersion: the module version and VCS settings of the build
// information, and a stamp overriding them.
func TestBuildVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abcdef0123456789"}, {Key: "vcs.time", Value: "2026-12-05T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	plat := " " + runtime.GOOS + "/" + runtime.GOARCH
	for _, tc := range []struct {
		bi           *debug.BuildInfo
		version, rev string
		want         string
	}{
		{bi: bi, want: "gust v1.2.3 revision abcdef012345+modified 2026-12-05T10:00:00Z go1.99" + plat},
		{bi: bi, version: "v2.0.0", rev: "fedcba9876543210", want: "gust v2.0.0 revision fedcba987654+modified 2026-12-05T10:00:00Z go1.99" + plat},
		{bi: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, want: "gust (devel) " + runtime.Version() + plat},
		{want: "gust (devel) " + runtime.Version() + plat},
	} {
		if got := buildVersion(tc.bi, tc.version, tc.rev); got != tc.want {
			t.Errorf("buildVersion(%v, %q, %q) = %q, want %q", tc.bi != nil, tc.version, tc.rev, got, tc.want)
		}
	}
}
