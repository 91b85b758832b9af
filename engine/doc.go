// Package engine is the Gust MQTT broker: the handler of the event loops
// of engine/network (gnet v2 today), one loop per core, one acceptor
// goroutine and no goroutine per connection. The engine sees connections
// only through network.Conn and network.Loop (handler.go); what a
// transport or a poller must guarantee is the contract in that package.
//
// # Goroutines and what they own
//
//   - Each event loop owns its loop value (match cache, ACL decision cache,
//     decode scratch, hand-over batches being built, dirty list, counters
//     in loopStats) and every client (connection) accepted on it. A client is touched only on
//     its loop: OnOpen, OnTraffic, OnClose, inbox drains and housekeeping all
//     run there.
//   - A session is owned by the loop of its online client (session.owner).
//     While offline it is owned by nobody and touched only under session.mu;
//     its place in the store's offline list (oldest first, for
//     Config.MaxSessions) is guarded by the store's lock.
//     Ownership changes (attach, detach, takeover) happen under session.mu,
//     and takeover across loops is an explicit hand-over: the new loop asks
//     the owner loop (itemTakeover) to close the old client and release the
//     session, then is told to run its CONNECT again (itemResume).
//   - The ticker goroutine (Broker.ticker) only updates the coarse clock,
//     expires offline sessions under the store lock (their unacknowledged
//     shared-subscription messages go to a loop in a batch, shared.go), and
//     schedules housekeeping, $SYS publication and due delayed wills (MQTT
//     5 Will Delay Interval, will.go) onto the loops with network.Loop
//     Execute (loop.run logs one that cannot run).
//   - The acceptor goroutine (listener.go) owns the TCP listener: it
//     accepts, admits a connection while fewer than max_connections are
//     open (Broker.open, counted from accept to close) and fewer than its
//     listener's own max_connections (listener.open), and hands it to a
//     loop, round robin (Broker.handOff, listeners.go: network.Loop Adopt queues
//     it on the loop, which registers it and runs OnOpen).
//   - There is one acceptor per listener (listeners.go). A TLS listener's
//     acceptor hands each socket to the handshake pool
//     (transport.Handshakes): one goroutine per handshake in progress, at
//     most Config.TLSHandshakes, each owning its socket until the
//     handshake ends within ConnectTimeout; the socket is then adopted by
//     a loop as a transport Layer (network.Layer), whose records are read
//     and written on the loop without blocking.
//   - The password check pool (auth.Pool, login.go) runs the full checks of
//     plain logins (PBKDF2) on Config.AuthWorkers goroutines. A worker
//     touches only its auth.Check; the verdict goes back to the client's
//     loop with network.Loop Execute, where the parked CONNECT is read
//     again.
//   - Any goroutine may call the Broker's exported methods. Those of the
//     operations view (admin.go, served over HTTP by engine/ops) read a
//     loop's clients, their online sessions and the loop's own counters
//     (loopTotals) on that loop with network.Loop Execute, at most
//     scanSlice clients per task; an offline session under its mu.
//
// # Cross-loop delivery
//
// A PUBLISH is decoded in place from the connection's input buffer, matched (through a
// per-loop cache keyed by topic, invalidated by trie.Generation and bounded
// by Config.MatchCacheBytes) and
// fanned out. Subscribers on the same loop get the encoded bytes appended to
// their pending buffer. Subscribers on other loops are grouped per target
// loop into one batch per round (one OnTraffic); at the end of the round
// each batch is pushed to its loop's inbox and the loop is woken once
// (network.Loop Wake: on gnet, a one-byte write to a doorbell socket pair,
// no allocation). Each touched client is written once per round.
//
// A QoS 1/2 message delivered through a shared subscription carries its
// group. When the member's client leaves, its owner loop, still owning the
// session, hands the unacknowledged ones to other live members through the
// same deliver path (so through batches for members on other loops); one
// that reaches a member already gone is redirected on the member's loop
// (shared.go).
//
// # Cluster
//
// With Config.Cluster a message published here is also sent once to the
// other nodes (cluster.go, engine/cluster); the records they send are
// routed on the loop their publisher hashes to, one batch per loop through
// the loop's FIFO clusterInbox (Execute alone does not keep order), by the
// same route as a local PUBLISH, and never sent on. Shared groups are
// served through NATS queue subscriptions, one node per message
// (cluster_shared.go): route leaves them out unless every group of the
// topic lives on this node only. A CONNECT claims its session's
// ownership in the cluster before its session is opened: the claim runs
// on the node's claim workers while the client is parked as for a
// password check, and its verdict returns with Execute; a takeover seen by the node's watcher goroutine closes and
// drops the session on its owner loop, through Execute
// (cluster_session.go).
//
// # Outbound bounds
//
// Each connection's unsent bytes (its pending round buffer plus the
// connection's outbound buffer) are bounded by Config.MaxOutboundBytes: past it a QoS 0
// message is dropped and counted, a QoS 1/2 message waits in the session
// queue (Config.MaxQueuedMessages, then dropped and counted). At most
// Config.MaxInflight QoS 1/2 messages are unacknowledged per session; the
// queue is pumped on each acknowledgement and by housekeeping. A connection
// whose outbound buffer stays above 3/4 of the bound (until it falls under 1/4)
// for Config.SlowConsumerTimeout is reset as a slow consumer.
//
// The QoS 1/2 messages a session holds, queued or in flight, are also
// bounded in bytes, per session (Config.MaxQueuedBytes) and summed over
// sessions (Config.MaxQueuedBytesTotal: each loop folds its change into one
// atomic once per round); a message past either is dropped and counted.
// The QoS 0 bytes handed to a loop and not yet drained are bounded by
// Config.MaxHandoverBytes, read once per batch (per producer, target and
// round); past it QoS 0 messages for that loop are dropped and counted.
//
// A QoS 1/2 publisher whose messages meet a congested session (its queue,
// or its owner loop's backlog of hand-overs, past an absolute bound: about
// 5 ms of its delivery rate, at least one in-flight window, whatever
// MaxQueuedMessages is) is throttled: the broker stops reading it, so its
// own in-flight window slows it down to the subscriber's pace instead of
// the broker queueing without bound or dropping messages it acknowledged.
// The throttle lasts while the subscriber makes progress (throttle.go): a
// subscriber stuck before its queue grew throttles nobody, and one that
// gets stuck while throttling holds its publishers for throttleMax (500
// ms) plus one 100 ms tick at most; its excess is then queued up to
// MaxQueuedMessages and dropped (and counted) past it.
//
// # Inbound bounds
//
// A packet is decoded in place from the input buffer once it is whole; while
// the first packet there is incomplete a read looks at its fixed header
// only. A packet over 4 KiB that is not whole is moved out of that buffer
// into a buffer of exactly its declared length (partial.go), taken from
// Config.MaxPartialBytes, a budget shared by every connection (an atomic,
// touched once per such packet); past it the connection is closed. Input
// that arrives while a takeover is pending waits in the input buffer, up to
// Config.MaxTakeoverBytes past the CONNECT. A connection closed after the
// broker wrote it a DISCONNECT or a failure CONNACK lingers (linger.go):
// half-closed, its input discarded, for at most lingerTime (1 s, plus one
// housekeeping period) and lingerBytes (64 KiB); its client is released
// when the linger starts, its socket still counts against max_connections.
// Config.MemoryLimit and the
// idle and spike trims (trim.go, run by the ticker) return memory to the
// operating system after a spike.
//
// On a ws or wss listener (websocket.go, engine/transport) the upgrade
// request is bounded by ws_max_header_size (8 KiB), a frame by
// ws_max_frame_size (4 packets, at least 16 MiB), a compressed message by
// ws_max_message_size on the wire and ws_max_inflated_size inflated (both
// Config.MaxPacketSize + 4 KiB, at least 64 KiB), each a Listener setting
// (defaults in brackets); past any of them the connection alone is closed
// (HTTP status or close code), logged at most 10 lines a second and
// counted in Stats.
//
// # Allocation
//
// The QoS 0 path allocates nothing per message (TestAllocsQoS0PublishPath):
// packets are decoded in place from the input buffer into per-loop scratch
// structs, the match result comes from the per-loop cache, the wire form is
// encoded once per message and protocol family into loop scratch and copied
// into each subscriber's pending buffer or the target loop's batch, batches
// are recycled through their home loop's free list, and waking a loop
// allocates nothing (a package-level byte written to its doorbell). MQTT 5 properties ride along without a copy:
// the QoS 0 v5 wire form is encoded from the properties decoded in place
// (TestAllocsV5QoS0PublishPath: 0 allocations with or without User
// Properties). A QoS 1/2 message is copied once into a shared
// record (2 allocations, BenchmarkPublishQoS1) referenced by every session
// it goes to; its v5 properties are copied into the same buffer, plus one
// allocation for a User Property list. A v5 subscriber that takes
// broker-assigned Topic Aliases (alias.go) gets its own QoS 0 encoding: no
// allocation on the publisher's loop, and from another loop the message goes
// as a shared record, 2 allocations per message
// (TestAllocsV5AliasQoS0PublishPath). With an ACL (aclcheck.go) the
// PUBLISH decision comes from the client's last decision or the loop's
// cache, bounded by aclCacheBytes (TestAllocsACLPublishPath); the ACL
// itself is an immutable value behind Broker.acl, swapped whole on reload.
//
// # Lock order
//
// Acquire in this order, never the reverse:
//
//	Broker.sessions.mu  (session store)
//	  session.mu        (one session)
//	    trie shard locks (inside trie.Subscribe/Unsubscribe)
//	    sessionTable.mu
//	      cluster.Node.mu (NATS interest, from subscribeTrie and
//	      unsubscribeTrie; takes only nats.go's own locks)
//	inbox.mu, clusterInbox.mu, Broker.mu, Broker.wills.mu: leaf locks,
//	nothing is taken while holding them.
//
// trie.Match, trie.Retained reads, the session table lookup and
// session.owner loads take no lock.
package engine
