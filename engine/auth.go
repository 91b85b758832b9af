package engine

import (
	"errors"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/network"
)

// authState is a connection's MQTT 5 enhanced authentication (section
// 4.12): the AUTH exchange's state machine around an AuthMethod (such as
// auth.SCRAM). It exists only for clients whose CONNECT named an
// Authentication Method, behind the clientExt.auth pointer (client.auth);
// plain clients pay nothing (their login is in login.go). Loop-only.
type authState struct {
	method string       // the CONNECT's Authentication Method [MQTT-4.12.0-5]
	m      AuthMethod   // its implementation
	ex     AuthExchange // the exchange in progress, nil between exchanges
	user   string       // user name the first exchange authenticated

	// connect is a copy of the CONNECT, kept from the first AUTH exchange
	// until CONNACK: the input buffer is reused between reads, and an exchange
	// spans several. A takeover re-reads it from here, not from the input buffer.
	connect []byte
	final   []byte // Authentication Data for the success CONNACK
	passed  bool   // the CONNECT's exchange succeeded
	// opened is when the connection was opened: the exchange must end
	// within ConnectTimeout of it, like the CONNECT.
	opened int64
}

// startConnectAuth begins the exchange of a v5 CONNECT p (wire form pkt)
// carrying an Authentication Method: an unknown method is refused with
// CONNACK 0x8C [MQTT-4.12.0-1]; otherwise the method's first step answers
// AUTH 0x18 [MQTT-4.12.0-2] or, if it is already done, the connection goes
// on. Loop-only.
func (c *client) startConnectAuth(pkt []byte, p *codec.Connect) error {
	m := c.l.b.cfg.AuthMethods[string(p.Props.AuthMethod)]
	if m == nil {
		c.refuse(codec.ReasonBadAuthenticationMethod) // [MQTT-4.12.0-1]
		return errCloseQuiet
	}
	a := &authState{method: string(p.Props.AuthMethod), m: m, connect: append([]byte(nil), pkt...),
		opened: c.lastRead} // not moved by the CONNECT (readPackets)
	c.x().auth = a
	info := c.connectInfo(p)
	a.ex = m.Start(&info)
	out, done, err := a.ex.Step(authData(&p.Props))
	if err != nil {
		return c.refuseAuth(err) // [MQTT-4.12.0-4]
	}
	if !done {
		c.state = stateAuth
		c.sendAuth(codec.ReasonContinueAuthentication, out) // [MQTT-4.12.0-2]
		return nil
	}
	return c.connectAuthed(out)
}

// connectAuthed runs the kept CONNECT again, now authenticated; its
// CONNACK carries the method and out [MQTT-4.12.0-5]. Loop-only.
func (c *client) connectAuthed(out []byte) error {
	a := c.auth()
	a.passed = true
	a.user = a.ex.Username()
	a.ex = nil // out stays valid: Step is not called again
	a.final = out
	c.state = stateNew
	return c.handleConnect(a.connect)
}

// keptConnect returns the CONNECT kept outside the input buffer: for an
// enhanced authentication still waiting for its CONNACK, or a large CONNECT
// assembled in c's own buffer (partial.go) waiting for a takeover; nil
// otherwise. Loop-only.
func (c *client) keptConnect() []byte {
	if c.ext == nil {
		return nil
	}
	if a := c.ext.auth; a != nil {
		return a.connect
	}
	if p := c.ext.part; p != nil && len(p) == cap(p) {
		return p
	}
	return nil
}

// connackAuth adds the Authentication Method and final data to a
// successful CONNACK and drops the kept CONNECT. p must not be used after
// the CONNACK is encoded. Loop-only.
func (c *client) connackAuth(pr *codec.Properties, p *codec.Connect) {
	a := c.auth()
	if a == nil {
		return // no AUTH, no method in CONNACK [MQTT-4.12.0-6]
	}
	pr.AuthMethod = p.Props.AuthMethod // [MQTT-4.12.0-5]
	pr.Set(codec.PropAuthMethod)
	if a.final != nil {
		pr.AuthData = a.final
		pr.Set(codec.PropAuthData)
	}
}

// authData returns the Authentication Data of pr, nil when absent.
func authData(pr *codec.Properties) []byte {
	if !pr.Has(codec.PropAuthData) {
		return nil
	}
	return pr.AuthData
}

// preConnack checks a packet of type t arriving before CONNACK: only
// CONNECT at first [MQTT-3.1.0-1], then during an enhanced authentication
// only AUTH or DISCONNECT [MQTT-3.1.2-30]. Loop-only.
func (c *client) preConnack(t codec.Type) error {
	switch c.state {
	case stateNew:
		if t != codec.TypeConnect {
			return errFirstNotConnect // [MQTT-3.1.0-1]
		}
	case stateAuth:
		if t != codec.TypeAuth && t != codec.TypeDisconnect {
			return c.authError(errAuthOnlyBefore) // [MQTT-3.1.2-30]
		}
	}
	return nil
}

// handleAuth handles an AUTH packet: the next step of the CONNECT's
// exchange, or a re-authentication (MQTT 5 section 4.12.1). Loop-only.
func (c *client) handleAuth(pkt []byte) error {
	if c.version != codec.V5 {
		return errUnsupportedPacket // no AUTH before MQTT 5
	}
	var ap codec.Auth
	ap.Props.UserLimit = uint16(c.l.b.cfg.MaxUserProperties)
	if _, err := codec.DecodeAuth(pkt, &ap); err != nil {
		return c.authError(err) // [MQTT-3.15.1-1]
	}
	a := c.auth()
	if a == nil {
		return c.authError(errAuthUnexpected) // [MQTT-4.12.0-7]
	}
	if !ap.Props.Has(codec.PropAuthMethod) || string(ap.Props.AuthMethod) != a.method {
		return c.authError(errAuthMethod) // [MQTT-4.12.0-5] [MQTT-4.12.1-1]
	}
	switch {
	case ap.ReasonCode == codec.ReasonContinueAuthentication && a.ex != nil:
		// The client's next step [MQTT-4.12.0-3].
	case ap.ReasonCode == codec.ReasonReAuthenticate && a.ex == nil && c.state == stateConnected:
		info := ConnectInfo{
			ClientID: []byte(c.clientID()), Username: []byte(a.user), UsernameFlag: a.user != "",
			ProtocolVersion: byte(codec.V5), RemoteAddr: network.PeerAddr(c.nc),
		}
		a.ex = a.m.Start(&info) // 4.12.1: re-authentication
	default:
		return c.authError(errAuthUnexpected) // [MQTT-3.15.2-1] [MQTT-4.12.0-3]
	}
	out, done, err := a.ex.Step(authData(&ap.Props))
	if err != nil {
		a.ex = nil
		return c.authFailed(err)
	}
	if !done {
		c.sendAuth(codec.ReasonContinueAuthentication, out) // [MQTT-4.12.0-2]
		return nil
	}
	if c.state == stateAuth {
		return c.connectAuthed(out)
	}
	if u := a.ex.Username(); u != a.user {
		a.ex = nil
		return c.authFailed(ErrNotAuthorized) // the same user, or nobody
	}
	a.ex = nil
	c.sendAuth(codec.ReasonSuccess, out) // 4.12.1: AUTH 0x00 [MQTT-4.12.0-5]
	return nil
}

// sendAuth queues an AUTH with reason rc, the connection's method
// [MQTT-4.12.0-5] and data. It carries no Reason String nor User Property
// [MQTT-3.15.2-2] [MQTT-3.15.2-3]. Loop-only.
func (c *client) sendAuth(rc codec.ReasonCode, data []byte) {
	ap := codec.Auth{ReasonCode: rc} // [MQTT-3.15.2-1]
	ap.Props.AuthMethod = []byte(c.auth().method)
	ap.Props.Set(codec.PropAuthMethod)
	if data != nil {
		ap.Props.AuthData = data
		ap.Props.Set(codec.PropAuthData)
	}
	c.pending = codec.AppendAuth(c.pending, &ap)
	c.l.markDirty(c)
}

// authFailed ends a failed exchange: before CONNACK with CONNACK 0x86 or
// 0x87 [MQTT-4.12.0-4], once connected with DISCONNECT 0x86 or 0x87
// [MQTT-4.12.1-2]; the connection is closed either way. Loop-only.
func (c *client) authFailed(err error) error {
	if c.state == stateAuth {
		c.reloadConnect()
		return c.refuseAuth(err) // [MQTT-4.12.0-4]
	}
	c.l.b.log.Debug("re-authentication failed", "client", c.clientID(), "remote", network.PeerAddr(c.nc), "err", err)
	if errors.Is(err, ErrBadCredentials) {
		return errReauthBadCreds // [MQTT-4.12.1-2]
	}
	return errReauthNotAuth // [MQTT-4.12.1-2]
}

// authError closes c for a protocol error in the authentication exchange.
// Before CONNACK the reason goes in a CONNACK, as no DISCONNECT may precede
// a successful CONNACK [MQTT-3.14.0-1]; once connected the caller sends
// DISCONNECT with it. Loop-only.
func (c *client) authError(err error) error {
	if c.state != stateAuth {
		return err
	}
	c.reloadConnect()
	c.refuse(disconnectReason(err)) // [MQTT-4.12.0-4]
	c.protocolError(err)
	return errCloseQuiet
}

// reloadConnect decodes the kept CONNECT into the loop's scratch again, so
// that a refusal honours its Maximum Packet Size. Loop-only.
func (c *client) reloadConnect() {
	if kept := c.keptConnect(); kept != nil {
		_, _ = codec.DecodeConnect(kept, &c.l.scratch.conn) // decoded fine the first time
	}
}
