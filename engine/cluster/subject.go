package cluster

// MQTT topics and filters as NATS subjects. A topic's levels are a
// subject's tokens under the cluster's prefix: "gust.<name>.m." for
// topics, "gust.<name>.s." for topics that start with '$' (which MQTT's
// leading wildcards do not match [MQTT-4.7.2-1]). A filter's '+' is '*'
// and its '#' is '>' plus the parent level, since MQTT's '#' also matches
// the parent [MQTT-4.7.1-2]. A level that is empty or holds a byte NATS
// does not take in a token ('.', '*', '>', white space, anything outside
// printable ASCII) or the escape byte '~' is written as '~' and its bytes
// in hex, so distinct levels stay distinct tokens and a literal '*' or
// '>' in a topic is never a NATS wildcard.

const hexDigits = "0123456789abcdef"

// plainByte reports whether b may stand for itself in a token.
func plainByte(b byte) bool {
	return b > ' ' && b < 0x7f && b != '.' && b != '*' && b != '>' && b != '~'
}

// appendLevel appends one topic level as a token.
func appendLevel(dst []byte, level []byte) []byte {
	plain := len(level) > 0
	for _, b := range level {
		if !plainByte(b) {
			plain = false
			break
		}
	}
	if plain {
		return append(dst, level...)
	}
	dst = append(dst, '~')
	for _, b := range level {
		dst = append(dst, hexDigits[b>>4], hexDigits[b&15])
	}
	return dst
}

// AppendSubject appends the subject of a topic name to dst under prefix
// (Node.Prefix). It allocates nothing when dst has room.
func AppendSubject(dst []byte, prefix string, topic []byte) []byte {
	dst = append(dst, prefix...)
	if len(topic) > 0 && topic[0] == '$' {
		dst = append(dst, "s."...)
	} else {
		dst = append(dst, "m."...)
	}
	start := 0
	for i := 0; i <= len(topic); i++ {
		if i == len(topic) || topic[i] == '/' {
			if start > 0 {
				dst = append(dst, '.')
			}
			dst = appendLevel(dst, topic[start:i])
			start = i + 1
		}
	}
	return dst
}

// FilterSubjects returns the subjects whose messages a topic filter
// (without any $share/{group}/ part) may match: one, or two for a filter
// ending in '#' after other levels.
func FilterSubjects(prefix, filter string) []string {
	class := "m."
	if len(filter) > 0 && filter[0] == '$' {
		class = "s."
	}
	b := []byte(prefix + class)
	base := len(b)
	parent := -1 // end of the subject without a trailing '>'
	start := 0
	for i := 0; i <= len(filter); i++ {
		if i < len(filter) && filter[i] != '/' {
			continue
		}
		level := filter[start:i]
		if start > 0 {
			b = append(b, '.')
		}
		switch level {
		case "+":
			b = append(b, '*')
		case "#":
			parent = len(b) - 1 // before the '.'
			b = append(b, '>')
		default:
			b = appendLevel(b, []byte(level))
		}
		start = i + 1
	}
	if parent > base {
		return []string{string(b), string(b[:parent])}
	}
	return []string{string(b)}
}
