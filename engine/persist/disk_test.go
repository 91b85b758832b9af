package persist

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openDisk(t *testing.T, dir string, s Sync) *Disk {
	t.Helper()
	d, err := OpenDisk(dir, DiskOptions{Sync: s, Log: quietLog(), Ballast: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// TestDiskRoundTrip writes every kind of record, closes, reopens and
// reads them back, then deletes a session with all it holds.
func TestDiskRoundTrip(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, Sync{})
	if err := commitWait(t, d, fullBatch()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = openDisk(t, dir, Sync{})
	equalLines(t, recoverAll(t, d), fullWant)
	var b Batch
	b.DeleteSession("c1")
	if err := commitWait(t, d, &b); err != nil {
		t.Fatal(err)
	}
	got := recoverAll(t, d).String()
	if strings.Contains(got, "c1") {
		t.Fatal("session c1 left:", got)
	}
	st := d.Stats()
	if st.Syncs == 0 || st.Commits != 1 || st.DiskBytes <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDiskGroupCommit: many concurrent commits with fsync always share
// syncs, and each completes only after its sync.
func TestDiskGroupCommit(t *testing.T) {
	d := openDisk(t, t.TempDir(), Sync{})
	const n = 2000
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		var b Batch
		b.PutMessage(&Message{ID: uint64(i), Topic: []byte("t"), Payload: make([]byte, 100), QoS: 1})
		d.Commit(&b, func(err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	st := d.Stats()
	t.Logf("%d commits in %d groups, %d syncs", st.Commits, st.Groups, st.Syncs)
	if st.Commits != n || st.Syncs != st.Groups || st.Groups >= n {
		t.Fatalf("stats %+v", st)
	}
}

// TestDiskIntervalSync: with an interval, commits complete without a sync
// each and the log is synced by the interval.
func TestDiskIntervalSync(t *testing.T) {
	d := openDisk(t, t.TempDir(), Sync{Every: 20 * time.Millisecond})
	for i := range 50 {
		var b Batch
		b.PutMessage(&Message{ID: uint64(i), QoS: 1})
		if err := commitWait(t, d, &b); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.Stats().Syncs == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st := d.Stats()
	if st.Syncs == 0 || st.Syncs >= 50 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDiskLocked: a second store on the same directory is refused with a
// message naming it.
func TestDiskLocked(t *testing.T) {
	dir := t.TempDir()
	openDisk(t, dir, Sync{})
	_, err := OpenDisk(dir, DiskOptions{Log: quietLog()})
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("second open: %v", err)
	}
}

// TestDiskForeignDirectory: a directory with other files is not taken for
// an empty store.
func TestDiskForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenDisk(dir, DiskOptions{Log: quietLog()})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("open of a foreign directory: %v", err)
	}
}

// TestDiskCorruptManifest: a store whose files are damaged stops the open
// with an error naming the directory; nothing is started empty.
func TestDiskCorruptManifest(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, Sync{})
	if err := commitWait(t, d, fullBatch()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	ms, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
	if len(ms) == 0 {
		t.Fatal("no manifest")
	}
	for _, m := range ms {
		if err := os.WriteFile(m, []byte("garbage, not a manifest at all"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := OpenDisk(dir, DiskOptions{Log: quietLog()})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("open of a corrupt store: %v", err)
	}
}

// TestDiskTornTail cuts the write-ahead log in the middle of its last
// record, as a crash during a write leaves it: the store opens with every
// record before the torn one.
func TestDiskTornTail(t *testing.T) {
	dir := t.TempDir()
	d := openDisk(t, dir, Sync{})
	if err := commitWait(t, d, fullBatch()); err != nil {
		t.Fatal(err)
	}
	var b Batch
	b.PutRetained(&Retained{Topic: []byte("torn"), Payload: make([]byte, 4000)})
	if err := commitWait(t, d, &b); err != nil {
		t.Fatal(err)
	}
	// Crash: copy the directory as it is on disk while the store is open
	// (pebble keeps the log; Close would flush it into a table).
	crash := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wal string
	for _, e := range ents {
		if e.Name() == "LOCK" || e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(e.Name(), ".log") {
			wal = e.Name()
			data = data[:len(data)-1000] // the torn tail of the last batch
		}
		if err := os.WriteFile(filepath.Join(crash, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if wal == "" {
		t.Fatal("no write-ahead log in", ents)
	}
	r := openDisk(t, crash, Sync{})
	got := recoverAll(t, r)
	equalLines(t, got, fullWant)
}
