package persist

import (
	"fmt"
	"slices"
	"testing"
)

// TestElide: in one group, a delivery and a message created and deleted
// again are never written, with the updates between; a deletion of a
// record an earlier group wrote, an update of one, and a range deletion
// are written; a refused batch takes no part.
func TestElide(t *testing.T) {
	var b1, b2, b3 Batch
	b1.NewDelivery(&Delivery{ClientID: "a", Seq: 1, MessageID: 5, QoS: 1})
	b1.PutMessage(&Message{ID: 5, Topic: []byte("t"), QoS: 1})
	b1.NewDelivery(&Delivery{ClientID: "a", Seq: 2, MessageID: 5, QoS: 1}) // stays: not deleted
	b2.PutDelivery(&Delivery{ClientID: "a", Seq: 1, MessageID: 5, QoS: 1, PacketID: 7, State: Published})
	b2.DeleteDelivery("a", 1)
	b2.PutDelivery(&Delivery{ClientID: "b", Seq: 3, QoS: 1, PacketID: 2, State: Published}) // an older record
	b2.DeleteDelivery("c", 4)                                                               // an older record
	b2.DeleteSession("d")
	b3.DeleteMessage(5) // refused below: the message stays
	b2.DeleteMessage(5)
	group := []pending{{b: &b1}, {b: &b3, refused: ErrFull}, {b: &b2}}
	var e elider
	if n := e.elide(group); n != 5 {
		t.Fatalf("%d operations elided, want 5", n)
	}
	var written []string
	if err := eachOp(group, func(kind opKind, key, _ []byte) error {
		written = append(written, fmt.Sprintf("%d %x", kind, key))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("%d %x", opSet, deliveryKey(nil, "a", 2)),
		fmt.Sprintf("%d %x", opSet, deliveryKey(nil, "b", 3)),
		fmt.Sprintf("%d %x", opDelete, deliveryKey(nil, "c", 4)),
		fmt.Sprintf("%d %x", opDeleteRange, clientKey(nil, "d")),
	}
	if !slices.Equal(written, want) {
		t.Fatalf("written:\n%v\nwant:\n%v", written, want)
	}
	if !toWrite(group) {
		t.Fatal("toWrite false with operations left")
	}

	var only Batch // everything cancels: nothing to write
	only.PutMessage(&Message{ID: 9, Topic: []byte("t")})
	only.DeleteMessage(9)
	g := []pending{{b: &only}}
	e.elide(g)
	if toWrite(g) {
		t.Fatal("toWrite true for a group that cancels out")
	}
}
