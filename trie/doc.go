// Package trie is Gust's topic index: topic name and filter validation, the
// subscription index answering "who receives a PUBLISH on this topic" (with
// MQTT 5 options and shared subscription groups), and the retained message
// index answering "which retained messages match this filter".
//
// It is a pure data structure: no I/O, no goroutines, no knowledge of
// connections. Every exported method states its concurrency contract.
//
// Use by the engine:
//
//	t := trie.New()
//	group, f, shared, err := trie.ParseShared(filterFromSubscribe)
//	existed, err := t.Subscribe(trie.Subscription{Subscriber: id, Filter: f, Group: group, QoS: 1})
//	var res trie.Result          // one per event loop, reused
//	gen := t.Generation()        // read before Match; cache (gen, res.Clone())
//	t.Match(topic, &res)
//	for _, d := range res.Deliveries { ... }          // d.Local/d.LocalQoS for the publisher itself
//	for _, g := range res.Groups { s, ok := g.Pick(isOnline) ... }
package trie
