package cluster

import (
	"errors"

	"github.com/nats-io/nats.go"
)

// Session records: the part of a persistent session another node needs
// to take it over (its expiry and subscriptions, encoded by the engine)
// rides in the session's ownership entry, after the owner. The owner
// rewrites the entry when the record changes, with a compare-and-set on
// the revision of its claim, so a node that lost the session can never
// overwrite the new owner's entry; a claim that is not a clean start keeps
// the record, and hands it to the engine.
//
// SaveSession only queues the record (the latest one per client id): one
// writer goroutine writes them, so that the event loops never wait for
// JetStream. A record not yet written when the node dies is lost: the
// next owner gets the one before it.

// SaveSession queues record as the session record of clientID, held by
// this node; nil clears it. Ignored when this node holds no claim of
// clientID. Any goroutine.
func (n *Node) SaveSession(clientID string, record []byte) {
	o := &n.own
	o.mu.Lock()
	if _, ok := o.owned[clientID]; !ok {
		o.mu.Unlock()
		return
	}
	o.dirty[clientID] = record
	o.mu.Unlock()

	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// writeRecords writes the queued session records, each at the revision
// of this node's claim, until the node closes.
func (n *Node) writeRecords() {
	defer n.wg.Done()
	o := &n.own
	for {
		select {
		case <-n.quit:
			return
		case <-o.wake:
		}
		kvp := o.kv.Load()
		if kvp == nil {
			continue // claims wait for the bucket too: nothing is owned
		}
		kv := *kvp
		for {
			o.mu.Lock()
			var id string
			var rec []byte
			var h held
			found := false
			for id, rec = range o.dirty {
				delete(o.dirty, id)
				h, found = o.owned[id]
				if found {
					break
				}
			}
			o.mu.Unlock()
			if !found {
				break
			}
			rev, err := kv.Update(ownerKey(id), ownerValue(n.cfg.Node, false, rec), h.rev)
			o.mu.Lock()
			if cur, ok := o.owned[id]; ok && cur.token == h.token && cur.rev == h.rev {
				if cur.release && o.dirty[id] == nil {
					delete(o.owned, id) // the session ended here
					delete(o.dirty, id)
				} else if err == nil {
					o.owned[id] = held{rev: rev, token: h.token, record: len(rec) > 0, release: cur.release}
				}
			}
			o.mu.Unlock()
			switch {
			case err == nil:
				o.written.Add(1)
			case errors.Is(err, nats.ErrKeyExists):
				// Claimed elsewhere meanwhile: the watcher hands it over.
			default:
				o.writeFailed.Add(1)
				n.log.Warn("cluster: session record not written; the next owner of the session gets the one before",
					"err", err, "failed", o.writeFailed.Load())
			}
		}
	}
}
