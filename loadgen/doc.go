// Package loadgen is Gust's MQTT load generator: many client connections
// from one process, driven by a few event loops over raw non-blocking
// sockets and the project's codec (no client library, no goroutine per
// connection).
//
// # Platforms
//
// The loops wait on a poller: epoll on Linux (poller_linux.go), kqueue on
// macOS and FreeBSD (poller_kqueue.go), with the same loop and connection
// code on top. Linux is the tested and measured platform: every test and
// benchmark figure comes from it. The kqueue poller is compiled for darwin
// and freebsd by `make cross` but has not been run. Off Linux, sockets
// take their flags after socket(), a bound source address takes its port
// at bind() (no IP_BIND_ADDRESS_NO_PORT), and Result.Segments is 0 (no
// TCP_INFO segment counts), which Result.Note says.
//
// # Ownership
//
// Run splits the clients of a Config round-robin over Config.Loops loops.
// Each loop goroutine owns its connections, their buffers, inflight windows
// and sequence trackers, and touches nothing else. The only shared state is
// each loop's stats (counters are atomics; histograms are guarded by the
// loop's mutex, held by the loop while it processes one batch of events and
// by the reporter for a snapshot once a second) and the runner's atomic
// phase flags.
//
// # Messages
//
// Every PUBLISH payload starts with a 16-byte stamp: the send time in Unix
// nanoseconds, the publisher index and the message sequence number (see
// stamp.go). Subscribers read the stamp to compute latency and to count
// duplicated, out-of-order and (by gaps or by the expected total) lost
// messages.
package loadgen
