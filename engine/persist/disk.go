package persist

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Disk is the Store on pebble in one data directory. pebble's lock file
// keeps a second process off the directory; its write-ahead log makes a
// commit durable once synced, and recovery stops cleanly at a torn tail.
type Disk struct {
	dir string
	db  *pebble.DB
	c   committer
	log *slog.Logger

	mu        sync.Mutex
	recovered time.Duration
	closed    bool
}

// OpenDisk opens (or creates) the store in dir. It refuses a directory
// that holds files but no store, a store another process has open, and
// one it cannot read, with an error naming dir.
func OpenDisk(dir string, sync Sync, log *slog.Logger) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("persist: data directory %s: %w", dir, err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	opts := &pebble.Options{
		Logger:           pebbleLogger{log},
		ErrorIfNotExists: false,
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return nil, fmt.Errorf("persist: data directory %s is in use by another process (%v)", dir, err)
		}
		return nil, fmt.Errorf("persist: data directory %s cannot be opened: %w", dir, err)
	}
	d := &Disk{dir: dir, db: db, log: log}
	d.c.start(sync.Every, d.write, d.syncLog)
	return d, nil
}

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

// write applies a group as one pebble batch.
func (d *Disk) write(group []pending, sync bool) error {
	pb := d.db.NewBatch()
	defer pb.Close()
	for _, p := range group {
		b := p.b
		for i := range b.ops {
			o := &b.ops[i]
			var err error
			switch o.kind {
			case opSet:
				err = pb.Set(b.key(o), b.val(o), nil)
			case opDelete:
				err = pb.Delete(b.key(o), nil)
			case opDeleteRange:
				err = pb.DeleteRange(b.key(o), b.val(o), nil)
			}
			if err != nil {
				return err
			}
		}
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	return pb.Commit(wo)
}

// syncLog syncs the write-ahead log.
func (d *Disk) syncLog() error { return d.db.LogData(nil, pebble.Sync) }

// Commit queues b for the next group.
func (d *Disk) Commit(b *Batch, done func(error)) { d.c.commit(b, done) }

// Recover visits every record in key order. A record it cannot decode
// stops it with an error naming the directory.
func (d *Disk) Recover(r Recoverer) error {
	start := time.Now()
	it, err := d.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("persist: data directory %s: %w", d.dir, err)
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = visit(it.Key(), v, r)
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
