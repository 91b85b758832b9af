package engine

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/gust-mqtt/gust/codec"
)

// connectedClient connects one client through a harness whose logger
// writes to w at level, and returns it.
func connectedClient(t *testing.T, w io.Writer, level slog.Level) *client {
	hs := newHarness(t, 1, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	})
	f := &fakeConn{el: hs.loops[0], in: make([]byte, 0, 64)}
	hs.h.OnOpen(f)
	hs.send(f, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
		CleanStart: true, KeepAlive: 60, ClientID: []byte("logged")}))
	hs.pump()
	c, ok := f.ctx.(*client)
	if !ok || c.state != stateConnected {
		t.Fatal("client not connected")
	}
	return c
}

// TestConnectionLinesFreeWhenDropped checks that the connection messages
// cost no allocation when the log level drops them (a broker run at warn,
// as the bench harness runs it), and are written at info.
func TestConnectionLinesFreeWhenDropped(t *testing.T) {
	p := &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311, CleanStart: true, KeepAlive: 60,
		ClientID: []byte("logged"), Username: []byte("u")}
	var info syncBuffer
	c := connectedClient(t, &info, slog.LevelInfo)
	c.logConnected(p, "logged", false)
	c.logRefused(codec.ReasonCode(codec.ConnackNotAuthorized))
	for _, want := range []string{"client connected", "client=logged", "user=u", "client refused"} {
		if !strings.Contains(info.String(), want) {
			t.Errorf("at info, the log lacks %q:\n%s", want, info.String())
		}
	}
	if raceEnabled {
		t.Skip("allocations are not counted under -race")
	}
	c = connectedClient(t, io.Discard, slog.LevelWarn)
	if n := testing.AllocsPerRun(100, func() {
		c.logConnected(p, "logged", false)
		c.logRefused(codec.ReasonCode(codec.ConnackNotAuthorized))
		c.logClosed(true)
	}); n != 0 {
		t.Fatalf("connection lines dropped at warn allocate %.1f times", n)
	}
}
