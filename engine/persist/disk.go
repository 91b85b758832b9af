package persist

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Disk is the Store on pebble in one data directory. pebble's lock file
// keeps a second process off the directory; its write-ahead log makes a
// commit durable once synced, and recovery stops cleanly at a torn tail.
//
// Running out of disk space is not fatal. The store keeps a ballast file
// of DiskOptions.Ballast bytes; the first write that finds the disk full
// deletes it (so that write, and pebble's own work, have room) and the
// store turns full: Commit fails with ErrFull (without writing, in its
// turn after the commits before it), so the broker refuses new work it
// cannot store and loses nothing it acknowledged.
// Once the file system has twice the ballast free again, the ballast is
// put back and commits are taken again.
//
// Deleted records give their space back once a compaction takes their
// tombstones down to the data they delete. pebble's own heuristics leave
// a small table of tombstones over much larger data alone (a message's
// tombstone is a few bytes, its payload kilobytes), and tombstones still
// in a memtable wait for more writes to fill it; so a store whose queues
// drained would keep the messages' space. Every DiskOptions.ReclaimEvery
// the store flushes a memtable holding deletions if no commit came since
// the last look, and, once pebble estimates the data hidden by tombstones
// in tables at reclaimMin bytes and a 1/reclaimShare of the tables,
// compacts those tables' key ranges.
type Disk struct {
	dir     string
	db      *pebble.DB
	c       committer
	log     *slog.Logger
	ballast int64

	full     atomic.Bool
	stopFull chan struct{}
	fullDone chan struct{}

	stopReclaim context.CancelFunc
	reclaimDone chan struct{}
	deletes     atomic.Int64 // deletions written since the last flush for them

	mu        sync.Mutex
	recovered time.Duration
	closed    bool
}

// DiskOptions configure OpenDisk.
type DiskOptions struct {
	Sync Sync
	// Ballast is the space kept in reserve for a full disk
	// (DefaultBallast if 0; negative: none).
	Ballast int64
	// ReclaimEvery is how often the store looks for deleted data to
	// compact away (DefaultReclaimEvery if 0; negative: never).
	ReclaimEvery time.Duration
	// MemTableSize is the size of the store's in-memory table
	// (DefaultMemTableSize if 0); up to memTables of them take memory at
	// once.
	MemTableSize int64
	Log          *slog.Logger
}

// DefaultMemTableSize is the default DiskOptions.MemTableSize.
const DefaultMemTableSize = 64 << 20

// memTables is how many memtables may exist at once (one taking writes,
// the rest waiting for their flush): the store's memory is at most
// memTables times MemTableSize.
const memTables = 4

// DefaultReclaimEvery is the default period of the store's look for
// deleted data to compact away.
const DefaultReclaimEvery = 5 * time.Second

// A compaction for deleted data runs once pebble estimates it at
// reclaimMin bytes and a 1/reclaimShare of the tables' size: a compaction
// rewrites the live data around what it drops, a few times the dropped
// bytes at most.
const (
	reclaimMin   = 1 << 20
	reclaimShare = 8
)

// DefaultBallast is the default reserve for a full disk.
const DefaultBallast = 64 << 20

// ballastName is the reserve file in the data directory.
const ballastName = "gust-ballast"

// ErrFull is the error of a Commit while the disk is full.
var ErrFull = errors.New("persist: disk full")

// OpenDisk opens (or creates) the store in dir. It refuses a directory
// that holds files but no store, a store another process has open, and
// one it cannot read, with an error naming dir.
func OpenDisk(dir string, o DiskOptions) (*Disk, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Ballast == 0 {
		o.Ballast = DefaultBallast
	}
	if o.ReclaimEvery == 0 {
		o.ReclaimEvery = DefaultReclaimEvery
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("persist: data directory %s: %w", dir, err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	d := &Disk{dir: dir, log: o.Log, ballast: o.Ballast, stopFull: make(chan struct{}), fullDone: make(chan struct{})}
	opts := &pebble.Options{
		Logger: pebbleLogger{o.Log},
		FS:     vfs.OnDiskFull(vfs.Default, d.onDiskFull),
		// Most records live briefly (a queued message until its
		// subscriber acknowledges it): a large memtable lets the record
		// and its deletion meet in memory, so flushes and compactions
		// write little. Up to memTables of them may wait for a flush.
		MemTableSize:                uint64(cmp.Or(o.MemTableSize, DefaultMemTableSize)),
		MemTableStopWritesThreshold: memTables,
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return nil, fmt.Errorf("persist: data directory %s is in use by another process (%v)", dir, err)
		}
		return nil, fmt.Errorf("persist: data directory %s cannot be opened: %w", dir, err)
	}
	d.db = db
	if d.ballast > 0 {
		if err := d.makeBallast(); err != nil {
			o.Log.Warn("disk full reserve not made: a full disk will stop the broker", "path", filepath.Join(dir, ballastName), "err", err)
		}
	}
	d.c.start(o.Sync.Every, d.write, d.syncLog)
	go d.watchFull()
	ctx, cancel := context.WithCancel(context.Background())
	d.stopReclaim, d.reclaimDone = cancel, make(chan struct{})
	if o.ReclaimEvery > 0 {
		go d.watchGarbage(ctx, o.ReclaimEvery)
	} else {
		close(d.reclaimDone)
	}
	return d, nil
}

// watchGarbage compacts deleted data away every period, until ctx ends.
func (d *Disk) watchGarbage(ctx context.Context, every time.Duration) {
	defer close(d.reclaimDone)
	t := time.NewTicker(every)
	defer t.Stop()
	commits := d.c.stats().Commits
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		flushed, err := d.flushIdle(&commits)
		if flushed {
			d.waitStats(ctx)
		}
		if err == nil {
			err = d.reclaim(ctx)
		}
		if err != nil && ctx.Err() == nil {
			d.log.Warn("store: compacting deleted data", "dir", d.dir, "err", err)
		}
	}
}

// flushIdle flushes the memtables if they hold deletions and no commit
// came since the last call, when *commits was the count of commits.
func (d *Disk) flushIdle(commits *uint64) (bool, error) {
	n := d.c.stats().Commits
	idle := n == *commits
	*commits = n
	if !idle || d.deletes.Load() == 0 {
		return false, nil
	}
	d.deletes.Store(0)
	return true, d.db.Flush()
}

// waitStats waits, a second at most, for pebble to have the statistics
// (the deleted data estimates) of its new tables.
func (d *Disk) waitStats(ctx context.Context) {
	for range 100 {
		if d.db.Metrics().Table.PendingStatsCollectionCount == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// reclaim compacts the key ranges of the tables whose tombstones hide
// data, if pebble estimates that data at reclaimMin bytes and a
// 1/reclaimShare of the tables.
func (d *Disk) reclaim(ctx context.Context) error {
	m := d.db.Metrics()
	garbage := m.Table.Garbage.PointDeletionsBytesEstimate + m.Table.Garbage.RangeDeletionsBytesEstimate
	before := m.DiskSpaceUsage()
	if garbage < reclaimMin || garbage < uint64(m.Total().TablesSize)/reclaimShare {
		return nil
	}
	levels, err := d.db.SSTables()
	if err != nil {
		return err
	}
	var spans []keySpan
	for _, tables := range levels {
		for _, t := range tables {
			if t.TableStats.PointDeletionsBytesEstimate+t.TableStats.RangeDeletionsBytesEstimate > 0 {
				spans = append(spans, keySpan{t.Smallest.UserKey, t.Largest.UserKey})
			}
		}
	}
	if len(spans) == 0 {
		return nil
	}
	spans = mergeSpans(spans)
	start := time.Now()
	for _, sp := range spans {
		end := sp.last
		if bytes.Equal(sp.first, end) {
			end = append(slices.Clip(end), 0) // Compact wants first < last
		}
		if err := d.db.Compact(ctx, sp.first, end, false); err != nil {
			return err
		}
	}
	d.log.Info("store: compacted deleted data", "dir", d.dir, "estimated_bytes", garbage, "ranges", len(spans),
		"disk_bytes_before", before, "disk_bytes_after", d.db.Metrics().DiskSpaceUsage(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// keySpan is the key range [first, last].
type keySpan struct{ first, last []byte }

// mergeSpans sorts spans and joins those that overlap.
func mergeSpans(spans []keySpan) []keySpan {
	slices.SortFunc(spans, func(a, b keySpan) int { return bytes.Compare(a.first, b.first) })
	out := spans[:0]
	for _, sp := range spans {
		if n := len(out); n > 0 && bytes.Compare(sp.first, out[n-1].last) <= 0 {
			if bytes.Compare(sp.last, out[n-1].last) > 0 {
				out[n-1].last = sp.last
			}
			continue
		}
		out = append(out, sp)
	}
	return out
}

// makeBallast creates the reserve file with its blocks allocated.
func (d *Disk) makeBallast() error {
	path := filepath.Join(d.dir, ballastName)
	if st, err := os.Stat(path); err == nil && st.Size() == d.ballast {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = fallocate(f, d.ballast)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
	}
	return err
}

// onDiskFull runs inside pebble's file system when a write finds no
// space, with other writes held: it frees the reserve and turns the store
// full.
func (d *Disk) onDiskFull() {
	_ = os.Remove(filepath.Join(d.dir, ballastName))
	if !d.full.Swap(true) {
		d.log.Error("disk full: refusing new durable work until space returns", "dir", d.dir)
	}
}

// watchFull puts the reserve back once the file system has room again.
func (d *Disk) watchFull() {
	defer close(d.fullDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-d.stopFull:
			return
		case <-t.C:
		}
		if !d.full.Load() {
			continue
		}
		free, err := freeBytes(d.dir)
		if err != nil || free < 2*max(d.ballast, 1<<20) {
			continue
		}
		if d.ballast > 0 {
			if err := d.makeBallast(); err != nil {
				continue
			}
		}
		d.full.Store(false)
		d.log.Info("disk space back: durable work taken again", "dir", d.dir, "free_bytes", free)
	}
}

// Full reports whether commits are refused for lack of space.
func (d *Disk) Full() bool { return d.full.Load() }

// checkDir refuses a directory with files in it but no pebble store: the
// user's other data must never be taken for an empty store.
func checkDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("persist: data directory %s: %w", dir, err)
	}
	if len(ents) == 0 {
		return nil
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, "MANIFEST-") || strings.HasPrefix(n, "marker.manifest.") {
			return nil
		}
	}
	return fmt.Errorf("persist: data directory %s holds files but no Gust store; give an empty or new directory", dir)
}

// write applies a group as one pebble batch. With sync it returns once
// the batch is in the memtable and the log, and its wait returns once
// the log is synced: pebble syncs the groups written meanwhile together.
func (d *Disk) write(group []pending, sync bool) (func() error, error) {
	pb := d.db.NewBatch()
	var deletes int64
	err := eachOp(group, func(kind opKind, key, val []byte) error {
		switch kind {
		case opSet:
			return pb.Set(key, val, nil)
		case opDelete:
			deletes++
			return pb.Delete(key, nil)
		}
		deletes++
		return pb.DeleteRange(key, val, nil)
	})
	if err != nil {
		_ = pb.Close()
		return nil, err
	}
	if deletes > 0 {
		d.deletes.Add(deletes)
	}
	if !sync {
		err = pb.Commit(pebble.NoSync)
		_ = pb.Close()
		return nil, err
	}
	if err := d.db.ApplyNoSyncWait(pb, pebble.Sync); err != nil {
		return nil, err // not closed: pebble may still hold it
	}
	return func() error {
		err := pb.SyncWait()
		_ = pb.Close()
		return err
	}, nil
}

// syncLog syncs the write-ahead log.
func (d *Disk) syncLog() error { return d.db.LogData(nil, pebble.Sync) }

// Commit queues b for the next group, or fails it with ErrFull while
// the disk is full unless it only deletes (acknowledged deliveries,
// expired records: what makes room).
func (d *Disk) Commit(b *Batch, done func(error)) {
	var refused error
	if d.full.Load() && !b.deletesOnly() {
		refused = ErrFull
	}
	d.c.commit(b, done, refused)
}

// Recover visits every record in key order. A record it cannot decode
// stops it with an error naming the directory.
func (d *Disk) Recover(r Recoverer) error {
	start := time.Now()
	it, err := d.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("persist: data directory %s: %w", d.dir, err)
	}
	v := visitor{rec: r}
	for it.First(); it.Valid(); it.Next() {
		val, err := it.ValueAndErr()
		if err == nil {
			err = v.visit(it.Key(), val)
		}
		if err != nil {
			_ = it.Close()
			if errors.Is(err, errCorrupt) {
				return fmt.Errorf("persist: data directory %s: record %q: %w", d.dir, it.Key(), err)
			}
			return fmt.Errorf("persist: data directory %s: %w", d.dir, err)
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("persist: data directory %s: %w", d.dir, err)
	}
	d.mu.Lock()
	d.recovered = time.Since(start)
	d.mu.Unlock()
	return nil
}

// Stats reports the counters and the size of the store's files.
func (d *Disk) Stats() Stats {
	st := d.c.stats()
	d.mu.Lock()
	st.Recovered = d.recovered
	closed := d.closed
	d.mu.Unlock()
	if !closed {
		st.DiskBytes = int64(d.db.Metrics().DiskSpaceUsage())
	}
	return st
}

// Close writes what is queued, syncs, and closes the store.
func (d *Disk) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.c.close()
	close(d.stopFull)
	<-d.fullDone
	d.stopReclaim()
	<-d.reclaimDone
	return d.db.Close()
}

// pebbleLogger sends pebble's lines to slog. pebble calls Fatalf when its
// commit pipeline cannot go on (a failed log write): the process must
// stop, since nothing written after it could be trusted, and nothing it
// had not yet synced was acknowledged.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(f string, a ...any)  { p.l.Debug("pebble: " + fmt.Sprintf(f, a...)) }
func (p pebbleLogger) Errorf(f string, a ...any) { p.l.Error("pebble: " + fmt.Sprintf(f, a...)) }
func (p pebbleLogger) Fatalf(f string, a ...any) {
	p.l.Error("pebble: fatal, stopping: " + fmt.Sprintf(f, a...))
	os.Exit(1)
}
