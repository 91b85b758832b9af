package engine

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/persist"
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

// TestSysStoreTopics: with a store, $SYS publishes its counters, and they
// count the commits made.
func TestSysStoreTopics(t *testing.T) {
	mem := persist.NewMem()
	t.Cleanup(func() { _ = mem.Close() })
	b := startBroker(t, func(c *Config) { c.Persist = mem; c.SysInterval = 100 * time.Millisecond })
	p := dialRaw(t, b)
	p.connect(&codec.Connect{ClientID: []byte("p"), CleanStart: true})
	p.publish(&codec.Publish{Topic: []byte("r"), Payload: []byte("v"), QoS: 1, PacketID: 1, Retain: true})
	p.mustRead(codec.TypePuback)
	waitFor(t, "a store commit in Stats", func() bool { return b.Stats().Store.Commits > 0 })
	s := dialRaw(t, b)
	s.connect(&codec.Connect{ClientID: []byte("s"), CleanStart: true})
	s.subscribe(1, "$SYS/broker/store/commits", 0)
	m := decodePublish(t, s.mustRead(codec.TypePublish))
	if n, err := strconv.Atoi(string(m.Payload)); err != nil || n < 1 {
		t.Fatalf("$SYS/broker/store/commits = %q", m.Payload)
	}
}
