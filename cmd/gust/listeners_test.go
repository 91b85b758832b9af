package main

import (
	"io"
	"reflect"
	"testing"

	"github.com/gust-mqtt/gust/engine"
)

// TestServeWebSocketSettings: the ws-* flags (and their TOML keys) reach
// the listen-ws and listen-wss listeners, and a [[listener]] block takes
// its own, sizes with units.
func TestServeWebSocketSettings(t *testing.T) {
	cfg, err := loadServeConfig([]string{"--listen-ws", "127.0.0.1:0", "--ws-path", "/broker",
		"--ws-deflate=false", "--ws-max-frame-size", "1MiB", "--ws-max-inflated-size", "256KiB",
		"--ws-origins", "https://a.example, http://localhost:8080"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 {
		t.Fatalf("listeners %+v, want tcp and ws", cfg.Listeners)
	}
	l := cfg.Listeners[1]
	if l.Transport != engine.TransportWS || l.Path != "/broker" || l.WSDeflate == nil || *l.WSDeflate ||
		l.WSMaxFrameSize != 1<<20 || l.WSMaxInflatedSize != 256<<10 || l.WSMaxMessageSize != 0 ||
		!reflect.DeepEqual(l.WSOrigins, []string{"https://a.example", "http://localhost:8080"}) {
		t.Fatalf("ws listener from flags: %+v", l)
	}

	p := writeFile(t, `ws_max_message_size = "128KiB"
listen_ws = "127.0.0.1:0"

[[listener]]
transport = "ws"
addr = "127.0.0.1:0"
path = "/block"
ws_deflate = false
ws_max_frame_size = "2MiB"
ws_max_header_size = 4096
ws_compress_threshold = "1KiB"
ws_origins = ["https://b.example"]
max_connections = 100
`)
	cfg, err = loadServeConfig([]string{"--config", p}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 {
		t.Fatalf("listeners %+v, want the block's and listen_ws", cfg.Listeners)
	}
	bl, fl := cfg.Listeners[0], cfg.Listeners[1]
	if bl.Path != "/block" || bl.WSDeflate == nil || *bl.WSDeflate || bl.WSMaxFrameSize != 2<<20 ||
		bl.WSMaxHeaderSize != 4096 || bl.WSCompressThreshold != 1024 || bl.MaxConnections != 100 ||
		!reflect.DeepEqual(bl.WSOrigins, []string{"https://b.example"}) || bl.WSMaxMessageSize != 0 {
		t.Fatalf("block listener: %+v", bl)
	}
	if fl.WSMaxMessageSize != 128<<10 || fl.Path != "" || fl.WSDeflate == nil || !*fl.WSDeflate {
		t.Fatalf("listen_ws listener: %+v", fl)
	}
}
