package trie

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidTopicName(t *testing.T) {
	cases := []struct {
		name  string
		topic string
		want  error
	}{
		{name: "simple", topic: "a/b/c"},
		{name: "slash alone is two empty levels", topic: "/"},
		{name: "empty levels", topic: "a//b/"},
		{name: "dollar", topic: "$SYS/broker"},
		{name: "space", topic: " "},
		{name: "utf8", topic: "капуста/β"},
		{name: "bom kept [MQTT-1.5.4-3]", topic: "\uFEFFa"},
		{name: "empty [MQTT-4.7.3-1]", topic: "", want: ErrEmptyTopic},
		{name: "plus [MQTT-3.3.2-2]", topic: "a/+", want: ErrWildcardInName},
		{name: "hash [MQTT-3.3.2-2]", topic: "#", want: ErrWildcardInName},
		{name: "plus inside level [MQTT-3.3.2-2]", topic: "a+b", want: ErrWildcardInName},
		{name: "null [MQTT-4.7.3-2]", topic: "a\x00b", want: ErrNullChar},
		{name: "bad utf8 [MQTT-1.5.4-1]", topic: "a\xffb", want: ErrInvalidUTF8},
		{name: "surrogate [MQTT-1.5.4-1]", topic: "a\xed\xa0\x80", want: ErrInvalidUTF8},
		{name: "overlong null [MQTT-1.5.4-1]", topic: "a\xc0\x80", want: ErrInvalidUTF8},
		{name: "max length [MQTT-4.7.3-3]", topic: strings.Repeat("a", MaxTopicLen)},
		{name: "too long [MQTT-4.7.3-3]", topic: strings.Repeat("a", MaxTopicLen+1), want: ErrTopicTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidTopicName([]byte(tc.topic)); !reflect.DeepEqual(tc.want, got) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidTopicFilter(t *testing.T) {
	cases := []struct {
		name   string
		filter string
		want   error
	}{
		{name: "exact", filter: "a/b"},
		{name: "hash alone", filter: "#"},
		{name: "hash last", filter: "a/b/#"},
		{name: "hash after empty level", filter: "/#"},
		{name: "plus alone", filter: "+"},
		{name: "plus levels", filter: "+/a/+/+"},
		{name: "plus empty neighbours", filter: "/+/"},
		{name: "plus then hash", filter: "+/#"},
		{name: "slash", filter: "/"},
		{name: "dollar", filter: "$SYS/#"},
		{name: "empty [MQTT-4.7.3-1]", filter: "", want: ErrEmptyTopic},
		{name: "hash not last [MQTT-4.7.1-2]", filter: "a/#/b", want: ErrBadMultiLevel},
		{name: "hash in level [MQTT-4.7.1-2]", filter: "a/b#", want: ErrBadMultiLevel},
		{name: "hash before level [MQTT-4.7.1-2]", filter: "#a", want: ErrBadMultiLevel},
		{name: "double hash [MQTT-4.7.1-2]", filter: "##", want: ErrBadMultiLevel},
		{name: "plus in level [MQTT-4.7.1-3]", filter: "a/b+", want: ErrBadSingleLevel},
		{name: "plus before text [MQTT-4.7.1-3]", filter: "+a/b", want: ErrBadSingleLevel},
		{name: "double plus [MQTT-4.7.1-3]", filter: "++", want: ErrBadSingleLevel},
		{name: "null [MQTT-4.7.3-2]", filter: "a/\x00", want: ErrNullChar},
		{name: "bad utf8 [MQTT-1.5.4-1]", filter: "\xc3", want: ErrInvalidUTF8},
		{name: "too long [MQTT-4.7.3-3]", filter: strings.Repeat("+/", MaxTopicLen/2+1), want: ErrTopicTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidTopicFilter([]byte(tc.filter)); !reflect.DeepEqual(tc.want, got) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseShared(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		group  string
		filter string
		shared bool
		err    error
	}{
		{name: "plain", in: "a/b", filter: "a/b"},
		{name: "share-like but not prefix", in: "$sharex/g/a", filter: "$sharex/g/a"},
		{name: "shared", in: "$share/g/a/b", group: "g", filter: "a/b", shared: true},
		{name: "shared wildcard", in: "$share/g/+/#", group: "g", filter: "+/#", shared: true},
		{name: "shared hash", in: "$share/g/#", group: "g", filter: "#", shared: true},
		{name: "empty share name [MQTT-4.8.2-1]", in: "$share//a", shared: true, err: ErrBadShareName},
		{name: "plus share name [MQTT-4.8.2-2]", in: "$share/g+/a", shared: true, err: ErrBadShareName},
		{name: "hash share name [MQTT-4.8.2-2]", in: "$share/#/a", shared: true, err: ErrBadShareName},
		{name: "no filter [MQTT-4.8.2-2]", in: "$share/g", shared: true, err: ErrBadSharedFilter},
		{name: "empty filter [MQTT-4.8.2-2]", in: "$share/g/", shared: true, err: ErrBadSharedFilter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, f, shared, err := ParseShared(tc.in)
			if !reflect.DeepEqual(tc.err, err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if shared != tc.shared {
				t.Fatalf("got %v, want %v", shared, tc.shared)
			}
			if g != tc.group {
				t.Fatalf("got %v, want %v", g, tc.group)
			}
			if f != tc.filter {
				t.Fatalf("got %v, want %v", f, tc.filter)
			}
		})
	}
}

func TestCheckLimits(t *testing.T) {
	cases := []struct {
		name   string
		topic  string
		levels int
		length int
		want   error
	}{
		{name: "within", topic: "a/b/c", levels: 3, length: 5},
		{name: "shorter than the level bound", topic: "a/b", levels: 200, length: 100},
		{name: "one level too many", topic: "a/b/c/d", levels: 3, length: 100, want: ErrTooManyLevels},
		{name: "empty levels count", topic: "///", levels: 3, length: 100, want: ErrTooManyLevels},
		{name: "filter levels", topic: "+/+/#", levels: 3, length: 100},
		{name: "one byte too long", topic: "abcdef", levels: 10, length: 5, want: ErrTopicTooLong},
		{name: "deep and long: length first", topic: strings.Repeat("/", 100), levels: 10, length: 50, want: ErrTopicTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckLimits([]byte(tc.topic), tc.levels, tc.length); got != tc.want {
				t.Fatalf("CheckLimits(%q, %d, %d) = %v, want %v", tc.topic, tc.levels, tc.length, got, tc.want)
			}
		})
	}
}
