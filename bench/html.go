package bench

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// The page of a run (index.html): the run's summary.md, its tables and its
// plots together, readable in a browser with nothing but the run
// directory. The page is rendered from summary.md (the harness's own
// Markdown, a small subset: headings, paragraphs, "- " lists, tables,
// images, `code` and [links](x)), so a committed run that has one can be
// rendered again (RenderHTML) without its harness state. Plots are linked
// relatively; a plot in the directory that summary.md does not name (one
// drawn later by Replot) is shown in the section of its scenario and QoS.

// HTMLPage is the name of a run's page.
const HTMLPage = "index.html"

// block is one element of the page: a heading (h1, h2, h3), a paragraph
// (p), a list (ul), a table, or a plot (img).
type block struct {
	Kind  string
	ID    string     // anchor of an h2
	Nav   bool       // the contents follow this h1 (the first)
	Text  []inline   // heading, paragraph
	Items [][]inline // list
	Head  []cell     // table
	Rows  [][]cell   // table
	Src   string     // img
	Alt   string     // img
}

// cell is one table cell: its content, and whether it is right-aligned.
type cell struct {
	Text  []inline
	Right bool
}

// inline is a run of text: plain, `code`, or a link.
type inline struct {
	Text string
	Code bool
	Href string
}

// page is what the template renders.
type page struct {
	Title    string
	Sections []block // the h2 headings, for the contents
	Blocks   []block
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
code { background: #f3f3f3; padding: 0 .2em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ccc; padding: .2em .5em; white-space: nowrap; }
th { background: #f3f3f3; vertical-align: bottom; white-space: normal; }
td.r, th.r { text-align: right; }
tr:nth-child(even) td { background: #fafafa; }
figure { display: inline-block; margin: .5em 1em .5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .8em; color: #666; }
nav ul { padding: 0; } nav li { display: inline; margin-right: 1em; }
td:first-child, th:first-child { position: sticky; left: 0; background: #fff; }
</style>
</head>
<body>
{{define "inl"}}{{range .}}{{if .Href}}<a href="{{.Href}}">{{.Text}}</a>{{else if .Code}}<code>{{.Text}}</code>{{else}}{{.Text}}{{end}}{{end}}{{end -}}
{{$sections := .Sections -}}
{{range .Blocks -}}
{{if eq .Kind "h1"}}<h1>{{template "inl" .Text}}</h1>
{{if and .Nav $sections}}<nav><ul>{{range $sections}}<li><a href="#{{.ID}}">{{template "inl" .Text}}</a></li>{{end}}</ul></nav>
{{end -}}
{{else if eq .Kind "h2"}}<h2 id="{{.ID}}">{{template "inl" .Text}}</h2>
{{else if eq .Kind "h3"}}<h3>{{template "inl" .Text}}</h3>
{{else if eq .Kind "p"}}<p>{{template "inl" .Text}}</p>
{{else if eq .Kind "ul"}}<ul>{{range .Items}}<li>{{template "inl" .}}</li>{{end}}</ul>
{{else if eq .Kind "table"}}<div class="scroll"><table>
<thead><tr>{{range .Head}}<th{{if .Right}} class="r"{{end}}>{{template "inl" .Text}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}
<tr>{{range .}}<td{{if .Right}} class="r"{{end}}>{{template "inl" .Text}}</td>{{end}}</tr>{{end}}
</tbody></table></div>
{{else if eq .Kind "img"}}<figure><a href="{{.Src}}"><img src="{{.Src}}" alt="{{.Alt}}"></a><figcaption>{{.Src}}</figcaption></figure>
{{end}}{{end -}}
</body>
</html>
`))

// RenderHTML writes dir's page (index.html) from its summary.md and the
// plots in dir.
func RenderHTML(dir string) error {
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		return err
	}
	svgs, err := filepath.Glob(filepath.Join(dir, "*.svg"))
	if err != nil {
		return err
	}
	for i, s := range svgs {
		svgs[i] = filepath.Base(s)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, buildPage(string(md), svgs)); err != nil {
		return fmt.Errorf("bench: %s: %w", dir, err)
	}
	return os.WriteFile(filepath.Join(dir, HTMLPage), buf.Bytes(), 0o644)
}

var (
	imageLine  = regexp.MustCompile(`^!\[([^\]]*)\]\(([^)\s]+)\)$`)
	sectionQoS = regexp.MustCompile(`^(\S+), QoS (\d)$`)
)

// buildPage parses the summary's Markdown into the page's blocks, adding
// the plots of svgs that it does not name to their sections (or to a last
// one).
func buildPage(md string, svgs []string) page {
	var p page
	named := map[string]bool{}
	var para []string
	flush := func() {
		if len(para) > 0 {
			p.Blocks = append(p.Blocks, block{Kind: "p", Text: inlines(strings.Join(para, " "))})
			para = nil
		}
	}
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " ")
		switch {
		case l == "":
			flush()
		case strings.HasPrefix(l, "# "), strings.HasPrefix(l, "## "), strings.HasPrefix(l, "### "):
			flush()
			level, text, _ := strings.Cut(l, " ")
			b := block{Kind: fmt.Sprintf("h%d", len(level)), Text: inlines(text)}
			if len(level) == 1 && p.Title == "" {
				p.Title, b.Nav = text, true
			}
			if len(level) == 2 {
				b.ID = fmt.Sprintf("s%d", len(p.Sections)+1)
				p.Sections = append(p.Sections, b)
			}
			p.Blocks = append(p.Blocks, b)
		case strings.HasPrefix(l, "|"):
			flush()
			j := i
			for j < len(lines) && strings.HasPrefix(lines[j], "|") {
				j++
			}
			p.Blocks = append(p.Blocks, parseTable(lines[i:j]))
			i = j - 1
		case strings.HasPrefix(l, "- "):
			flush()
			if n := len(p.Blocks); n == 0 || p.Blocks[n-1].Kind != "ul" {
				p.Blocks = append(p.Blocks, block{Kind: "ul"})
			}
			ul := &p.Blocks[len(p.Blocks)-1]
			ul.Items = append(ul.Items, inlines(l[2:]))
		case imageLine.MatchString(l):
			flush()
			m := imageLine.FindStringSubmatch(l)
			named[m[2]] = true
			p.Blocks = append(p.Blocks, block{Kind: "img", Alt: m[1], Src: m[2]})
		default:
			para = append(para, l)
		}
	}
	flush()
	p.addPlots(svgs, named)
	return p
}

// addPlots puts each plot of svgs not named by the summary after the
// blocks of the section it belongs to: "<scenario>-qos<n>-…" to the
// section "<scenario>, QoS <n>", "conn-…" to conn's; the rest to a last
// section.
func (p *page) addPlots(svgs []string, named map[string]bool) {
	var rest []string
	// Rates before latency, as the harness draws them.
	sort.Slice(svgs, func(i, j int) bool {
		li, lj := strings.HasSuffix(svgs[i], "-latency.svg"), strings.HasSuffix(svgs[j], "-latency.svg")
		if li != lj {
			return lj
		}
		return svgs[i] < svgs[j]
	})
	for _, s := range svgs {
		if named[s] {
			continue
		}
		at := -1
		for i, b := range p.Blocks {
			if b.Kind != "h2" {
				continue
			}
			m := sectionQoS.FindStringSubmatch(plain(b.Text))
			if m != nil && (strings.HasPrefix(s, m[1]+"-qos"+m[2]+"-") || m[1] == "conn" && strings.HasPrefix(s, "conn-")) {
				at = i
				break
			}
		}
		if at < 0 {
			rest = append(rest, s)
			continue
		}
		end := at + 1
		for end < len(p.Blocks) && p.Blocks[end].Kind != "h2" && p.Blocks[end].Kind != "h1" {
			end++
		}
		p.Blocks = append(p.Blocks[:end], append([]block{{Kind: "img", Alt: s, Src: s}}, p.Blocks[end:]...)...)
	}
	if len(rest) == 0 {
		return
	}
	h := block{Kind: "h2", ID: fmt.Sprintf("s%d", len(p.Sections)+1), Text: []inline{{Text: "Other plots"}}}
	p.Sections = append(p.Sections, h)
	p.Blocks = append(p.Blocks, h)
	for _, s := range rest {
		p.Blocks = append(p.Blocks, block{Kind: "img", Alt: s, Src: s})
	}
}

// parseTable parses the rows of a Markdown table: a header, the
// alignment row, the body.
func parseTable(rows []string) block {
	split := func(r string) []string {
		r = strings.TrimSpace(r)
		r = strings.TrimPrefix(r, "|")
		r = strings.TrimSuffix(r, "|")
		f := strings.Split(r, "|")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		return f
	}
	b := block{Kind: "table"}
	var right []bool
	for k, r := range rows {
		f := split(r)
		if k == 1 && isAlignRow(f) {
			for _, a := range f {
				right = append(right, strings.HasSuffix(a, ":") && !strings.HasPrefix(a, ":"))
			}
			continue
		}
		row := make([]cell, len(f))
		for i, t := range f {
			row[i] = cell{Text: inlines(t)}
		}
		if k == 0 {
			b.Head = row
			continue
		}
		b.Rows = append(b.Rows, row)
	}
	for _, row := range append([][]cell{b.Head}, b.Rows...) {
		for i := range row {
			row[i].Right = i < len(right) && right[i]
		}
	}
	return b
}

// isAlignRow reports whether f is a table's alignment row (---, ---:).
func isAlignRow(f []string) bool {
	for _, a := range f {
		if strings.Trim(a, ":-") != "" || !strings.Contains(a, "-") {
			return false
		}
	}
	return len(f) > 0
}

// inlines splits Markdown text into plain runs, `code` and [links](href).
func inlines(s string) []inline {
	var out []inline
	var text strings.Builder
	emit := func() {
		if text.Len() > 0 {
			out = append(out, inline{Text: text.String()})
			text.Reset()
		}
	}
	for len(s) > 0 {
		switch s[0] {
		case '`':
			if end := strings.IndexByte(s[1:], '`'); end >= 0 {
				emit()
				out = append(out, inline{Text: s[1 : 1+end], Code: true})
				s = s[2+end:]
				continue
			}
		case '[':
			if mid := strings.Index(s, "]("); mid > 0 {
				if end := strings.IndexByte(s[mid+2:], ')'); end >= 0 && !strings.ContainsAny(s[1:mid], "[]") {
					emit()
					out = append(out, inline{Text: s[1:mid], Href: s[mid+2 : mid+2+end]})
					s = s[mid+3+end:]
					continue
				}
			}
		}
		text.WriteByte(s[0])
		s = s[1:]
	}
	emit()
	return out
}

// plain is the text of inlines without markup.
func plain(in []inline) string {
	var b strings.Builder
	for _, x := range in {
		b.WriteString(x.Text)
	}
	return b.String()
}
