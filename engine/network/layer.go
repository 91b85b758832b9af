package network

import (
	"net"
	"time"
)

// A transport (TLS, WebSocket) is a Layer: a Conn built over the raw
// connection of a loop. The Handler sees only the Layer, so the engine
// keeps one code path for every transport: it reads the bytes the layer
// decoded (InboundBuffered, Peek, Discard, Read) and writes bytes the layer
// encodes onto the raw connection (Write). The Poller routes the raw
// connection's events through the layer:
//
//   - Loop.Adopt takes a Wrap. On the loop, once the socket is registered
//     and before Handler.OnOpen, the Poller calls it with the raw Conn and
//     from then on gives the Handler the Layer it returned, in every
//     callback. The raw Conn's context holds the Layer; the Layer keeps
//     the Handler's own context (Context, SetContext).
//   - When the raw connection has new bytes the Poller calls Fill, then
//     Handler.OnTraffic with the Layer if Fill added any bytes. Fill is
//     also called once right after Handler.OnOpen, for bytes the transport
//     already holds (read during a handshake done before adoption).
//   - A Fill error closes the connection, after Handler.OnTraffic has had
//     the bytes Fill added before it: the Layer's Closing is not called,
//     Handler.OnClose receives the error.
//   - Before the Poller closes the raw connection for the Handler (a
//     callback returning Close, Loop.Close) it calls Closing, which may
//     write a last message (a TLS close_notify, a WebSocket close frame)
//     through the raw Conn's Write.
//   - Loop.Close accepts the Layer (it closes the raw connection under it).
//
// The Layer's Write turns the Handler's bytes into wire bytes written to
// the raw Conn, whose Write copies what it cannot send: the contract of
// Write (copy, order, completion before Close) carries over. Its
// OutboundBuffered is the raw Conn's (wire bytes, which is what the
// Handler's outbound bounds are about); SetLinger, RemoteAddr pass through.
// Every Layer method is loop-only and must never block.
//
// A Layer may be built over another (WebSocket over TLS): the Poller
// drives only the outer one, whose Fill, Closing and Err call the inner
// one's; Loop.Close unwraps every Layer down to the raw connection.

// Layer is a transport's Conn over a raw connection of a loop; see above.
type Layer interface {
	Conn
	// Under returns the raw connection the layer reads and writes.
	Under() Conn
	// Fill decodes what the raw connection has buffered into the bytes the
	// Handler reads (consuming them from the raw Conn), answering the
	// transport's own control messages on the raw Conn. It returns the
	// number of bytes added for the Handler, and an error when the peer
	// broke the transport's rules or ended the transport (the connection
	// is then closed with it).
	Fill() (int, error)
	// Closing is called before the raw connection is closed for the
	// Handler; it may write a last message.
	Closing()
	// Err returns the error the last Fill returned, nil if none.
	Err() error
}

// Wrap builds the Layer of a raw connection just registered on its loop
// (Loop.Adopt). It runs on the loop, before Handler.OnOpen, and cannot
// fail: a transport does what can fail (a handshake) before adoption.
type Wrap func(raw Conn) Layer

// Opened is implemented by a Layer whose transport did work before the
// connection was adopted (a TLS handshake): it reports when the socket was
// accepted, so that the Handler counts that work against its own connect
// deadline. Loop-only.
type Opened interface {
	AcceptedAt() time.Time
}

// Identified is implemented by a Layer whose transport authenticated the
// peer for the Handler (a TLS client certificate on a listener that takes
// its identity as the MQTT user name). PeerIdentity is "" when it has
// none. Loop-only.
type Identified interface {
	PeerIdentity() string
}

// rawConn returns the raw connection under c's Layers, c itself if it has
// none.
func rawConn(c Conn) Conn {
	for {
		ly, ok := c.(Layer)
		if !ok {
			return c
		}
		c = ly.Under()
	}
}

// LocalAddr returns the address c was accepted on (the local given to
// Loop.Adopt), through any Layers; nil if its raw connection keeps none.
// Loop-only.
func LocalAddr(c Conn) net.Addr {
	if la, ok := rawConn(c).(interface{ LocalAddr() net.Addr }); ok {
		return la.LocalAddr()
	}
	return nil
}
