package engine

import "github.com/gust-mqtt/gust/codec"

// reasonTexts are the Reason Strings the broker sends with its failure
// reason codes (MQTT 5 3.2.2.3.8, 3.4.2.2.2, 3.9.2.1.2, 3.14.2.2.3). They are
// built once so that attaching one allocates nothing.
var reasonTexts = map[codec.ReasonCode][]byte{
	codec.ReasonUnspecifiedError:           []byte("unspecified error"),
	codec.ReasonMalformedPacket:            []byte("malformed packet"),
	codec.ReasonProtocolError:              []byte("protocol error"),
	codec.ReasonUnsupportedProtocolVersion: []byte("unsupported protocol version"),
	codec.ReasonClientIDNotValid:           []byte("client identifier not valid"),
	codec.ReasonBadUsernameOrPassword:      []byte("bad user name or password"),
	codec.ReasonNotAuthorized:              []byte("not authorized"),
	codec.ReasonBadAuthenticationMethod:    []byte("authentication method not supported"),
	codec.ReasonTopicFilterInvalid:         []byte("topic filter invalid"),
	codec.ReasonTopicAliasInvalid:          []byte("topic alias 0 or above the maximum"),
	codec.ReasonReceiveMaximumExceeded:     []byte("receive maximum exceeded"),
	codec.ReasonPacketTooLarge:             []byte("packet too large"),
	codec.ReasonPayloadFormatInvalid:       []byte("payload is not UTF-8 but its format indicator says so"),
	codec.ReasonSessionTakenOver:           []byte("session taken over by another connection"),
	codec.ReasonKeepAliveTimeout:           []byte("keep alive timeout"),
	codec.ReasonServerShuttingDown:         []byte("server shutting down"),
	codec.ReasonQuotaExceeded:              []byte("quota exceeded"),
	codec.ReasonQoSNotSupported:            []byte("QoS not supported"),
	codec.ReasonRetainNotSupported:         []byte("retain not supported"),

	// Features switched off in Config (announced in CONNACK).
	codec.ReasonSharedSubscriptionsNotSupported:   []byte("shared subscriptions not available"),
	codec.ReasonSubscriptionIDsNotSupported:       []byte("subscription identifiers not available"),
	codec.ReasonWildcardSubscriptionsNotSupported: []byte("wildcard subscriptions not available"),
}

// reasonText is the Reason String for rc, nil for success codes and codes
// without one.
func reasonText(rc codec.ReasonCode) []byte {
	if rc < 0x80 {
		return nil
	}
	return reasonTexts[rc]
}

// reasonTextFor is reasonText as c's broker sends it: 0x80 Unspecified
// error goes bare when ACL refusals take it (ACLDenyUnspecified).
func (c *client) reasonTextFor(rc codec.ReasonCode) []byte {
	if rc == codec.ReasonUnspecifiedError && c.l.b.cfg.ACLDenyReason == ACLDenyUnspecified {
		return nil
	}
	return reasonText(rc)
}

// problem adds to pr the Reason String of the first failure among codes,
// unless the client asked for no problem information [MQTT-3.1.2-29] or the
// packet could exceed its Maximum Packet Size. Loop-only.
func (c *client) problem(pr *codec.Properties, codes []codec.ReasonCode) {
	if c.version != codec.V5 || c.noProblem {
		return
	}
	for _, rc := range codes {
		if txt := c.reasonTextFor(rc); txt != nil {
			if limit := c.maxOut(); limit > 0 && limit < len(txt)+len(codes)+16 {
				return
			}
			pr.ReasonString = txt
			pr.Set(codec.PropReasonString)
			return
		}
	}
}

// appendAck appends a PUBACK, PUBREC, PUBREL or PUBCOMP with rc, and for a
// v5 failure its Reason String when the client allows problem information.
// Loop-only.
func (c *client) appendAck(dst []byte, t codec.Type, id uint16, rc codec.ReasonCode) []byte {
	a := codec.Ack{Type: t, PacketID: id, ReasonCode: rc}
	if rc >= 0x80 {
		c.problem(&a.Props, []codec.ReasonCode{rc})
	}
	return codec.AppendAck(dst, c.version, &a)
}

// appendDisconnect appends a v5 DISCONNECT with rc and its Reason String: a
// DISCONNECT may carry one whatever the client's Request Problem Information
// [MQTT-3.1.2-29], but not past its Maximum Packet Size [MQTT-3.1.2-24].
func (c *client) appendDisconnect(dst []byte, rc codec.ReasonCode) []byte {
	c.x().told = true // the close lingers (linger.go)
	d := codec.Disconnect{ReasonCode: rc}
	if txt := reasonText(rc); txt != nil && (c.maxOut() == 0 || c.maxOut() >= len(txt)+16) {
		d.Props.ReasonString = txt
		d.Props.Set(codec.PropReasonString)
	}
	return codec.AppendDisconnect(dst, c.version, &d)
}
