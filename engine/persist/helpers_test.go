package persist

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"
)

// collected is a Recoverer that prints each record on a line, in order.
type collected struct{ lines []string }

func (c *collected) add(f string, a ...any) error {
	c.lines = append(c.lines, fmt.Sprintf(f, a...))
	return nil
}

func (c *collected) Message(m *Message) error {
	return c.add("message %d q%d exp%d %s %q %x", m.ID, m.QoS, m.ExpireAt, m.Topic, m.Payload, m.Props)
}
func (c *collected) Retained(r *Retained) error {
	return c.add("retained %s q%d exp%d %q %x", r.Topic, r.QoS, r.ExpireAt, r.Payload, r.Props)
}
func (c *collected) Session(s *Session) error {
	w := "nil"
	if s.Will != nil {
		w = fmt.Sprintf("%s %q %x q%d r%v d%d", s.Will.Topic, s.Will.Payload, s.Will.Props, s.Will.QoS, s.Will.Retain, s.Will.Delay)
	}
	return c.add("session %s v%d exp%d off%d will(%s)", s.ClientID, s.Version, s.Expiry, s.OfflineAt, w)
}
func (c *collected) Subscription(s *Subscription) error {
	return c.add("sub %s %s q%d nl%v rap%v rh%d id%d", s.ClientID, s.Filter, s.QoS, s.NoLocal, s.RetainAsPublished, s.RetainHandling, s.ID)
}
func (c *collected) Delivery(d *Delivery) error {
	if m := d.Message; m != nil {
		return c.add("delivery %s #%d m%d q%d pid%d st%d r%v ids%v g%s inline(%d q%d exp%d %s %q %x)", d.ClientID, d.Seq, d.MessageID, d.QoS,
			d.PacketID, d.State, d.Retain, d.SubIDs, d.Group, m.ID, m.QoS, m.ExpireAt, m.Topic, m.Payload, m.Props)
	}
	return c.add("delivery %s #%d m%d q%d pid%d st%d r%v ids%v g%s", d.ClientID, d.Seq, d.MessageID, d.QoS, d.PacketID, d.State, d.Retain, d.SubIDs, d.Group)
}
func (c *collected) InQoS2(id string, pid uint16) error { return c.add("inqos2 %s %d", id, pid) }

func (c *collected) String() string { return fmt.Sprint(c.lines) }

func recoverAll(t *testing.T, s Store) *collected {
	t.Helper()
	var c collected
	if err := s.Recover(&c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// commitWait commits b and waits for its done.
func commitWait(t *testing.T, s Store, b *Batch) error {
	t.Helper()
	ch := make(chan error, 1)
	s.Commit(b, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("commit never completed")
		return nil
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fullBatch holds one record of every kind and some to delete again.
func fullBatch() *Batch {
	var b Batch
	b.PutMessage(&Message{ID: 7, Topic: []byte("a/b"), Payload: []byte("hello"), Props: []byte{0x01, 0x01}, QoS: 2, ExpireAt: 1234567890})
	b.PutMessage(&Message{ID: 8, Topic: []byte("a/c"), Payload: nil, QoS: 1})
	b.PutRetained(&Retained{Topic: []byte("r/1"), Payload: []byte("kept"), QoS: 1, ExpireAt: -5, Props: []byte{0x02}})
	b.PutRetained(&Retained{Topic: []byte("r/2"), Payload: []byte("gone")})
	b.DeleteRetained([]byte("r/2"))
	b.PutSession(&Session{ClientID: "c1", Version: 5, Expiry: 300, OfflineAt: 99,
		Will: &Will{Topic: []byte("w"), Payload: []byte("bye"), Props: []byte{0x03}, QoS: 1, Retain: true, Delay: 30}})
	b.PutSession(&Session{ClientID: "c2", Version: 4, Expiry: 0xFFFFFFFF})
	b.PutSubscription(&Subscription{ClientID: "c1", Filter: []byte("a/#"), QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: 42})
	b.PutSubscription(&Subscription{ClientID: "c1", Filter: []byte("$share/g/a/+"), QoS: 1})
	b.PutSubscription(&Subscription{ClientID: "c2", Filter: []byte("x"), QoS: 0})
	b.DeleteSubscription("c2", []byte("x"))
	b.PutDelivery(&Delivery{ClientID: "c1", Seq: 1, MessageID: 7, QoS: 2, PacketID: 10, State: Released, Retain: true, SubIDs: []uint32{42, 300000}, Group: []byte("$share/g/a/+")})
	b.PutDelivery(&Delivery{ClientID: "c1", Seq: 2, MessageID: 8, QoS: 1})
	b.NewDelivery(&Delivery{ClientID: "c1", Seq: 3, MessageID: 9, QoS: 1, Retain: true,
		Message: &Message{ID: 9, Topic: []byte("in/line"), Payload: []byte("own"), Props: []byte{0x04}, QoS: 2, ExpireAt: 77}})
	b.PutInQoS2("c1", 65535)
	b.PutInQoS2("c2", 3)
	b.DeleteInQoS2("c2", 3)
	return &b
}

const fullWant = `[message 7 q2 exp1234567890 a/b "hello" 0101 message 8 q1 exp0 a/c ""  ` +
	`retained r/1 q1 exp-5 "kept" 02 ` +
	`session c1 v5 exp300 off99 will(w "bye" 03 q1 rtrue d30) sub c1 $share/g/a/+ q1 nlfalse rapfalse rh0 id0 sub c1 a/# q2 nltrue raptrue rh2 id42 ` +
	`delivery c1 #1 m7 q2 pid10 st2 rtrue ids[42 300000] g$share/g/a/+ delivery c1 #2 m8 q1 pid0 st0 rfalse ids[] g ` +
	`delivery c1 #3 m9 q1 pid0 st0 rtrue ids[] g inline(9 q2 exp77 in/line "own" 04) inqos2 c1 65535 ` +
	`session c2 v4 exp4294967295 off0 will(nil)]`

func equalLines(t *testing.T, got *collected, want string) {
	t.Helper()
	if g := got.String(); g != want {
		t.Fatalf("recovered\n%s\nwant\n%s", g, want)
	}
}
