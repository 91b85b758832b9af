package engine

import (
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
		equal(t, ack.ReasonCode, 0, "CONNACK for", id)
		conns = append(conns, r)
	}
	for _, r := range conns {
		_ = r.nc.Close()
	}
	waitFor(t, "clients gone", func() bool { return b.connected.Load() == 0 })
	st := b.Stats()
	equal(t, st.ClientsConnected, 0, "connected")
	equal(t, st.ClientsMaximum, 3, "maximum")
}
