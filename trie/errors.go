package trie

import "errors"

// Validation and subscription errors. Each maps to one rule of the
// specification; the rule ids are given where the check is made.
var (
	// ErrEmptyTopic reports a zero-length topic name or filter.
	ErrEmptyTopic = errors.New("trie: empty topic")
	// ErrTopicTooLong reports a topic longer than 65535 bytes, or than the
	// limit given to CheckLimits.
	ErrTopicTooLong = errors.New("trie: topic too long")
	// ErrTooManyLevels reports a topic with more levels than the limit
	// given to CheckLimits.
	ErrTooManyLevels = errors.New("trie: topic has too many levels")
	// ErrNullChar reports a U+0000 character in a topic.
	ErrNullChar = errors.New("trie: topic contains U+0000")
	// ErrInvalidUTF8 reports ill-formed UTF-8 (surrogates included) in a topic.
	ErrInvalidUTF8 = errors.New("trie: topic is not well-formed UTF-8")
	// ErrWildcardInName reports a '+' or '#' in a topic name.
	ErrWildcardInName = errors.New("trie: wildcard in topic name")
	// ErrBadMultiLevel reports a '#' that is not a whole, last level.
	ErrBadMultiLevel = errors.New("trie: '#' must be a whole level and the last one")
	// ErrBadSingleLevel reports a '+' that does not fill a whole level.
	ErrBadSingleLevel = errors.New("trie: '+' must fill a whole level")
	// ErrBadShareName reports an empty share name or one holding '/', '+' or '#'.
	ErrBadShareName = errors.New("trie: invalid shared subscription share name")
	// ErrBadSharedFilter reports a "$share/{group}" without a following filter.
	ErrBadSharedFilter = errors.New("trie: shared subscription without a topic filter")
	// ErrSharedNoLocal reports No Local set on a shared subscription.
	ErrSharedNoLocal = errors.New("trie: No Local on a shared subscription")
	// ErrBadQoS reports a granted QoS above 2.
	ErrBadQoS = errors.New("trie: QoS above 2")
)
