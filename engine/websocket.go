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
// WebSocket on the listener's path, permessage-deflate accepted when
// offered, a compressed message bounded by max_packet_size (plus wsSlack,
// at least 64 KiB, the bound of its inflation) and a frame by 4 packets
// (at least wsMinFrame), logging on the broker's log.
func (b *Broker) webSocket(l Listener) (func(under network.Conn) network.Layer, error) {
	srv, err := transport.NewWSServer(transport.WSOptions{
		Path:       l.Path,
		MaxMessage: max(b.cfg.MaxPacketSize+wsSlack, 64<<10),
		MaxFrame:   max(4*b.cfg.MaxPacketSize, wsMinFrame),
		Deflate:    true,
	}, b.log)
	if err != nil {
		return nil, err
	}
	b.wsServers = append(b.wsServers, srv)
	return srv.Wrap, nil
}
