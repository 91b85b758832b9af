package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

// version and revision are stamped by release builds (make release:
// -ldflags "-X main.version=... -X main.revision=..."); otherwise the
// module version and VCS revision of the build information are used.
var version, revision string

// buildVersion describes this binary: version, VCS revision and time (when
// known), Go version and platform. bi may be nil.
func buildVersion(bi *debug.BuildInfo, version, revision string) string {
	v, rev, at, dirty := version, revision, "", false
	if bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
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
	goVersion := runtime.Version()
	if bi != nil && bi.GoVersion != "" {
		goVersion = bi.GoVersion
	}
	return s + " " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// runVersion implements `gust version` and `gust --version`.
func runVersion(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			fmt.Println("usage: gust version\n\nPrints the version, the VCS revision it was built from (when known), the Go version and the platform.")
			return 0
		}
		fmt.Fprintf(os.Stderr, "gust version: unexpected argument %q\n", args[0])
		return 2
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Println(buildVersion(bi, version, revision))
	return 0
}
