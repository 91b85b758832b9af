package trie

import (
	"fmt"
	"testing"
)

// checkTable verifies a table's bookkeeping against its slots.
func checkTable[T any](tab *table[T]) error {
	if tab == nil {
		return nil
	}
	live, used := 0, 0
	for i := range tab.slots {
		switch e := tab.slots[i].Load(); {
		case e == nil:
		case e == tab.tomb:
			used++
		default:
			live++
			used++
		}
	}
	if live != tab.live || used != tab.used || live == 0 || 4*used > 3*len(tab.slots) {
		return fmt.Errorf("table live %d/%d used %d/%d slots %d", live, tab.live, used, tab.used, len(tab.slots))
	}
	return nil
}

// checkNode verifies the structural invariants below n and returns the
// number of subscriptions it holds: no empty node but roots, parent links
// right, table bookkeeping right, a lone subscription only without a table.
func checkNode(n *node, root bool) (int, error) {
	if !root && n.empty() {
		return 0, fmt.Errorf("empty node %q not pruned", n.key)
	}
	if n.one.Load() != nil && n.subs.Load() != nil {
		return 0, fmt.Errorf("node %q has both one and subs", n.key)
	}
	if err := checkTable(n.children.Load()); err != nil {
		return 0, fmt.Errorf("children of %q: %w", n.key, err)
	}
	if err := checkTable(n.subs.Load()); err != nil {
		return 0, fmt.Errorf("subs of %q: %w", n.key, err)
	}
	count := 0
	if n.one.Load() != nil {
		count++
	}
	if t := n.subs.Load(); t != nil {
		count += t.live
	}
	if g := n.groups.Load(); g != nil {
		for _, x := range *g {
			if len(x.Members()) == 0 {
				return 0, fmt.Errorf("empty group %q kept at %q", x.Name, n.key)
			}
			count += len(x.Members())
		}
	}
	var err error
	visit := func(c *node) bool {
		if c.parent != n {
			err = fmt.Errorf("node %q: wrong parent", c.key)
			return false
		}
		k, e := checkNode(c, false)
		count += k
		err = e
		return e == nil
	}
	n.children.Load().each(visit)
	for _, c := range []*node{n.plus.Load(), n.multi.Load()} {
		if c != nil && err == nil {
			visit(c)
		}
	}
	return count, err
}

// checkTrie verifies every shard and the subscription count.
func checkTrie(tb testing.TB, t *Trie) {
	tb.Helper()
	total := 0
	for i := range t.shards {
		k, err := checkNode(&t.shards[i].root, true)
		if err != nil {
			tb.Fatalf("shard %d: %v", i, err)
		}
		total += k
	}
	k, err := checkNode(&t.wild.root, true)
	if err != nil {
		tb.Fatalf("wildcard shard: %v", err)
	}
	if total+k != t.Len() {
		tb.Fatalf("trie holds %d subscriptions, Len says %d", total+k, t.Len())
	}
}
