package engine

import (
	"strconv"

	"github.com/gust-mqtt/gust/codec"
)

// Connection messages (Config.ConnectionMessages): one info line per client
// connected, refused or disconnected, as Mosquitto's connection_messages.
// They are written on the connection's loop at CONNECT and close, never
// per message, and cost nothing when the log level drops them.

// versionName is the protocol version as users write it.
func versionName(v codec.Version) string {
	switch v {
	case codec.V31:
		return "3.1"
	case codec.V311:
		return "3.1.1"
	case codec.V5:
		return "5"
	}
	return strconv.Itoa(int(v))
}

// logConnected writes the line of a client whose CONNACK accepted p.
// Loop-only.
func (c *client) logConnected(p *codec.Connect, id string, present bool) {
	b := c.l.b
	if !b.connLines() {
		return
	}
	b.log.Info("client connected", "client", id, "remote", addrString(c),
		"version", versionName(c.version), "clean", p.CleanStart, "keepalive", p.KeepAlive,
		"user", string(p.Username), "session_present", present)
}

// logRefused writes the line of a client refused with CONNACK code rc (v3
// return code or v5 reason code). The CONNECT is in the loop's scratch.
// Loop-only.
func (c *client) logRefused(rc codec.ReasonCode) {
	b := c.l.b
	if !b.connLines() {
		return
	}
	p := &c.l.scratch.conn
	why := "connack 0x" + strconv.FormatUint(uint64(rc), 16)
	if c.version == codec.V5 {
		if txt := reasonText(rc); txt != nil {
			why += " " + string(txt)
		}
	} else {
		why += " " + connackV3Text(byte(rc))
	}
	b.log.Info("client refused", "client", string(p.ClientID), "remote", addrString(c),
		"version", versionName(c.version), "user", string(p.Username), "reason", why)
}

// connackV3Text names a 3.1/3.1.1 CONNACK return code.
func connackV3Text(rc byte) string {
	switch rc {
	case codec.ConnackUnacceptableProtocol:
		return "unacceptable protocol version"
	case codec.ConnackIdentifierRejected:
		return "identifier rejected"
	case codec.ConnackServerUnavailable:
		return "server unavailable"
	case codec.ConnackBadUsernameOrPassword:
		return "bad user name or password"
	case codec.ConnackNotAuthorized:
		return "not authorized"
	}
	return "refused"
}

// logClosed writes the line of a connection closed: for a client that was
// connected, why it left; for one that never was, only a protocol error or
// a connect timeout (a refusal has its own line, and a socket closed
// before any CONNECT is not worth one at info). Loop-only; called by
// onClose.
func (c *client) logClosed(wasConnected bool) {
	b := c.l.b
	if !b.connLines() {
		if wasConnected && b.debug() {
			b.log.Debug("client disconnected", "client", c.clientID(), "remote", addrString(c), "reason", c.closeText())
		}
		return
	}
	if wasConnected {
		b.log.Info("client disconnected", c.closeAttrs(c.clientID())...)
		return
	}
	switch c.reason {
	case closeProtocol, closeConnectTimeout, closeInboundQuota, closeTakeoverInput:
		b.log.Info("connection closed before CONNACK", c.closeAttrs("")...)
	case closeNone, closeRefused:
		if b.debug() {
			b.log.Debug("connection closed before CONNACK", c.closeAttrs("")...)
		}
	}
}

// closeAttrs are the attributes of a close line.
func (c *client) closeAttrs(id string) []any {
	attrs := []any{"remote", addrString(c), "reason", c.closeText()}
	if id != "" {
		attrs = append([]any{"client", id}, attrs...)
	}
	if c.ext != nil && c.ext.closeErr != nil {
		attrs = append(attrs, "err", c.ext.closeErr.Error())
	}
	return attrs
}

// closeText says why c was closed, in words.
func (c *client) closeText() string {
	switch c.reason {
	case closeNone:
		return "connection closed by the client without DISCONNECT"
	case closeClean:
		return "client sent DISCONNECT"
	}
	return c.reason.String()
}

// noteCredentials logs, once per broker, that a CONNECT carried a user
// name or password while no password file or Authenticator checks them.
// Loop-only.
func (c *client) noteCredentials(p *codec.Connect) {
	b := c.l.b
	if b.cfg.Authenticator != nil || (!p.UsernameFlag && !p.PasswordFlag) || !b.credsNoted.CompareAndSwap(false, true) {
		return
	}
	attrs := []any{"client", string(p.ClientID), "user", string(p.Username), "remote", addrString(c)}
	msg := "credentials ignored: no password_file is configured, so user names are taken as given and passwords are not checked (logged once)"
	b.log.Warn(msg, attrs...)
}
