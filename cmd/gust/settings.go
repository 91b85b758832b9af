package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Accepted forms, named in every parse error of a flag or TOML setting.
const (
	formDuration = "a duration such as 10s, 500ms or 1m30s, or a whole number of seconds"
	formInt      = "a whole number"
	formUint     = "a whole number, 0 or more"
	formFloat    = "a number"
	formBool     = "true or false"
)

// parseSeconds parses a duration setting: a Go duration ("10s", "1m30s",
// "250ms"), or a plain integer meaning seconds, as in Mosquitto's
// configuration, so that `connect_timeout = 10` is never 10 nanoseconds.
func parseSeconds(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n > int64(1<<63-1)/int64(time.Second) || n < -int64(1<<63-1)/int64(time.Second) {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(t)
}

// formValue wraps a flag's value so that a bad value is reported with the
// forms the setting accepts, and a duration also takes plain seconds.
type formValue struct {
	inner flag.Getter
	kind  string // one of the form* constants
}

func (v *formValue) String() string {
	if v.inner == nil {
		return ""
	}
	return v.inner.String()
}

// Get returns the wrapped value (flag.Getter).
func (v *formValue) Get() any { return v.inner.Get() }

// Set parses s in one of the accepted forms.
func (v *formValue) Set(s string) error {
	if v.kind == formDuration {
		d, err := parseSeconds(s)
		if err != nil {
			return errors.New("want " + formDuration)
		}
		s = d.String()
	}
	if err := v.inner.Set(s); err != nil {
		return errors.New("want " + v.kind)
	}
	return nil
}

// Each kind of value has its own type so that the flag package, which
// compares a default with a zero value of the flag's type, leaves zero
// defaults out of the help text.
type (
	boolFormValue  struct{ formValue }
	intFormValue   struct{ formValue }
	floatFormValue struct{ formValue }
	durFormValue   struct{ formValue }
)

// IsBoolFlag tells the flag package that --name alone means true.
func (*boolFormValue) IsBoolFlag() bool { return true }

func (v *boolFormValue) String() string  { return zeroOr(&v.formValue, "false") }
func (v *intFormValue) String() string   { return zeroOr(&v.formValue, "0") }
func (v *floatFormValue) String() string { return zeroOr(&v.formValue, "0") }
func (v *durFormValue) String() string   { return zeroOr(&v.formValue, "0") }

func zeroOr(v *formValue, zero string) string {
	if v.inner == nil {
		return zero
	}
	if d, ok := v.inner.Get().(time.Duration); ok && d == 0 {
		return "0"
	}
	return v.inner.String()
}

// withForms wraps every flag of fs whose value is a standard one (bool,
// integer, float, duration), so that durations accept plain seconds and
// every parse error names the accepted forms. Other values (strings,
// sizes) keep their own parsing, whose errors name their forms already.
// fs.Usage becomes the flag list (printDefaults); set a custom one after.
func withForms(fs *flag.FlagSet) *flag.FlagSet {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
		printDefaults(fs)
	}
	fs.VisitAll(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok {
			return
		}
		switch g.Get().(type) {
		case bool:
			f.Value = &boolFormValue{formValue{inner: g, kind: formBool}}
		case time.Duration:
			f.Value = &durFormValue{formValue{inner: g, kind: formDuration}}
			if d, err := time.ParseDuration(f.DefValue); err == nil && d == 0 {
				f.DefValue = "0"
			}
		case int, int64:
			f.Value = &intFormValue{formValue{inner: g, kind: formInt}}
		case uint, uint64:
			f.Value = &intFormValue{formValue{inner: g, kind: formUint}}
		case float64:
			f.Value = &floatFormValue{formValue{inner: g, kind: formFloat}}
		}
	})
	return fs
}

// kindString is the flagKind of a plain string flag.
const kindString = "a string"

// flagKind is the form a flag's value takes: one of the form* constants,
// kindString, or "" for a value with its own parser (such as a size).
func flagKind(f *flag.Flag) string {
	if v, ok := f.Value.(interface{ form() *formValue }); ok {
		return v.form().kind
	}
	if g, ok := f.Value.(flag.Getter); ok {
		if _, ok := g.Get().(string); ok {
			return kindString
		}
	}
	return ""
}

// typeNames name a flag's argument in the help text, by kind.
var typeNames = map[string]string{
	formDuration: "duration", formInt: "int", formUint: "uint", formFloat: "float", kindString: "string", "": "value",
}

// printDefaults is flag.PrintDefaults with the argument named by kind
// ("int", "duration") rather than "value" for the wrapped flags.
func printDefaults(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		kind := flagKind(f)
		if !strings.Contains(f.Usage, "`") {
			name = typeNames[kind]
		}
		var b strings.Builder
		b.WriteString("  -" + f.Name)
		if kind != formBool {
			b.WriteString(" " + name)
		}
		if b.Len() <= 4 { // a one-letter bool: usage on the same line
			b.WriteString("\t")
		} else {
			b.WriteString("\n    \t")
		}
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		if def := f.DefValue; def != "" && def != "0" && def != "false" && def != "[]" {
			if kind == kindString {
				def = strconv.Quote(def)
			}
			b.WriteString(" (default " + def + ")")
		}
		fmt.Fprintln(fs.Output(), b.String())
	})
}

func (v *formValue) form() *formValue { return v }

// tomlKey is the TOML key of a flag: its name with '_' for '-'.
func tomlKey(flagName string) string { return strings.ReplaceAll(flagName, "-", "_") }

// applyConfigFile reads the TOML file at path and sets, for each key, the
// flag of fs of the same name (with '-' for '_'), so the file and the
// command line share one table of settings and one parser per setting.
// It returns the keys the file sets. Unknown keys, tables and values of the
// wrong type are errors naming the file, line and setting. Flags listed in
// skip (such as "config") have no key.
func applyConfigFile(fs *flag.FlagSet, path string, skip ...string) (map[string]bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return lineOf(data, keys[i]) < lineOf(data, keys[j]) })
	set := make(map[string]bool, len(keys))
	for _, key := range keys {
		if _, blocks := raw[key].([]map[string]any); key == listenerTable && blocks {
			set[key] = true // decoded by readListenerBlocks
			continue
		}
		at := fmt.Sprintf("config file %s: %s", path, key)
		if n := lineOf(data, key); n > 0 {
			at = fmt.Sprintf("config file %s:%d: %s", path, n, key)
		}
		if key == listenerTable {
			return nil, fmt.Errorf("%s: want [[listener]] blocks (an array of tables), not %s", at, tomlTypeName(raw[key]))
		}
		f := fs.Lookup(strings.ReplaceAll(key, "_", "-"))
		if f == nil || strings.Contains(key, "-") || contains(skip, f.Name) {
			return nil, fmt.Errorf("%s: unknown setting (gust serve -h lists them, with '_' for '-')", at)
		}
		s, err := tomlText(raw[key], flagKind(f))
		if err == nil {
			err = f.Value.Set(s)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		set[key] = true
	}
	return set, nil
}

// tomlText turns a decoded TOML value into the text the flag parses; kind
// is the flag's form, and a TOML type that cannot mean it is refused.
func tomlText(v any, kind string) (string, error) {
	switch x := v.(type) {
	case bool:
		if kind == formBool {
			return strconv.FormatBool(x), nil
		}
	case int64:
		if kind != formBool && kind != kindString {
			return strconv.FormatInt(x, 10), nil
		}
	case string:
		if kind == "" || kind == kindString || kind == formDuration {
			return x, nil
		}
	case float64:
		if kind == formFloat {
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		}
	}
	want := kind
	switch kind {
	case "":
		want = "a string or a number"
	case formDuration:
		want = `a duration string such as "10s", or a whole number of seconds`
	}
	return "", fmt.Errorf("want %s, not %s", want, tomlTypeName(v))
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case string:
		return "a string"
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

// lineOf is the 1-based line of the first `key =` in a TOML text, 0 if
// none is found (a key written quoted, for instance).
func lineOf(data []byte, key string) int {
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, key); ok && strings.HasPrefix(strings.TrimSpace(rest), "=") {
			return i + 1
		}
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
