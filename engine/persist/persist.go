// Package persist is the broker's durable state: retained messages,
// persistent sessions with their subscriptions, and the QoS 1/2 messages
// the broker owes them. The engine describes each change as a record in a
// Batch and hands the batch to a Store; the Store makes it durable, in
// groups, without the caller waiting, and says so through a callback. At
// start the engine reads every record back (Recover) before it serves.
//
// Two Stores: Disk, on pebble (an LSM with a write-ahead log that commits
// concurrent batches together), and Mem, which keeps the records in memory
// (tests, and the shape a replicated store takes: records in, records
// out). Running without a Store at all is the in-memory broker.
//
// # Records and keys
//
// A message routed to several sessions is stored once (Message, keyed by
// its id) and referenced by a Delivery per session; the engine deletes the
// Message when its last Delivery goes. Everything a session holds is keyed
// under its client id, so that DeleteSession is one range deletion.
//
//	0x01 id(8)                      Message
//	0x02 topic                      Retained
//	0x03 len(2) clientID 0x01       Session
//	0x03 len(2) clientID 0x02 filter          Subscription
//	0x03 len(2) clientID 0x03 seq(8)          Delivery
//	0x03 len(2) clientID 0x04 packetID(2)     InQoS2
//
// Recover visits them in that order: messages before the deliveries that
// name them, a session before its subscriptions and deliveries.
package persist

import (
	"errors"
	"fmt"
	"time"
)

// Store is where durable state goes. Commit and Stats are safe from any
// goroutine; Recover is called once, before the first Commit; Close last.
type Store interface {
	// Commit makes b durable per the store's Sync policy, then calls
	// done with nil, or with the error that kept it from being written
	// (the batch is then not applied: nothing of it is durable). It
	// never waits for the disk; done runs on a goroutine of the store,
	// in commit order, and must not block. b belongs to the store until
	// done is called.
	Commit(b *Batch, done func(error))
	// Recover calls r for every stored record, in key order.
	Recover(r Recoverer) error
	// Stats reports the store's counters.
	Stats() Stats
	// Close waits for the commits in flight and releases the store.
	Close() error
}

// Recoverer receives the records of a Store at start. A record, and the
// byte slices it holds, are valid only during the call (its ClientID
// string stays valid).
type Recoverer interface {
	Message(m *Message) error
	Retained(r *Retained) error
	Session(s *Session) error
	Subscription(s *Subscription) error
	Delivery(d *Delivery) error
	InQoS2(clientID string, packetID uint16) error
}

// Stats are a store's counters since it was opened.
type Stats struct {
	Commits      uint64        // Commit calls completed
	Groups       uint64        // writes to the store (each holds one or more commits)
	Syncs        uint64        // fsyncs of the log
	BytesWritten uint64        // batch bytes handed to the store
	Failures     uint64        // commits that failed
	Elided       uint64        // operations never written: created and deleted in one group
	DiskBytes    int64         // size of the store's files, -1 if unknown
	Recovered    time.Duration // how long Recover took
}

// Sync says when a commit counts as done.
type Sync struct {
	// Every is the longest a committed batch may stay unsynced: 0 syncs
	// before done is called (nothing acknowledged is lost); > 0 calls
	// done once the write is in the log and syncs at least that often (a
	// crash loses at most that window); Never leaves syncing to the
	// operating system.
	Every time.Duration
}

// Never is the Sync.Every of a store that never syncs on its own.
const Never time.Duration = -1

// ParseSync reads an fsync setting: "always", "never" or a duration such
// as "10ms".
func ParseSync(s string) (Sync, error) {
	switch s {
	case "always", "":
		return Sync{}, nil
	case "never":
		return Sync{Every: Never}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return Sync{}, fmt.Errorf("fsync %q: want always, never, or a positive duration such as 10ms", s)
	}
	return Sync{Every: d}, nil
}

// String is the setting's form ParseSync reads.
func (s Sync) String() string {
	switch {
	case s.Every == 0:
		return "always"
	case s.Every < 0:
		return "never"
	}
	return s.Every.String()
}

// ErrClosed is the error of a Commit after Close.
var ErrClosed = errors.New("persist: store closed")
