package trie

import "slices"

// sameElements reports whether want and got hold the same identifiers,
// in any order.
func sameElements(want, got []uint32) bool {
	w, g := slices.Clone(want), slices.Clone(got)
	slices.Sort(w)
	slices.Sort(g)
	return slices.Equal(w, g)
}
