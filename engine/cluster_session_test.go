package engine

import (
	"encoding/binary"
	"testing"

	"github.com/gust-mqtt/gust/engine/persist"
	"github.com/gust-mqtt/gust/trie"
)

// TestSessionRecordRoundTrip: a session's record gives back its
// subscriptions with their options and identifiers; every truncation of
// it is refused or read short, never a panic.
func TestSessionRecordRoundTrip(t *testing.T) {
	s := &session{clientID: "c", expiry: 600}
	st := s.subscriber()
	st.subs.put(subEntry{full: "a/+", sub: trie.Subscription{Filter: "a/+", QoS: 1, NoLocal: true, Identifier: 7}})
	st.subs.put(subEntry{full: "$share/g/b/#", sub: trie.Subscription{Filter: "b/#", Group: "g", QoS: 2, RetainAsPublished: true, RetainHandling: 2}})
	rec := encodeSessionRecord(nil, s)
	if got := binary.BigEndian.Uint32(rec[1:5]); got != 600 {
		t.Fatalf("expiry %d, want 600", got)
	}
	var got []persist.Subscription
	if err := decodeSessionRecord(rec, func(p *persist.Subscription) {
		q := *p
		q.Filter = append([]byte(nil), p.Filter...)
		got = append(got, q)
	}); err != nil {
		t.Fatal(err)
	}
	want := []persist.Subscription{
		{Filter: []byte("a/+"), QoS: 1, NoLocal: true, ID: 7},
		{Filter: []byte("$share/g/b/#"), QoS: 2, RetainAsPublished: true, RetainHandling: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d subscriptions, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if string(g.Filter) != string(w.Filter) || g.QoS != w.QoS || g.NoLocal != w.NoLocal ||
			g.RetainAsPublished != w.RetainAsPublished || g.RetainHandling != w.RetainHandling || g.ID != w.ID {
			t.Fatalf("subscription %d: got %+v, want %+v", i, g, w)
		}
	}
	for n := range len(rec) {
		_ = decodeSessionRecord(rec[:n], func(*persist.Subscription) {})
	}
	if decodeSessionRecord([]byte{9, 0, 0, 0, 0}, func(*persist.Subscription) {}) == nil {
		t.Fatal("a record of an unknown version was read")
	}
}
