package engine

import (
	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/engine/transport"
)

// wsSlack is what a compressed WebSocket message may carry past the
// largest packet: a client may join a small packet to a large one.
const wsSlack = 4 << 10

// wsMinFrame is the least frame size a WebSocket client may send: a client
// may join many packets in one frame (one per flush, as gust load does).
const wsMinFrame = 16 << 20

// webSocket is the default Config.WebSocket: package transport's
// WebSocket with the listener's ws_* settings, logging on the broker's
// log. By default permessage-deflate is accepted when offered, a
// compressed message is bounded by max_packet_size (plus wsSlack, at
// least 64 KiB) on the wire and inflated, and a frame by 4 packets (at
// least wsMinFrame).
func (b *Broker) webSocket(l Listener) (func(under network.Conn) network.Layer, error) {
	orDefault := func(v ByteSize, def int) int {
		if v > 0 {
			return int(v)
		}
		return def
	}
	message := max(b.cfg.MaxPacketSize+wsSlack, 64<<10)
	srv, err := transport.NewWSServer(transport.WSOptions{
		Path:              l.Path,
		MaxHeaderBytes:    int(l.WSMaxHeaderSize),
		MaxMessage:        orDefault(l.WSMaxMessageSize, message),
		MaxInflated:       orDefault(l.WSMaxInflatedSize, message),
		MaxFrame:          orDefault(l.WSMaxFrameSize, max(4*b.cfg.MaxPacketSize, wsMinFrame)),
		Deflate:           l.WSDeflate == nil || *l.WSDeflate,
		CompressThreshold: int(l.WSCompressThreshold),
		Origins:           l.WSOrigins,
	}, b.log)
	if err != nil {
		return nil, err
	}
	b.wsServers = append(b.wsServers, srv)
	return srv.Wrap, nil
}
