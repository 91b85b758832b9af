package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWritePage writes a run from a committed standard run's records, as
// the harness does after measuring: its page (index.html) shows every
// plot the run drew and every table and section of its summary.
func TestWritePage(t *testing.T) {
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "results", "2026-12-05T2219-standard-e3c8cba", "raw.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	var targets []Target
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
		if !seen[r.Target] {
			seen[r.Target] = true
			targets = append(targets, Target{Name: r.Target})
		}
	}
	h := &harness{cfg: Config{Label: "page", ResultsDir: t.TempDir(), Size: Standard, Plots: true, Reps: 3,
		Scenarios: []string{"fanin", "fanout", "p2p", "conn"}}, root: root, all: Scenarios(Standard),
		started: time.Now(), targets: targets}
	dir, err := h.write(recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, HTMLPage))
	if err != nil {
		t.Fatal("no page:", err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	svgs, _ := filepath.Glob(filepath.Join(dir, "*.svg"))
	if len(svgs) != 14 {
		t.Fatalf("%d plots drawn, want 14 (throughput and latency of 6 groups, 2 of conn)", len(svgs))
	}
	for _, s := range svgs {
		if !strings.Contains(html, `<img src="`+filepath.Base(s)+`"`) {
			t.Errorf("page does not show %s", filepath.Base(s))
		}
	}
	wantTables := len(regexp.MustCompile(`(?m)^\|---`).FindAllString(string(md), -1))
	if got := strings.Count(html, "<table>"); got != wantTables || got < 7 {
		t.Errorf("page has %d tables, summary.md %d (want at least 7)", got, wantTables)
	}
	for _, hd := range regexp.MustCompile(`(?m)^## (.*)$`).FindAllStringSubmatch(string(md), -1) {
		if !strings.Contains(html, ">"+hd[1]+"</h2>") {
			t.Errorf("page lacks section %q", hd[1])
		}
	}
	for _, want := range []string{"<td>gust</td>", `<td class="r">`, `<a href="env.txt">env.txt</a>`, `<nav>`} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Error("page refers to an external asset")
	}
}

// TestPagePlacesUnnamedPlots renders a summary that names no plots: each
// plot found in the directory goes to its scenario's section, the rest
// to a last one; Markdown markup and HTML in the text are rendered safely.
func TestPagePlacesUnnamedPlots(t *testing.T) {
	dir := t.TempDir()
	md := "# Run\n\nSee [env](env.txt) and `raw.jsonl`.\n\n## p2p, QoS 1\n\nPairs <script>x</script>.\n\n" +
		"| target | msg/s |\n|---|---:|\n| gust | 5 |\n\n## conn, QoS 0\n\n- one\n- two\n"
	for _, f := range []struct{ name, body string }{
		{"summary.md", md}, {"p2p-qos1-throughput.svg", "<svg/>"}, {"conn-rss-per-conn.svg", "<svg/>"}, {"odd.svg", "<svg/>"},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := RenderHTML(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, HTMLPage))
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	order := []string{
		`<a href="env.txt">env</a>`, `<code>raw.jsonl</code>`,
		`>p2p, QoS 1</h2>`, `&lt;script&gt;`, `<th class="r">msg/s</th>`, `<td class="r">5</td>`, `<img src="p2p-qos1-throughput.svg"`,
		`>conn, QoS 0</h2>`, `<li>one</li><li>two</li>`, `<img src="conn-rss-per-conn.svg"`,
		`>Other plots</h2>`, `<img src="odd.svg"`,
	}
	at := 0
	for _, want := range order {
		i := strings.Index(html[at:], want)
		if i < 0 {
			t.Fatalf("page lacks %s after offset %d:\n%s", want, at, html)
		}
		at += i + len(want)
	}
	if strings.Contains(html, "<script>") {
		t.Error("text rendered as markup")
	}
}
