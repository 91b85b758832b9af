// Package trie is Gust's topic index: topic name and filter validation, the
// subscription index answering "who receives a PUBLISH on this topic" (with
// MQTT 5 options and shared subscription groups), and the retained message
// index answering "which retained messages match this filter".
//
// It is a pure data structure: no I/O, no goroutines, no knowledge of
// connections. Every exported method states its concurrency contract.
//
// # Design
//
// A Trie is a tree of topic-filter levels split into shards: filters go to
// the shard chosen by the xxhash of their first level, and filters whose
// first level is '+' or '#' to a shard of their own. A Match visits at most
// two shards: the one of the topic's first level and, unless the topic
// starts with '$' [MQTT-4.7.2-1], the wildcard shard.
//
// Match takes no lock. Every field it reads is an atomic pointer to either
// an immutable value (a node's "+" and "#" children, a group's member list)
// or a single-writer open-addressing table (a node's exact children and its
// subscriptions; see table.go for the rules that make lock-free probing
// safe). Writers (Subscribe, Unsubscribe) hold the mutex of their shard, so
// changes serialise only within a shard. Unsubscribe unlinks empty nodes up
// to the shard root and shrinks tables, so memory returns to the runtime
// (TestUnsubscribeFreesMemory).
//
// Overlapping subscriptions of one subscriber are merged while matching into
// one Delivery (highest QoS, all subscription identifiers), through a sparse
// set indexed by SubscriberID held in the caller's Result: no map, no
// clearing, no allocation once the Result has grown.
//
// Shared subscriptions are Groups stored at the node of their filter; a
// Match returns the matching groups and the caller picks one member per
// message with Group.Pick, whose Strategy (RoundRobin, Random or the
// caller's) and eligibility callback decide.
//
// Generation changes on every Subscribe and Unsubscribe, so a per-loop cache
// of Results (Result.Clone) can be dropped when it moves. GenerationOf(topic)
// changes only with the two shards a topic's Match reads, so a cache that
// stores it per entry survives churn on unrelated topics.
//
// Retained is the same lock-free level tree keyed by topic names, with a
// value per node; Retained.Match walks only the subtrees a filter reaches.
//
// # Use by the engine
//
//	t := trie.New()
//	group, f, shared, err := trie.ParseShared(filterFromSubscribe)
//	existed, err := t.Subscribe(trie.Subscription{Subscriber: id, Filter: f, Group: group, QoS: 1})
//	var res trie.Result          // one per event loop, reused
//	gen := t.Generation()        // read before Match; cache (gen, res.Clone())
//	t.Match(topic, &res)
//	for _, d := range res.Deliveries { ... }          // d.Local/d.LocalQoS for the publisher itself
//	for _, g := range res.Groups { s, ok := g.Pick(isOnline) ... }
//
// Benchmarks against mochi-mqtt's TopicsIndex, in the same run:
//
//	go test ./trie -run '^$' -bench . -benchmem
package trie
