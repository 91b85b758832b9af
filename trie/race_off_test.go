//go:build !race

package trie

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
