package client

import (
	"crypto/tls"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// Options configures a connection. The zero value is not usable: Addr is
// required; DefaultOptions fills the rest.
type Options struct {
	// Addr is the broker: host:port, or a URL whose scheme names the
	// transport (ParseEndpoint): tcp://, mqtt://, mqtts://, ws://, wss://.
	Addr string
	// TLS is the client's TLS configuration. Set, the connection uses TLS
	// whatever Addr's scheme; nil, only a TLS scheme (mqtts://, wss://)
	// does, verifying the broker against the system's roots. An empty
	// ServerName is taken from Addr's host.
	TLS *tls.Config
	// WebSocket carries MQTT in WebSocket binary frames (also set by a
	// ws:// or wss:// Addr); WSPath is the request path, default the
	// URL's or "/mqtt". permessage-deflate is not offered.
	WebSocket bool
	WSPath    string
	// Version is codec.V311 (the default) or codec.V5.
	Version codec.Version
	// ClientID is the client identifier; empty asks the broker to assign
	// one (which needs CleanStart in 3.1.1).
	ClientID string
	// CleanStart is the Clean Session (3.1.1) / Clean Start (5) flag.
	CleanStart bool
	// KeepAlive is the keep alive in seconds (0: none).
	KeepAlive uint16
	// SessionExpiry is the MQTT 5 Session Expiry Interval in seconds.
	SessionExpiry uint32
	// Username and Password are sent when non-empty.
	Username, Password string
	// Will is published by the broker if the connection ends without
	// DISCONNECT; nil for none.
	Will *Message
	// UserProperties are the MQTT 5 User Properties of CONNECT.
	UserProperties []codec.UserProperty
	// DialTimeout bounds the TCP connect and the wait for CONNACK.
	DialTimeout time.Duration
	// MaxPacketSize bounds a packet received from the broker (and is sent
	// as Maximum Packet Size in MQTT 5); larger ones close the connection.
	MaxPacketSize int
	// MessageBuffer is the capacity of Messages; a full buffer stops
	// reading from the broker until the user takes a message.
	MessageBuffer int
}

// DefaultOptions returns the options of mosquitto_pub/mosquitto_sub's
// defaults: MQTT 3.1.1, clean session, keep alive 60 s, for addr.
func DefaultOptions(addr string) Options {
	return Options{
		Addr:          addr,
		Version:       codec.V311,
		CleanStart:    true,
		KeepAlive:     60,
		DialTimeout:   10 * time.Second,
		MaxPacketSize: 16 << 20,
		MessageBuffer: 64,
	}
}

// Message is an application message, sent by Publish or received on
// Messages.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	// Dup is set on a received message the broker sent again.
	Dup bool
	// PacketID is the packet identifier of a received QoS 1 or 2 message.
	PacketID uint16
	// Props are the MQTT 5 properties: those to send (Publish: user
	// properties, expiry, content type...; Will: also Will Delay), or those
	// received. Received ones alias the message's own buffer.
	Props codec.Properties
}

// Connack is what the broker said in its CONNACK.
type Connack struct {
	SessionPresent bool
	// Props are the MQTT 5 CONNACK properties (assigned client identifier,
	// receive maximum, server keep alive...).
	Props codec.Properties
}
