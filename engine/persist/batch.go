package persist

import (
	"bytes"

	"github.com/cespare/xxhash/v2"
)

// opKind is what one operation of a Batch does.
type opKind byte

const (
	opSet opKind = iota
	opDelete
	opDeleteRange // [key, val)
	// opCreate is an opSet of a key that no earlier commit wrote: a
	// later deletion in the same group cancels both (elide).
	opCreate
)

// op locates one operation's key and value in Batch.buf.
type op struct {
	kind       opKind
	skip       bool // cancelled within its group (elide): not written
	koff, klen int32
	voff, vlen int32
}

// Batch is a group of changes made durable together. Build it with its
// methods (each copies what it is given), hand it to Store.Commit, and
// Reset it for reuse once the commit is done. Not safe for concurrent
// use.
type Batch struct {
	buf []byte
	ops []op
}

// Len is the number of operations in b.
func (b *Batch) Len() int { return len(b.ops) }

// Size is the number of key and value bytes in b.
func (b *Batch) Size() int { return len(b.buf) }

// deletesOnly reports whether b only removes records: it frees space,
// so a full store still takes it.
func (b *Batch) deletesOnly() bool {
	for i := range b.ops {
		if k := b.ops[i].kind; k == opSet || k == opCreate {
			return false
		}
	}
	return true
}

// Reset empties b, keeping its memory.
func (b *Batch) Reset() {
	b.buf = b.buf[:0]
	b.ops = b.ops[:0]
}

// add records an operation whose key was appended to b.buf from koff
// and whose value follows from voff.
func (b *Batch) add(kind opKind, koff, voff int) {
	b.ops = append(b.ops, op{kind: kind, koff: int32(koff), klen: int32(voff - koff), voff: int32(voff), vlen: int32(len(b.buf) - voff)})
}

func (b *Batch) key(o *op) []byte { return b.buf[o.koff : o.koff+o.klen : o.koff+o.klen] }
func (b *Batch) val(o *op) []byte { return b.buf[o.voff : o.voff+o.vlen : o.voff+o.vlen] }

// PutMessage stores m under its id, which no earlier commit used.
func (b *Batch) PutMessage(m *Message) {
	k := len(b.buf)
	b.buf = messageKey(b.buf, m.ID)
	v := len(b.buf)
	b.buf = encodeMessage(b.buf, m)
	b.add(opCreate, k, v)
}

// DeleteMessage removes the message with id.
func (b *Batch) DeleteMessage(id uint64) {
	k := len(b.buf)
	b.buf = messageKey(b.buf, id)
	b.add(opDelete, k, len(b.buf))
}

// PutRetained sets the retained message of r.Topic.
func (b *Batch) PutRetained(r *Retained) {
	k := len(b.buf)
	b.buf = retainedKey(b.buf, r.Topic)
	v := len(b.buf)
	b.buf = encodeRetained(b.buf, r)
	b.add(opSet, k, v)
}

// DeleteRetained clears the retained message of topic.
func (b *Batch) DeleteRetained(topic []byte) {
	k := len(b.buf)
	b.buf = retainedKey(b.buf, topic)
	b.add(opDelete, k, len(b.buf))
}

// PutSession stores s (not its subscriptions or deliveries).
func (b *Batch) PutSession(s *Session) {
	k := len(b.buf)
	b.buf = sessionKey(b.buf, s.ClientID)
	v := len(b.buf)
	b.buf = encodeSession(b.buf, s)
	b.add(opSet, k, v)
}

// DeleteSession removes the session of clientID with everything it
// holds: subscriptions, deliveries, inbound QoS 2 ids. The messages its
// deliveries named are the caller's to delete when no session names them.
func (b *Batch) DeleteSession(clientID string) {
	k := len(b.buf)
	b.buf = clientKey(b.buf, clientID)
	v := len(b.buf)
	b.buf = append(clientKey(b.buf, clientID), 0xFF)
	b.add(opDeleteRange, k, v)
}

// PutSubscription stores a subscription, replacing one of the same filter.
func (b *Batch) PutSubscription(s *Subscription) {
	k := len(b.buf)
	b.buf = subKey(b.buf, s.ClientID, s.Filter)
	v := len(b.buf)
	b.buf = encodeSubscription(b.buf, s)
	b.add(opSet, k, v)
}

// DeleteSubscription removes clientID's subscription to filter.
func (b *Batch) DeleteSubscription(clientID string, filter []byte) {
	k := len(b.buf)
	b.buf = subKey(b.buf, clientID, filter)
	b.add(opDelete, k, len(b.buf))
}

// PutDelivery stores or updates (same ClientID and Seq) a delivery.
func (b *Batch) PutDelivery(d *Delivery) {
	k := len(b.buf)
	b.buf = deliveryKey(b.buf, d.ClientID, d.Seq)
	v := len(b.buf)
	b.buf = encodeDelivery(b.buf, d)
	b.add(opSet, k, v)
}

// NewDelivery stores a delivery whose ClientID and Seq no earlier commit
// used.
func (b *Batch) NewDelivery(d *Delivery) {
	k := len(b.buf)
	b.buf = deliveryKey(b.buf, d.ClientID, d.Seq)
	v := len(b.buf)
	b.buf = encodeDelivery(b.buf, d)
	b.add(opCreate, k, v)
}

// DeleteDelivery removes clientID's delivery seq.
func (b *Batch) DeleteDelivery(clientID string, seq uint64) {
	k := len(b.buf)
	b.buf = deliveryKey(b.buf, clientID, seq)
	b.add(opDelete, k, len(b.buf))
}

// PutInQoS2 records an inbound QoS 2 packet id awaiting PUBREL.
func (b *Batch) PutInQoS2(clientID string, pid uint16) {
	k := len(b.buf)
	b.buf = inQoS2Key(b.buf, clientID, pid)
	v := len(b.buf)
	b.buf = append(b.buf, valueVersion)
	b.add(opSet, k, v)
}

// DeleteInQoS2 forgets an inbound QoS 2 packet id (PUBREL received).
func (b *Batch) DeleteInQoS2(clientID string, pid uint16) {
	k := len(b.buf)
	b.buf = inQoS2Key(b.buf, clientID, pid)
	b.add(opDelete, k, len(b.buf))
}

// eachOp calls fn for every operation of the group's batches that were
// not refused, in order (for a range deletion val is the end), and stops
// at its first error.
func eachOp(group []pending, fn func(kind opKind, key, val []byte) error) error {
	for _, p := range group {
		if p.refused != nil {
			continue
		}
		b := p.b
		for i := range b.ops {
			o := &b.ops[i]
			if o.skip {
				continue
			}
			kind := o.kind
			if kind == opCreate {
				kind = opSet
			}
			if err := fn(kind, b.key(o), b.val(o)); err != nil {
				return err
			}
		}
	}
	return nil
}

// elider finds the records a group creates and deletes again (a message
// delivered and acknowledged before the commit that stores it was
// written): it marks every operation on such a key skipped, since the
// store ends the group without the key either way. Reused by one
// committer goroutine.
type elider struct {
	created map[uint64]opRef // key hash -> its create in this group
	later   []opRef          // sets after a create, by the create's slot
}

// opRef names one operation of a group: its batch and index, and the
// first of the later sets on the same key (-1: none).
type opRef struct {
	b     *Batch
	i     int32
	first int32
}

// elide marks the cancelled operations of group and returns how many.
func (e *elider) elide(group []pending) int {
	if e.created == nil {
		e.created = make(map[uint64]opRef)
	}
	defer func() {
		clear(e.created)
		e.later = e.later[:0]
	}()
	n := 0
	for _, p := range group {
		if p.refused != nil {
			continue
		}
		b := p.b
		for i := range b.ops {
			o := &b.ops[i]
			if o.kind != opCreate && o.kind != opSet && o.kind != opDelete {
				continue
			}
			k := b.key(o)
			h := xxhash.Sum64(k)
			c, ok := e.created[h]
			if ok && !bytes.Equal(c.b.key(&c.b.ops[c.i]), k) {
				continue // another key with the same hash: written as is
			}
			switch {
			case o.kind == opCreate:
				e.created[h] = opRef{b: b, i: int32(i), first: -1}
			case !ok:
			case o.kind == opSet:
				e.later = append(e.later, opRef{b: b, i: int32(i), first: c.first})
				c.first = int32(len(e.later) - 1)
				e.created[h] = c
			default: // the delete of a key this group created
				c.b.ops[c.i].skip = true
				o.skip = true
				n += 2
				for j := c.first; j >= 0; j = e.later[j].first {
					r := e.later[j]
					r.b.ops[r.i].skip = true
					n++
				}
				delete(e.created, h)
			}
		}
	}
	return n
}
