package engine

import (
	"fmt"
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// TestClientsMaximumAtConnect: the most clients ever connected at once is
// recorded when they connect, not when Stats happens to be read: three
// clients connect and leave before anyone asks, and Stats still says 3.
func TestClientsMaximumAtConnect(t *testing.T) {
	b := startBroker(t, nil)
	var conns []*rawConn
	for _, id := range []string{"max-1", "max-2", "max-3"} {
		r := dialRaw(t, b)
		ack := r.connect(&codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, CleanStart: true,
			ClientID: []byte(id)})
		if ack.ReasonCode != 0 {
			t.Fatalf("%s: got %v, want %v", fmt.Sprint("CONNACK for", id), ack.ReasonCode, 0)
		}
		conns = append(conns, r)
	}
	for _, r := range conns {
		_ = r.nc.Close()
	}
	waitFor(t, "clients gone", func() bool { return b.connected.Load() == 0 })
	st := b.Stats()
	if st.ClientsConnected != 0 {
		t.Fatalf("connected: got %v, want %v", st.ClientsConnected, 0)
	}
	if st.ClientsMaximum != 3 {
		t.Fatalf("maximum: got %v, want %v", st.ClientsMaximum, 3)
	}
}
