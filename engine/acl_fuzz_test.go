package engine

import (
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/trie"
)

// FuzzACL parses arbitrary ACL files without panicking and checks that a
// granted SUBSCRIBE is sound: every topic the filter matches is readable
// by the same client, topic by topic, under the same rules.
func FuzzACL(f *testing.F) {
	f.Add(aclTestFile, "a/+", "a/b", "alice", "c1")
	f.Add(aclTestFile, "x/#", "x/y", "bob", "c2")
	f.Add("topic read #\ntopic deny s/#\n", "+/x", "s/x", "", "c")
	f.Add("pattern read d/%c/#\npattern deny d/+/s\n", "d/c/#", "d/c/s", "u", "c")
	f.Add("topic read $SYS/#\ntopic deny $SYS/x\n", "$SYS/+", "$SYS/x", "", "id")
	f.Fuzz(func(t *testing.T, file, filter, topic, user, id string) {
		a, err := ParseACL(strings.NewReader(file), "fuzz")
		if err != nil {
			return
		}
		who := aclSubject{user: user, anon: user == "", id: id}
		_ = a.canWrite(&who, topic)
		if trie.ValidTopicFilter([]byte(filter)) != nil || trie.ValidTopicName([]byte(topic)) != nil {
			return
		}
		if !aclMatch(filter, topic) {
			return
		}
		switch g, read := a.canSubscribe(&who, filter), a.canRead(&who, topic); {
		case g == subGranted && !read:
			t.Fatalf("filter %q granted but its topic %q is not readable", filter, topic)
		case g == subRefused && read:
			t.Fatalf("filter %q refused but its topic %q is readable", filter, topic)
		}
	})
}
