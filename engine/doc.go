// Package engine is the Gust MQTT broker: a gnet v2 event handler with one
// event loop per core and no goroutine per connection.
//
// # Goroutines and what they own
//
//   - Each gnet event loop owns its loop value (match cache, decode scratch,
//     hand-over batches being built, dirty list, counters in loopStats) and
//     every client (connection) accepted on it. A client is touched only on
//     its loop: OnOpen, OnTraffic, OnClose, inbox drains and housekeeping all
//     run there.
//   - A session is owned by the loop of its online client (session.owner).
//     While offline it is owned by nobody and touched only under session.mu.
//     Ownership changes (attach, detach, takeover) happen under session.mu,
//     and takeover across loops is an explicit hand-over: the new loop asks
//     the owner loop (itemTakeover) to close the old client and release the
//     session, then is told to run its CONNECT again (itemResume).
//   - The ticker goroutine (Broker.ticker) only updates the coarse clock,
//     expires offline sessions under the store lock, and schedules
//     housekeeping and $SYS publication onto the loops with Execute.
//   - Any goroutine may call the Broker's exported methods.
//
// # Cross-loop delivery
//
// A PUBLISH is decoded in place from gnet's buffer, matched (through a
// per-loop cache keyed by topic and invalidated by trie.Generation) and
// fanned out. Subscribers on the same loop get the encoded bytes appended to
// their pending buffer. Subscribers on other loops are grouped per target
// loop into one batch per round (one OnTraffic); at the end of the round
// each batch is pushed to its loop's inbox and the loop is woken once,
// through a doorbell socket pair registered with gnet (a one-byte write,
// no allocation). Each touched client is written once per round.
//
// # Lock order
//
// Acquire in this order, never the reverse:
//
//	Broker.sessions.mu  (session store)
//	  session.mu        (one session)
//	    trie shard locks (inside trie.Subscribe/Unsubscribe)
//	    sessionTable.mu
//	inbox.mu, Broker.loopsMu, Broker.mu: leaf locks, nothing is taken while
//	holding them.
//
// trie.Match, trie.Retained reads, the session table lookup and
// session.owner loads take no lock.
package engine
