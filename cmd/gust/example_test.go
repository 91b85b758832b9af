package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite packaging/gust.toml from the flags")

const examplePath = "../../packaging/gust.toml"

// setting is a commented-out setting line of the example.
var setting = regexp.MustCompile(`^# [a-z_]+ = `)

// TestExampleConfig: the committed example configuration is exactly what
// the flags generate (go test ./cmd/gust -run TestExampleConfig -update,
// or make example-config, rewrites it), it names every setting, and with
// every setting uncommented it loads and gives the defaults.
func TestExampleConfig(t *testing.T) {
	var buf bytes.Buffer
	if err := exampleConfig(&buf); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(examplePath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, buf.Bytes()) {
		t.Fatalf("%s differs from what the flags of gust serve generate: run make example-config", examplePath)
	}
	cfg := serveDefaults()
	oc := httpDefaults()
	fs := newServeFlags(&cfg, &oc, io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" && !strings.Contains(buf.String(), "\n# "+tomlKey(f.Name)+" = ") {
			t.Errorf("setting %s missing from the example", tomlKey(f.Name))
		}
	})
	var uncommented strings.Builder
	for _, line := range strings.Split(buf.String(), "\n") {
		if setting.MatchString(line) {
			line = line[2:]
		}
		uncommented.WriteString(line + "\n")
	}
	path := filepath.Join(t.TempDir(), "gust.toml")
	if err := os.WriteFile(path, []byte(uncommented.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadServeConfig([]string{"--config", path}, io.Discard)
	if err != nil {
		t.Fatalf("the example with every setting uncommented: %v", err)
	}
	want, err := loadServeConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the example's values differ from the defaults:\n got %+v\nwant %+v", got, want)
	}
}
