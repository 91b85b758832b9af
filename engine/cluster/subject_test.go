package cluster

import (
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

func subjectMatches(filter, subject string) bool { return server.SubjectMatchesFilter(subject, filter) }

func TestAppendSubject(t *testing.T) {
	for _, c := range []struct{ topic, want string }{
		{"a/b/c", "p.m.a.b.c"},
		{"a", "p.m.a"},
		{"/a", "p.m.~.a"},
		{"a//b/", "p.m.a.~.b.~"},
		{"a.b/c d", "p.m.~612e62.~632064"},
		{"a/*/>", "p.m.a.~2a.~3e"},
		{"~x", "p.m.~7e78"},
		{"$SYS/x", "p.s.$SYS.x"},
		{"é", "p.m.~c3a9"},
	} {
		got := string(AppendSubject(nil, "p.", []byte(c.topic)))
		if got != c.want {
			t.Errorf("AppendSubject(%q) = %q, want %q", c.topic, got, c.want)
		}
		if !server.IsValidLiteralSubject(got) {
			t.Errorf("AppendSubject(%q) = %q: not a valid NATS subject", c.topic, got)
		}
	}
}

func TestFilterSubjects(t *testing.T) {
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{"a/b", []string{"p.m.a.b"}},
		{"a/+/c", []string{"p.m.a.*.c"}},
		{"a/#", []string{"p.m.a.>", "p.m.a"}},
		{"#", []string{"p.m.>"}},
		{"+", []string{"p.m.*"}},
		{"+/#", []string{"p.m.*.>", "p.m.*"}},
		{"$SYS/#", []string{"p.s.$SYS.>", "p.s.$SYS"}},
		{"a.b/*", []string{"p.m.~612e62.~2a"}},
		{"/#", []string{"p.m.~.>", "p.m.~"}},
	} {
		got := FilterSubjects("p.", c.filter)
		if !slices.Equal(got, c.want) {
			t.Errorf("FilterSubjects(%q) = %q, want %q", c.filter, got, c.want)
		}
		for _, s := range got {
			if !server.IsValidSubject(s) {
				t.Errorf("FilterSubjects(%q): %q is not a valid NATS subject", c.filter, s)
			}
		}
	}
}

// TestSubjectMatchesFilter checks, with NATS's own subject matching,
// that a topic's subject falls under its matching filters' subjects and
// not under the others'.
func TestSubjectMatchesFilter(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		match         bool
	}{
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"a/*", "a/x", false},
		{"a/*", "a/*", true},
		{"a/b.c", "a/b/c", false},
		{"a/b.c", "a/b.c", true},
	} {
		subj := string(AppendSubject(nil, "p.", []byte(c.topic)))
		got := false
		for _, f := range FilterSubjects("p.", c.filter) {
			got = got || subjectMatches(f, subj)
		}
		if got != c.match {
			t.Errorf("filter %q topic %q (subject %q): match %v, want %v", c.filter, c.topic, subj, got, c.match)
		}
	}
}
