package client

import (
	"errors"
	"fmt"

	"github.com/gust-mqtt/gust/codec"
)

// Errors returned by the client.
var (
	// ErrAddr means an address is none of the forms ParseEndpoint takes.
	ErrAddr = errors.New("client: bad address")
	// ErrWebSocket means the WebSocket upgrade was refused or the broker
	// broke the WebSocket protocol.
	ErrWebSocket = errors.New("client: websocket")
	// ErrClosed means the broker closed the connection without a reason.
	ErrClosed = errors.New("client: connection closed by the broker")
	// ErrNoConnack means the broker closed the connection before CONNACK.
	ErrNoConnack = errors.New("client: connection closed by the broker before CONNACK")
	// ErrProtocol means the broker sent a packet the client did not expect.
	ErrProtocol = errors.New("client: unexpected packet from the broker")
	// ErrPingTimeout means the broker did not answer a PINGREQ within the
	// keep alive.
	ErrPingTimeout = errors.New("client: no PINGRESP within the keep alive")
	// ErrClientClosed means the call was made on, or interrupted by, a
	// client closed by its user.
	ErrClientClosed = errors.New("client: closed")
	// ErrPacketIDs means every packet identifier is in use.
	ErrPacketIDs = errors.New("client: no free packet identifier")
)

// v3ConnackText names the 3.1.1 CONNACK return codes.
var v3ConnackText = [...]string{
	1: "unacceptable protocol version",
	2: "identifier rejected",
	3: "server unavailable",
	4: "bad user name or password",
	5: "not authorized",
}

// ConnackError is a CONNACK refusing the connection.
type ConnackError struct {
	Version codec.Version
	Code    codec.ReasonCode
	Reason  string // MQTT 5 Reason String, if the broker sent one
}

// ConnackText describes a CONNACK code of protocol version v:
// "return code 5 not authorized" (3.1.1), "0x86 bad user name or
// password" (5).
func ConnackText(v codec.Version, code codec.ReasonCode) string {
	if v == codec.V5 {
		return ReasonText(code)
	}
	s := fmt.Sprintf("return code %d", code)
	if int(code) < len(v3ConnackText) && v3ConnackText[code] != "" {
		s += " " + v3ConnackText[code]
	}
	return s
}

// ReasonText describes an MQTT 5 reason code: "0x87 not authorized".
func ReasonText(code codec.ReasonCode) string {
	return fmt.Sprintf("0x%02X %s", byte(code), code)
}

func (e *ConnackError) Error() string {
	s := "client: broker refused the connection: CONNACK " + ConnackText(e.Version, e.Code)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// DisconnectError is a DISCONNECT sent by the broker (MQTT 5).
type DisconnectError struct {
	Code   codec.ReasonCode
	Reason string // Reason String, if the broker sent one
}

func (e *DisconnectError) Error() string {
	s := "client: broker closed the connection: DISCONNECT " + ReasonText(e.Code)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// ReasonError is an acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK) with
// a failure reason code.
type ReasonError struct {
	Packet string // "PUBACK", "PUBREC", ...
	Code   codec.ReasonCode
	Reason string
}

func (e *ReasonError) Error() string {
	s := "client: " + e.Packet + " " + ReasonText(e.Code)
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}
