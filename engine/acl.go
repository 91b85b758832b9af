package engine

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gust-mqtt/gust/trie"
)

// ACL is an access control list file in Mosquitto's format (acl_file in
// mosquitto.conf(5)), so that an existing file works unchanged:
//
//	# a comment (a line whose first non-blank character is '#')
//	topic [read|write|readwrite|deny] FILTER   # rules for anonymous clients
//	user NAME
//	topic [read|write|readwrite|deny] FILTER   # rules for user NAME
//	pattern [read|write|readwrite|deny] FILTER # rules for every client
//
// The access is optional (readwrite when absent), FILTER is the rest of the
// line (it may hold spaces) and may use '+' and '#'. Lines before the first
// `user` line apply to clients that gave no user name; `topic` lines after
// a `user` line apply to that user; `pattern` lines apply to every client
// wherever they are, with a level "%c" standing for the client id and "%u"
// for the user name (a pattern with "%u" does not apply to anonymous
// clients).
//
// A client's access to a topic is decided as Mosquitto 2 decides it: first
// by the client's own section (the user's, or the anonymous one), where a
// matching deny wins over any grant; only if that section has no matching
// rule with the access asked for do the patterns decide, deny again
// winning. A topic that starts with '$' is matched only by rules that
// start with '$'. Nothing matched means denied. A client whose id or user
// name holds '+' or '#' is denied whatever the patterns would decide.
//
// write governs PUBLISH and wills. read governs SUBSCRIBE and delivery: a
// filter is refused when no topic it matches can be readable (a deny rule
// covers it, or no read rule overlaps it), granted outright when every
// topic it matches is readable (a read rule covers it and no deny rule
// overlaps it), and otherwise granted with a read check of each message
// delivered through it (retained ones included), as Mosquitto checks every
// delivery: a subscription to '#' beside `pattern deny secret/#` receives
// everything but secret/#.
//
// An ACL is immutable once parsed. Safe from any goroutine.
type ACL struct {
	anon     []aclRule
	users    map[string][]aclRule
	patterns []aclRule
	rules    int
}

// aclAccess is what a rule grants: read, write or both; 0 is deny.
type aclAccess uint8

const (
	aclRead  aclAccess = 1
	aclWrite aclAccess = 2
	aclDeny  aclAccess = 0
)

// aclRule is one `topic` or `pattern` line.
type aclRule struct {
	access aclAccess
	filter string
	// subst is set for a pattern whose filter has a "%c" or "%u" level;
	// user for one with "%u".
	subst, user bool
}

// Rules returns the number of `topic` and `pattern` rules.
func (a *ACL) Rules() int { return a.rules }

// aclSubject is who asks: a connected client's user name (anonymous when
// it gave none) and client id. Valid during the call only.
type aclSubject struct {
	user string
	anon bool
	id   string
}

// LoadACL reads the ACL file at path (see ACL).
func LoadACL(path string) (*ACL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrACLFile, err)
	}
	defer f.Close()
	return ParseACL(f, path)
}

// ParseACL reads an ACL file from r; an error names file (for messages)
// and the line, and wraps ErrACLFile.
func ParseACL(r io.Reader, file string) (*ACL, error) {
	a := &ACL{users: make(map[string][]aclRule)}
	sc := bufio.NewScanner(r)
	var user *string
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		kw, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(kw, '\t'); i >= 0 {
			kw, rest = line[:i], line[i+1:]
		}
		rest = strings.TrimLeft(rest, " \t")
		switch kw {
		case "user":
			if rest == "" {
				return nil, fmt.Errorf("%s:%d: %w: user without a name", file, n, ErrACLFile)
			}
			user = &rest
			if _, ok := a.users[rest]; !ok {
				a.users[rest] = nil
			}
		case "topic", "pattern":
			r, err := parseACLRule(rest, kw == "pattern")
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w: %s", file, n, ErrACLFile, err)
			}
			a.rules++
			switch {
			case kw == "pattern":
				a.patterns = append(a.patterns, r)
			case user == nil:
				a.anon = append(a.anon, r)
			default:
				a.users[*user] = append(a.users[*user], r)
			}
		default:
			return nil, fmt.Errorf("%s:%d: %w: unknown keyword %q (want topic, pattern or user)", file, n, ErrACLFile, kw)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w: %w", file, n+1, ErrACLFile, err)
	}
	return a, nil
}

// parseACLRule parses what follows `topic` or `pattern`: an optional
// access and the filter.
func parseACLRule(s string, pattern bool) (aclRule, error) {
	r := aclRule{access: aclRead | aclWrite}
	if s == "" {
		return r, fmt.Errorf("missing topic filter")
	}
	first, rest, ok := strings.Cut(s, " ")
	if ok {
		switch first {
		case "read":
			r.access = aclRead
		case "write":
			r.access = aclWrite
		case "readwrite":
		case "deny":
			r.access = aclDeny
		default:
			return r, fmt.Errorf("access %q: want read, write, readwrite or deny", first)
		}
		s = strings.TrimLeft(rest, " ")
	}
	r.filter = s
	if err := trie.ValidTopicFilter([]byte(s)); err != nil {
		return r, fmt.Errorf("topic filter %q: %v", s, err)
	}
	for lv := range strings.SplitSeq(s, "/") {
		switch {
		case lv == "%c" && pattern:
			r.subst = true
		case lv == "%u" && pattern:
			r.subst, r.user = true, true
		case pattern && (strings.Contains(lv, "%c") || strings.Contains(lv, "%u")):
			return r, fmt.Errorf("topic filter %q: %%c and %%u must be a whole level", s)
		}
	}
	return r, nil
}

// section returns the rules of who's own section: the user's, or the
// anonymous ones.
func (a *ACL) section(who *aclSubject) []aclRule {
	if who.anon {
		return a.anon
	}
	return a.users[who.user]
}

// canWrite reports whether who may publish to topic.
func (a *ACL) canWrite(who *aclSubject, topic string) bool {
	return a.decide(who, topic, aclWrite, aclMatch, aclMatch)
}

// canRead reports whether who may receive a message published to topic.
func (a *ACL) canRead(who *aclSubject, topic string) bool {
	return a.decide(who, topic, aclRead, aclMatch, aclMatch)
}

// subGrant is the ACL's answer to a SUBSCRIBE.
type subGrant uint8

const (
	subRefused subGrant = iota // no topic the filter matches is readable
	subGranted                 // every topic it matches is readable
	subChecked                 // granted; each delivery is checked (canRead)
)

// canSubscribe decides whether who may subscribe to filter (without a
// $share prefix): granted if a read rule covers it and no deny of the
// deciding section overlaps it, refused if no topic it matches can be
// read, else granted with a check per delivery.
func (a *ACL) canSubscribe(who *aclSubject, filter string) subGrant {
	if a.decide(who, filter, aclRead, aclCovers, aclOverlaps) {
		return subGranted
	}
	if a.mayReadSome(who, filter) {
		return subChecked
	}
	return subRefused
}

// mayReadSome reports whether some topic filter matches may be readable
// for who: who's section does not deny all of it, and a read rule of the
// section, or of the patterns when the section does not grant, overlaps
// it without a pattern deny covering it.
func (a *ACL) mayReadSome(who *aclSubject, filter string) bool {
	sec := a.section(who)
	for i := range sec {
		if r := &sec[i]; r.access == aclDeny && aclCovers(r.filter, filter) {
			return false
		}
	}
	for i := range sec {
		if r := &sec[i]; r.access&aclRead != 0 && aclOverlaps(r.filter, filter) {
			return true
		}
	}
	if len(a.patterns) == 0 || strings.ContainsAny(who.id, "+#") || strings.ContainsAny(who.user, "+#") {
		return false
	}
	some := false
	for i := range a.patterns {
		r := &a.patterns[i]
		if r.user && who.anon {
			continue
		}
		f := r.filter
		if r.subst {
			f = expandPattern(f, who)
		}
		switch {
		case r.access == aclDeny && aclCovers(f, filter):
			return false
		case r.access&aclRead != 0 && aclOverlaps(f, filter):
			some = true
		}
	}
	return some
}

// decide runs who's section and then the patterns over s, deny first: a
// deny rule for which denies(rule, s) holds denies; a rule granting want
// for which grants(rule, s) holds grants.
func (a *ACL) decide(who *aclSubject, s string, want aclAccess, grants, denies func(rule, s string) bool) bool {
	if ok, decided := decideIn(a.section(who), nil, s, want, grants, denies); decided {
		return ok
	}
	if len(a.patterns) == 0 {
		return false
	}
	if strings.ContainsAny(who.id, "+#") || strings.ContainsAny(who.user, "+#") {
		return false // it would widen its own patterns
	}
	ok, _ := decideIn(a.patterns, who, s, want, grants, denies)
	return ok
}

// decideIn applies rules to s (patterns expanded for who when who is not
// nil): denied if a deny matches, granted if a rule grants want, else
// undecided.
func decideIn(rules []aclRule, who *aclSubject, s string, want aclAccess, grants, denies func(rule, s string) bool) (ok, decided bool) {
	granted := false
	for i := range rules {
		r := &rules[i]
		if r.access != aclDeny && (granted || r.access&want == 0) {
			continue
		}
		f := r.filter
		if who != nil && r.subst {
			if r.user && who.anon {
				continue
			}
			f = expandPattern(f, who)
		}
		if r.access == aclDeny {
			if denies(f, s) {
				return false, true
			}
		} else if grants(f, s) {
			granted = true
		}
	}
	return granted, granted
}

// expandPattern replaces the "%c" and "%u" levels of filter with who's
// client id and user name.
func expandPattern(filter string, who *aclSubject) string {
	var sb strings.Builder
	sb.Grow(len(filter) + len(who.id) + len(who.user))
	for i, lv := range strings.Split(filter, "/") {
		if i > 0 {
			sb.WriteByte('/')
		}
		switch lv {
		case "%c":
			sb.WriteString(who.id)
		case "%u":
			sb.WriteString(who.user)
		default:
			sb.WriteString(lv)
		}
	}
	return sb.String()
}

// dollar reports whether a topic or filter starts with '$': such topics
// are matched only by rules that start with '$' too.
func dollar(s string) bool { return len(s) > 0 && s[0] == '$' }

// aclMatch reports whether filter matches topic.
func aclMatch(filter, topic string) bool {
	if dollar(topic) && !dollar(filter) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore:
			return !tmore
		case !tmore:
			return frest == "#" // "a/#" matches "a"
		}
		filter, topic = frest, trest
	}
}

// aclCovers reports whether filter r matches every topic filter f
// matches.
func aclCovers(r, f string) bool {
	if dollar(r) != dollar(f) {
		return false
	}
	for first := true; ; first = false {
		rl, rrest, rmore := strings.Cut(r, "/")
		if rl == "#" {
			return true
		}
		fl, frest, fmore := strings.Cut(f, "/")
		if fl == "#" {
			// "+/#" covers "#", but "a/+/#" not "a/#", which matches "a".
			return first && rl == "+" && rmore && rrest == "#"
		}
		if rl != "+" && rl != fl {
			return false // a literal never covers '+'
		}
		switch {
		case !rmore:
			return !fmore
		case !fmore:
			return rrest == "#"
		}
		r, f = rrest, frest
	}
}

// aclOverlaps reports whether some topic matches both filters d and f.
func aclOverlaps(d, f string) bool {
	if dollar(d) != dollar(f) {
		return false
	}
	for {
		dl, drest, dmore := strings.Cut(d, "/")
		fl, frest, fmore := strings.Cut(f, "/")
		if dl == "#" || fl == "#" {
			return true
		}
		if dl != "+" && fl != "+" && dl != fl {
			return false
		}
		switch {
		case !dmore && !fmore:
			return true
		case !dmore:
			return frest == "#"
		case !fmore:
			return drest == "#"
		}
		d, f = drest, frest
	}
}
