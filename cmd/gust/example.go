package main

import (
	"flag"
	"io"
	"strconv"
	"strings"
)

// exampleHeader opens the example configuration file.
const exampleHeader = `# Gust broker configuration: gust serve --config /etc/gust/gust.toml
#
# Generated from the flags of 'gust serve' (make example-config); do not edit by hand.
# Every setting is a flag of the same name with '-' for '_' (max_inflight is --max-inflight),
# and a flag given on the command line overrides the file. Each setting below is commented
# out and shows its default; uncomment and change the ones you need.
#
# Durations: a duration string such as "10s", "1m30s" or "250ms", or a whole number of
# seconds (connect_timeout = 10 is ten seconds). Sizes (memory_limit): "512MiB", "1GiB",
# a number of bytes, or "auto". 'kill -HUP' reloads the password and ACL files and the TLS
# certificates; other settings are read at start.
`

// exampleConfig writes the example configuration file: each setting of
// `gust serve` with its description and default, in flag name order.
func exampleConfig(w io.Writer) error {
	cfg := serveDefaults()
	fs := newServeFlags(&cfg, io.Discard)
	var b strings.Builder
	b.WriteString(exampleHeader)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		_, usage := flag.UnquoteUsage(f)
		b.WriteString("\n")
		for _, line := range wrap(usage, 96) {
			b.WriteString("# " + line + "\n")
		}
		b.WriteString("# " + tomlKey(f.Name) + " = " + tomlValue(f) + "\n")
	})
	b.WriteString(exampleListeners)
	_, err := io.WriteString(w, b.String())
	return err
}

// tomlValue is a flag's default written as a TOML value.
func tomlValue(f *flag.Flag) string {
	switch flagKind(f) {
	case formBool, formInt, formUint, formFloat:
		return f.DefValue
	case formDuration:
		if f.DefValue == "0" {
			return "0"
		}
	}
	return strconv.Quote(f.DefValue)
}

// wrap splits s into lines of at most width bytes at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}
