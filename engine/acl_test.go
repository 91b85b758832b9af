package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// aclTestFile exercises every rule kind: anonymous rules, user sections
// (one split in two), deny before and after grants, patterns with %c and
// %u, $SYS rules, comments and blank lines.
const aclTestFile = `# anonymous clients
topic read pub/#
topic deny pub/secret

  # an indented comment
user alice
topic readwrite a/#
topic deny a/secret/#
topic write w/only
topic r/only/+
user bob
topic read b/#
topic readwrite x/#
topic deny x/y
topic read $SYS/#
user alice
topic read more/alice
user with space
topic readwrite spaced topic/x

pattern write b/%u
pattern readwrite x/%u/#
pattern read clients/%c/#
pattern deny b/denied
`

func parseTestACL(t *testing.T, s string) *ACL {
	t.Helper()
	a, err := ParseACL(strings.NewReader(s), "test.acl")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestACLDecisions(t *testing.T) {
	a := parseTestACL(t, aclTestFile)
	if a.Rules() != 16 {
		t.Errorf("Rules() = %d, want 16", a.Rules())
	}
	anon := aclSubject{anon: true, id: "c0"}
	alice := aclSubject{user: "alice", id: "c1"}
	bob := aclSubject{user: "bob", id: "c2"}
	carol := aclSubject{user: "carol", id: "c3"} // no section: patterns only
	spaced := aclSubject{user: "with space", id: "c4"}
	evil := aclSubject{user: "ev+l", id: "c5"}
	for _, tc := range []struct {
		who   aclSubject
		topic string
		write bool
	}{
		{who: anon, topic: "pub/x"}, // read only
		{who: anon, topic: "other"},
		{who: alice, topic: "a/b", write: true},
		{who: alice, topic: "a", write: true}, // a/# matches its parent
		{who: alice, topic: "a/secret/x"},     // deny wins
		{who: alice, topic: "a/secret"},       // a/secret/# matches its parent
		{who: alice, topic: "w/only", write: true},
		{who: alice, topic: "r/only/1", write: true}, // no access given: readwrite
		{who: alice, topic: "b/alice", write: true},  // pattern
		{who: alice, topic: "more/alice"},            // second section of alice: read
		{who: bob, topic: "b/bob", write: true},      // section has read only: patterns decide
		{who: bob, topic: "b/denied"},                // read only in the section, pattern deny
		{who: bob, topic: "x/y"},                     // section deny after its grant
		{who: bob, topic: "x/z", write: true},
		{who: bob, topic: "$SYS/broker/x"},
		{who: carol, topic: "x/carol/1", write: true},
		{who: carol, topic: "x/bob/1"},
		{who: carol, topic: "a/b"},
		{who: anon, topic: "x/c0/1"}, // %u patterns skip anonymous clients
		{who: spaced, topic: "spaced topic/x", write: true},
		{who: evil, topic: "x/ev+l/1"},
	} {
		if got := a.canWrite(&tc.who, tc.topic); got != tc.write {
			t.Errorf("%+v write %q = %v, want %v", tc.who, tc.topic, got, tc.write)
		}
	}
	for _, tc := range []struct {
		who    aclSubject
		filter string
		want   subGrant
	}{
		{who: anon, filter: "pub/x", want: subGranted},
		{who: anon, filter: "pub/+/y", want: subGranted},
		{who: anon, filter: "pub/#", want: subChecked},      // overlaps the deny of pub/secret
		{who: anon, filter: "pub/+", want: subChecked},      // so does this
		{who: anon, filter: "pub/secret", want: subRefused}, // denied outright
		{who: anon, filter: "#", want: subChecked},          // pub/# is readable
		{who: anon, filter: "other/#", want: subRefused},    // nothing readable
		{who: alice, filter: "a/+", want: subChecked},       // matches a/secret, which a/secret/# denies
		{who: alice, filter: "a/c/+", want: subGranted},
		{who: alice, filter: "a/b/#", want: subGranted},
		{who: alice, filter: "a/#", want: subChecked}, // overlaps a/secret/#
		{who: alice, filter: "a/secret/+", want: subRefused},
		{who: alice, filter: "w/only", want: subRefused}, // write only
		{who: alice, filter: "r/only/+", want: subGranted},
		{who: alice, filter: "clients/c1/#", want: subGranted}, // pattern %c
		{who: alice, filter: "clients/+/#", want: subChecked},
		{who: alice, filter: "x/alice/#", want: subGranted},
		{who: bob, filter: "b/#", want: subGranted}, // section grants b/#: the pattern deny does not count
		{who: bob, filter: "$SYS/#", want: subGranted},
		{who: bob, filter: "#", want: subChecked},
		{who: bob, filter: "+/x", want: subChecked},
		{who: carol, filter: "x/carol/+", want: subGranted},
		{who: carol, filter: "b/+", want: subRefused}, // b/%u is write only
		{who: carol, filter: "b/denied", want: subRefused},
		{who: evil, filter: "clients/c5/#", want: subRefused},
	} {
		if got := a.canSubscribe(&tc.who, tc.filter); got != tc.want {
			t.Errorf("%+v subscribe %q = %v, want %v", tc.who, tc.filter, got, tc.want)
		}
	}
}

// TestACLSectionGrantBeatsPatternDeny: as in Mosquitto 2, a grant in the
// client's own section decides before the patterns are consulted.
func TestACLSectionGrantBeatsPatternDeny(t *testing.T) {
	a := parseTestACL(t, "user bob\ntopic readwrite b/#\npattern deny b/denied\n")
	bob := aclSubject{user: "bob", id: "x"}
	if !a.canWrite(&bob, "b/denied") {
		t.Error("section grant lost to a pattern deny")
	}
	if a.canSubscribe(&bob, "b/#") != subGranted {
		t.Error("subscribe b/# refused though the section grants it")
	}
}

func TestACLParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{name: "bad access", file: "topic rw a/b\n", want: "test.acl:1:"},
		{name: "missing topic", file: "# c\ntopic\n", want: "test.acl:2:"},
		{name: "user without name", file: "\n\nuser\n", want: "test.acl:3:"},
		{name: "unknown keyword", file: "topic a\nfoo bar\n", want: "test.acl:2: engine: bad ACL file: unknown keyword"},
		{name: "space without access", file: "topic a b\n", want: "test.acl:1:"},
		{name: "bad filter", file: "topic read a/#/b\n", want: "test.acl:1:"},
		{name: "partial substitution", file: "pattern read a/x%c\n", want: "whole level"},
	} {
		_, err := ParseACL(strings.NewReader(tc.file), "test.acl")
		if err == nil || !errors.Is(err, ErrACLFile) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one with %q wrapping ErrACLFile", tc.name, err, tc.want)
		}
	}
	if _, err := LoadACL("/nonexistent/acl"); !errors.Is(err, ErrACLFile) {
		t.Errorf("missing file: %v", err)
	}
}

// TestACLEmptyDeniesAll: a file without rules denies everything, as
// Mosquitto does.
func TestACLEmptyDeniesAll(t *testing.T) {
	a := parseTestACL(t, "# nothing\n\n")
	who := aclSubject{anon: true, id: "x"}
	if a.canWrite(&who, "a") || a.canSubscribe(&who, "a") != subRefused {
		t.Error("empty ACL granted access")
	}
}

func TestACLMatchCoverOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b                    string
		match, covers, overlaps bool
	}{
		{a: "a/b", b: "a/b", match: true, covers: true, overlaps: true},
		{a: "a/+", b: "a/b", match: true, covers: true, overlaps: true},
		{a: "a/b", b: "a/+", covers: false, overlaps: true},
		{a: "a/#", b: "a", match: true, covers: true, overlaps: true},
		{a: "a/#", b: "a/#", covers: true, overlaps: true},
		{a: "a/+/#", b: "a/#", covers: false, overlaps: true},
		{a: "+/#", b: "#", covers: true, overlaps: true},
		{a: "+", b: "#", covers: false, overlaps: true},
		{a: "#", b: "$SYS/x", covers: false, overlaps: false},
		{a: "$SYS/#", b: "#", covers: false, overlaps: false},
		{a: "$SYS/#", b: "$SYS/x", match: true, covers: true, overlaps: true},
		{a: "a/b/c", b: "a/b", covers: false, overlaps: false},
		{a: "a/b", b: "a/b/#", covers: false, overlaps: true},
		{a: "a/c", b: "a/b/#", covers: false, overlaps: false},
		{a: "a/+/c", b: "a/b/+", covers: false, overlaps: true},
	} {
		if !strings.ContainsAny(tc.b, "+#") {
			if got := aclMatch(tc.a, tc.b); got != tc.match {
				t.Errorf("aclMatch(%q, %q) = %v", tc.a, tc.b, got)
			}
		}
		if got := aclCovers(tc.a, tc.b); got != tc.covers {
			t.Errorf("aclCovers(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := aclOverlaps(tc.a, tc.b); got != tc.overlaps {
			t.Errorf("aclOverlaps(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := aclOverlaps(tc.b, tc.a); got != tc.overlaps {
			t.Errorf("aclOverlaps(%q, %q) = %v (reversed)", tc.b, tc.a, got)
		}
	}
}

// TestAllocsACLPublishPath: with an ACL, the steady-state QoS 0 publish
// path still allocates nothing: the decision comes from the loop's cache.
func TestAllocsACLPublishPath(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates; run without -race")
	}
	file := writeACLFile(t, aclBenchRules(1000)+"topic readwrite a/#\n")
	hs := newHarness(t, 2, func(c *Config) { c.ACLFile = file })
	pub := hs.conn(0, "pub")
	same := hs.conn(0, "same")
	other := hs.conn(1, "other")
	hs.subscribe(same, "a/+/c", 0)
	hs.subscribe(other, "a/#", 0)
	pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("a/b/c"), Payload: make([]byte, 64)})
	run := func() {
		hs.send(pub, pkt)
		hs.pump()
	}
	for range 100 {
		run()
	}
	s0, o0 := same.written, other.written
	allocs := testing.AllocsPerRun(1000, run)
	if same.written == s0 || other.written == o0 {
		t.Fatalf("no delivery: same %d->%d, other %d->%d", s0, same.written, o0, other.written)
	}
	if allocs != 0 {
		t.Fatalf("QoS 0 publish path with an ACL: %v allocs per message, want 0", allocs)
	}
}

// TestACLCacheBounded: the loop's cache of decisions stays under
// aclCacheBytes however many topics a client publishes to, and a reload
// empties it.
func TestACLCacheBounded(t *testing.T) {
	file := writeACLFile(t, "topic write t/#\n")
	hs := newHarness(t, 1, func(c *Config) { c.ACLFile = file })
	pub := hs.conn(0, "pub")
	l := hs.loop(0)
	topic := make([]byte, 1000)
	for i := range topic {
		topic[i] = 'x'
	}
	copy(topic, "t/")
	for i := range 3000 {
		topic[2], topic[3], topic[4] = byte('a'+i%26), byte('a'+i/26%26), byte('a'+i/676)
		hs.send(pub, codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: topic, Payload: []byte("p")}))
		if l.acl.bytes > aclCacheBytes {
			t.Fatalf("cache at %d bytes, bound %d", l.acl.bytes, aclCacheBytes)
		}
	}
	if len(l.acl.m) == 0 {
		t.Fatal("nothing cached")
	}
	if err := hs.b.ReloadACLFile(); err != nil {
		t.Fatal(err)
	}
	hs.send(pub, codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("t/1"), Payload: []byte("p")}))
	if len(l.acl.m) != 1 {
		t.Errorf("after a reload the cache holds %d entries, want 1", len(l.acl.m))
	}
}
