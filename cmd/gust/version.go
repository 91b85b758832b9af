package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// version is stamped by release builds (make release:
// -ldflags "-X main.version=..."); otherwise the module version from the
// build information is used.
var version string

// buildVersion describes this binary: version, VCS revision and time (when
// the build recorded them), Go version and platform.
func buildVersion() string {
	v, rev, at, dirty := version, "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	s := "gust " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " revision " + rev
		if dirty {
			s += "+modified"
		}
		if at != "" {
			s += " " + at
		}
	}
	return s + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// runVersion implements `gust version` and `gust --version`.
func runVersion(args []string) int {
	if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "-help" {
		fmt.Fprintf(os.Stderr, "gust version: unexpected argument %q\n", args[0])
		return 2
	}
	if len(args) > 0 {
		fmt.Println("usage: gust version\n\nPrints the version, the VCS revision it was built from (when recorded), the Go version and the platform.")
		return 0
	}
	fmt.Println(buildVersion())
	return 0
}
