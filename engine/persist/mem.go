package persist

import (
	"bytes"
	"slices"
	"sync"
	"time"
)

// Mem is a Store that keeps its records in memory: durable for as long as
// the process lives. Tests use it (Hold lets them decide when commits
// complete); it is also the shape of a store that sends records
// elsewhere.
type Mem struct {
	c committer

	mu   sync.Mutex
	kv   map[string][]byte
	gate chan struct{} // non-nil while held: closed by Release

	recovered time.Duration
}

// NewMem returns an empty Mem.
func NewMem() *Mem {
	m := &Mem{kv: make(map[string][]byte)}
	m.c.start(0, m.write, func() error { return nil })
	return m
}

// Commit queues b; done runs once it is applied.
func (m *Mem) Commit(b *Batch, done func(error)) { m.c.commit(b, done, nil) }

// Hold keeps the commits from completing until Release.
func (m *Mem) Hold() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gate == nil {
		m.gate = make(chan struct{})
	}
}

// Release lets held commits complete.
func (m *Mem) Release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gate != nil {
		close(m.gate)
		m.gate = nil
	}
}

func (m *Mem) write(group []pending, _ bool) (func() error, error) {
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		<-gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return nil, eachOp(group, func(kind opKind, k, val []byte) error {
		switch kind {
		case opSet:
			m.kv[string(k)] = bytes.Clone(val)
		case opDelete:
			delete(m.kv, string(k))
		case opDeleteRange:
			for key := range m.kv {
				if key >= string(k) && key < string(val) {
					delete(m.kv, key)
				}
			}
		}
		return nil
	})
}

// Recover visits the records in key order.
func (m *Mem) Recover(r Recoverer) error {
	start := time.Now()
	m.mu.Lock()
	keys := make([]string, 0, len(m.kv))
	for k := range m.kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = m.kv[k]
	}
	m.mu.Unlock()
	v := visitor{rec: r}
	for i, k := range keys {
		if err := v.visit([]byte(k), vals[i]); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.recovered = time.Since(start)
	m.mu.Unlock()
	return nil
}

// Len is the number of records held.
func (m *Mem) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.kv)
}

// Stats reports the counters.
func (m *Mem) Stats() Stats {
	st := m.c.stats()
	m.mu.Lock()
	st.Recovered = m.recovered
	m.mu.Unlock()
	return st
}

// Close completes the queued commits.
func (m *Mem) Close() error {
	m.Release()
	m.c.close()
	return nil
}
