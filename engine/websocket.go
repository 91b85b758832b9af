package engine

import (
	"github.com/gust-mqtt/gust/engine/network"
	"github.com/gust-mqtt/gust/engine/transport"
)

// wsSlack is what a WebSocket message may carry past the largest packet:
// a client may put a small packet in the same message as a large one.
const wsSlack = 4 << 10

// webSocket is the default Config.WebSocket: package transport's
// WebSocket on the listener's path, permessage-deflate accepted when
// offered, a message bounded by max_packet_size (plus wsSlack, at least
// 64 KiB), logging on the broker's log.
func (b *Broker) webSocket(l Listener) (func(under network.Conn) network.Layer, error) {
	srv, err := transport.NewWSServer(transport.WSOptions{
		Path:       l.Path,
		MaxMessage: max(b.cfg.MaxPacketSize+wsSlack, 64<<10),
		Deflate:    true,
	}, b.log)
	if err != nil {
		return nil, err
	}
	b.wsServers = append(b.wsServers, srv)
	return srv.Wrap, nil
}
