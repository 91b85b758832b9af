package loadgen

import "encoding/binary"

// putStamp writes the send time, publisher index and sequence number to
// the first StampSize bytes of p. Precondition: len(p) >= StampSize.
func putStamp(p []byte, sentNanos int64, pub, seq uint32) {
	binary.BigEndian.PutUint64(p[0:8], uint64(sentNanos))
	binary.BigEndian.PutUint32(p[8:12], pub)
	binary.BigEndian.PutUint32(p[12:16], seq)
}

// readStamp reads a stamp written by putStamp; ok is false when p is
// shorter than StampSize (a message not made by this generator).
func readStamp(p []byte) (sentNanos int64, pub, seq uint32, ok bool) {
	if len(p) < StampSize {
		return 0, 0, 0, false
	}
	return int64(binary.BigEndian.Uint64(p[0:8])), binary.BigEndian.Uint32(p[8:12]),
		binary.BigEndian.Uint32(p[12:16]), true
}

// seqWindow tracks the sequence numbers received from one publisher by one
// subscriber: the highest seen and a 64-bit bitmap of the 64 numbers below
// it, like an anti-replay window. Numbers further behind count as out of
// order (they cannot be checked for duplication).
type seqWindow struct {
	max    uint32
	bits   uint64 // bit i set: max-i was received (bit 0 is max itself)
	unique uint64 // distinct numbers received
	seen   bool
}

// seqOutcome classifies one arrival.
type seqOutcome uint8

const (
	seqInOrder seqOutcome = iota
	seqDuplicate
	seqOutOfOrder
)

// add records seq and classifies it.
func (w *seqWindow) add(seq uint32) seqOutcome {
	if !w.seen {
		w.seen, w.max, w.bits, w.unique = true, seq, 1, 1
		return seqInOrder
	}
	if seq > w.max {
		shift := seq - w.max
		if shift >= 64 {
			w.bits = 1
		} else {
			w.bits = w.bits<<shift | 1
		}
		w.max = seq
		w.unique++
		return seqInOrder
	}
	back := w.max - seq
	if back >= 64 {
		w.unique++
		return seqOutOfOrder
	}
	if w.bits&(1<<back) != 0 {
		return seqDuplicate
	}
	w.bits |= 1 << back
	w.unique++
	return seqOutOfOrder
}

// gaps returns how many numbers from 0 to max were never received: the
// loss as far as this window can tell (losses after max are invisible).
func (w *seqWindow) gaps() uint64 {
	if !w.seen {
		return 0
	}
	want := uint64(w.max) + 1
	if w.unique >= want {
		return 0
	}
	return want - w.unique
}
