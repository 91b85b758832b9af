package trie

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// MaxTopicLen is the longest topic name or filter, in bytes.
const MaxTopicLen = 65535

// sharePrefix starts every shared subscription filter.
const sharePrefix = "$share/"

// ValidTopicName reports whether b is a valid PUBLISH topic name. It returns
// nil or one of the ErrXxx validation errors. Safe from any goroutine; it
// does not retain b.
func ValidTopicName(b []byte) error {
	if err := checkString(b); err != nil {
		return err
	}
	for _, c := range b {
		if c == '+' || c == '#' {
			// [MQTT-3.3.2-2] [MQTT-4.7.1-1] v311 [MQTT-4.7.0-1] v5
			return ErrWildcardInName
		}
	}
	return nil
}

// ValidTopicFilter reports whether b is a valid topic filter (without a
// $share/{group}/ prefix; see ParseShared). It returns nil or one of the
// ErrXxx validation errors. Safe from any goroutine; it does not retain b.
func ValidTopicFilter(b []byte) error {
	if err := checkString(b); err != nil {
		return err
	}
	for i, c := range b {
		switch c {
		case '#':
			// [MQTT-4.7.1-2] v311 [MQTT-4.7.1-1] v5: '#' alone or after '/', and last.
			if i != len(b)-1 || (i > 0 && b[i-1] != '/') {
				return ErrBadMultiLevel
			}
		case '+':
			// [MQTT-4.7.1-3] v311 [MQTT-4.7.1-2] v5: '+' fills a whole level.
			if (i > 0 && b[i-1] != '/') || (i < len(b)-1 && b[i+1] != '/') {
				return ErrBadSingleLevel
			}
		}
	}
	return nil
}

// CheckLimits reports whether topic, a topic name or a filter without its
// $share/{group}/ prefix, has at most maxLevels levels and maxLen bytes:
// ErrTooManyLevels, ErrTopicTooLong or nil. These are a receiver's limits,
// not protocol rules; each level of a filter or retained topic costs a
// node. Levels are counted only when topic is long enough to have too
// many, so a short topic costs two comparisons. Safe from any goroutine.
func CheckLimits(topic []byte, maxLevels, maxLen int) error {
	if len(topic) > maxLen {
		return ErrTopicTooLong
	}
	// n bytes hold at most n+1 levels.
	if len(topic) >= maxLevels && bytes.Count(topic, slash)+1 > maxLevels {
		return ErrTooManyLevels
	}
	return nil
}

var slash = []byte{'/'}

// checkString applies the rules shared by names and filters.
func checkString(b []byte) error {
	if len(b) == 0 {
		return ErrEmptyTopic // [MQTT-4.7.3-1]
	}
	if len(b) > MaxTopicLen {
		return ErrTopicTooLong // [MQTT-4.7.3-3]
	}
	ascii := true
	for _, c := range b {
		if c == 0 {
			return ErrNullChar // [MQTT-4.7.3-2] [MQTT-1.5.3-2] v311 [MQTT-1.5.4-2] v5
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	// utf8.Valid rejects encoded surrogates and overlong forms.
	if !ascii && !utf8.Valid(b) {
		return ErrInvalidUTF8 // [MQTT-1.5.3-1] v311 [MQTT-1.5.4-1] v5
	}
	return nil
}

// ParseShared splits a SUBSCRIBE/UNSUBSCRIBE filter. For "$share/{group}/{f}"
// it returns group, f and shared=true; for any other filter it returns "",
// filter, false. err is non-nil only for a malformed shared filter; f itself
// is not validated (call ValidTopicFilter). The returned strings alias filter.
// Safe from any goroutine.
func ParseShared(filter string) (group, f string, shared bool, err error) {
	if !strings.HasPrefix(filter, sharePrefix) {
		return "", filter, false, nil
	}
	rest := filter[len(sharePrefix):]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		// [MQTT-4.8.2-2]: the share name is followed by '/' and a filter.
		return "", "", true, ErrBadSharedFilter
	}
	group, f = rest[:i], rest[i+1:]
	if group == "" || strings.ContainsAny(group, "+#") {
		return "", "", true, ErrBadShareName // [MQTT-4.8.2-1] [MQTT-4.8.2-2]
	}
	if f == "" {
		return "", "", true, ErrBadSharedFilter // [MQTT-4.8.2-2]
	}
	return group, f, true, nil
}
