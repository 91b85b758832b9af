package loadgen

import "errors"

// Errors returned by Run and the configuration checks.
var (
	// ErrNoAddr means Config.Addr is empty.
	ErrNoAddr = errors.New("loadgen: no broker address")
	// ErrMode means Config.Mode is not one of conn, pub, sub, pubsub.
	ErrMode = errors.New("loadgen: unknown mode (want conn, pub, sub or pubsub)")
	// ErrNoClients means the mode needs clients the Config does not ask for.
	ErrNoClients = errors.New("loadgen: no clients for this mode")
	// ErrQoS means Config.QoS is not 0, 1 or 2.
	ErrQoS = errors.New("loadgen: QoS must be 0, 1 or 2")
	// ErrPayloadSize means Config.PayloadSize is smaller than the 16-byte stamp.
	ErrPayloadSize = errors.New("loadgen: payload size must be at least 16 bytes")
	// ErrUnbounded means neither Duration nor Count bounds the run.
	ErrUnbounded = errors.New("loadgen: a run needs a duration or a message count")
	// ErrVersion means Config.Version is not 3.1.1 (4) or 5.
	ErrVersion = errors.New("loadgen: protocol version must be 4 (3.1.1) or 5")
	// ErrRoleAddr means an entry of Config.PubAddrs, SubAddrs or
	// ConnAddrs is not a host:port.
	ErrRoleAddr = errors.New("loadgen: bad publisher, subscriber or connection address (want host:port)")
	// ErrLocalAddr means an entry of Config.LocalAddrs is not an IP address.
	ErrLocalAddr = errors.New("loadgen: bad local address")
	// ErrFileLimit means the open-file limit is too low for the connections asked for.
	ErrFileLimit = errors.New("loadgen: open-file limit too low for the connection count")
	// ErrOffline means Config.Offline is set without what it needs:
	// persistent subscribers, QoS 1 or 2, a message count, pubsub mode
	// with publishers and subscribers, and no slow subscribers.
	ErrOffline = errors.New("loadgen: offline needs persistent subscribers, QoS 1 or 2, a count, publishers and subscribers in pubsub mode")
	// ErrConnack means the broker refused a CONNECT.
	ErrConnack = errors.New("loadgen: connection refused by broker")
	// ErrSuback means the broker refused a subscription.
	ErrSuback = errors.New("loadgen: subscription refused by broker")
	// ErrProtocol means the broker sent a packet the client did not expect.
	ErrProtocol = errors.New("loadgen: unexpected packet from broker")
	// ErrClosed means the broker closed a connection during the run.
	ErrClosed = errors.New("loadgen: connection closed by broker")
)
