package codec

// ackFixtures covers PUBACK, PUBREC, PUBREL and PUBCOMP.
var ackFixtures = []fixture{
	{name: "puback v311", v: V311, raw: `40 02 00 01`, want: &Ack{Type: TypePuback, PacketID: 1}},
	{name: "pubrec v311", v: V311, raw: `50 02 00 02`, want: &Ack{Type: TypePubrec, PacketID: 2}},
	{name: "pubrel v311 flags 0010 [MQTT-3.6.1-1]", v: V311, raw: `62 02 00 03`, want: &Ack{Type: TypePubrel, PacketID: 3}},
	{name: "pubcomp v31", v: V31, raw: `70 02 00 04`, want: &Ack{Type: TypePubcomp, PacketID: 4}},
	{name: "puback v31", v: V31, raw: `40 02 00 07`, want: &Ack{Type: TypePuback, PacketID: 7}},
	{name: "pubrec v31", v: V31, raw: `50 02 00 08`, want: &Ack{Type: TypePubrec, PacketID: 8}},
	{name: "pubrel v31", v: V31, raw: `62 02 00 09`, want: &Ack{Type: TypePubrel, PacketID: 9}},
	{name: "pubcomp v311", v: V311, raw: `70 02 00 04`, want: &Ack{Type: TypePubcomp, PacketID: 4}},
	{name: "pubrec v5 short form", v: V5, raw: `50 02 00 02`, want: &Ack{Type: TypePubrec, PacketID: 2}},
	{name: "pubcomp v5 short form", v: V5, raw: `70 02 00 04`, want: &Ack{Type: TypePubcomp, PacketID: 4}},
	{name: "puback v5 short form", v: V5, raw: `40 02 00 01`, want: &Ack{Type: TypePuback, PacketID: 1}},
	{name: "puback v5 no matching subscribers", v: V5, raw: `40 03 00 01 10`,
		want: &Ack{Type: TypePuback, PacketID: 1, ReasonCode: ReasonNoMatchingSubscribers}},
	{name: "pubrec v5 reason string", v: V5, raw: `
		50 09 00 01              // PUBREC, packet id 1
		80                       // unspecified error
		05 1f 00 02 6e 6f        // reason string "no"`,
		want: &Ack{Type: TypePubrec, PacketID: 1, ReasonCode: ReasonUnspecifiedError,
			Props: Properties{Present: bit(PropReasonString), ReasonString: bs("no")}}},
	{name: "pubrel v5 packet identifier not found", v: V5, raw: `62 03 00 05 92`,
		want: &Ack{Type: TypePubrel, PacketID: 5, ReasonCode: ReasonPacketIDNotFound}},
	{name: "puback v5 long form of success", v: V5, raw: `40 04 00 01 00 00`, canon: `40 02 00 01`,
		want: &Ack{Type: TypePuback, PacketID: 1}},
	{name: "pubrel flags 0000 [MQTT-3.6.1-1]", v: V311, raw: `60 02 00 01`, err: ErrReservedFlags},
	{name: "puback flags 0010 [MQTT-2.2.2-1]", v: V311, raw: `42 02 00 01`, err: ErrReservedFlags},
	{name: "puback v311 trailing byte", v: V311, raw: `40 03 00 01 00`, err: ErrTrailingData},
	{name: "puback v5 reason 0x92 [MQTT-3.4.2-1]", v: V5, raw: `40 03 00 01 92`, err: ErrInvalidReasonCode},
	{name: "pubcomp v5 reason 0x10 [MQTT-3.7.2-1]", v: V5, raw: `70 03 00 01 10`, err: ErrInvalidReasonCode},
	{name: "puback packet id 0", v: V311, raw: `40 02 00 00`, err: ErrPacketIDZero},
	{name: "puback v5 topic alias not allowed", v: V5, raw: `40 07 00 01 00 03 23 00 01`, err: ErrPropertyNotAllowed},
	{name: "pubrec v5 reason 0x92 [MQTT-3.5.2-1]", v: V5, raw: `50 03 00 01 92`, err: ErrInvalidReasonCode},
	{name: "puback remaining length 1", v: V311, raw: `40 01 00`, err: ErrMalformed},
}

// subscribeFixtures covers SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK.
var subscribeFixtures = []fixture{
	{name: "subscribe v311 two filters", v: V311, raw: `
		82 0e                    // SUBSCRIBE, flags 0010 [MQTT-3.8.1-1]
		00 0a                    // packet id 10
		00 03 61 2f 62 01        // "a/b" QoS 1
		00 03 63 2f 23 02        // "c/#" QoS 2`,
		want: &Subscribe{PacketID: 10, Filters: []Subscription{{Filter: bs("a/b"), QoS: 1}, {Filter: bs("c/#"), QoS: 2}}}},
	{name: "subscribe v31 one filter", v: V31, raw: `82 06 00 01 00 01 61 00`,
		want: &Subscribe{PacketID: 1, Filters: []Subscription{{Filter: bs("a")}}}},
	{name: "subscribe v5 options and properties", v: V5, raw: `
		82 1d 00 01              // packet id 1
		09                       // property length 9
		0b 07                    //   subscription identifier 7
		26 00 01 6b 00 01 76     //   user property "k" = "v"
		00 01 61 2d              // "a": retain handling 2, retain as published, no local, QoS 1
		00 0a 24 73 68 61 72 65 2f 67 2f 78 00 // "$share/g/x" QoS 0`,
		want: &Subscribe{PacketID: 1, Props: Properties{SubscriptionIDs: []uint32{7},
			User: []UserProperty{{Key: bs("k"), Value: bs("v")}}},
			Filters: []Subscription{{Filter: bs("a"), QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Filter: bs("$share/g/x")}}}},
	{name: "subscribe flags 0000 [MQTT-3.8.1-1]", v: V311, raw: `80 06 00 01 00 01 61 00`, err: ErrReservedFlags},
	{name: "subscribe v311 no filters [MQTT-3.8.3-3]", v: V311, raw: `82 02 00 01`, err: ErrNoFilters},
	{name: "subscribe v5 no filters [MQTT-3.8.3-2]", v: V5, raw: `82 03 00 01 00`, err: ErrNoFilters},
	{name: "subscribe QoS 3 [MQTT-3.8.3-4]", v: V311, raw: `82 06 00 01 00 01 61 03`, err: ErrSubscriptionOptions},
	{name: "subscribe v311 reserved option bit [MQTT-3.8.3-4]", v: V311, raw: `82 06 00 01 00 01 61 04`, err: ErrSubscriptionOptions},
	{name: "subscribe v5 reserved option bits [MQTT-3.8.3-5]", v: V5, raw: `82 07 00 01 00 00 01 61 40`, err: ErrSubscriptionOptions},
	{name: "subscribe v5 retain handling 3", v: V5, raw: `82 07 00 01 00 00 01 61 30`, err: ErrRetainHandling},
	{name: "subscribe v5 no local on shared [MQTT-3.8.3-4]", v: V5, raw: `
		82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 78 04`, err: ErrNoLocalShared},
	{name: "subscribe packet id 0 [MQTT-2.3.1-1]", v: V311, raw: `82 06 00 00 00 01 61 00`, err: ErrPacketIDZero},
	{name: "subscribe empty filter [MQTT-4.7.3-1]", v: V311, raw: `82 05 00 01 00 00 00`, err: ErrTopicEmpty},
	{name: "subscribe v5 two subscription identifiers", v: V5, raw: `82 0b 00 01 04 0b 01 0b 02 00 01 61 00`, err: ErrDuplicateProperty},
	{name: "subscribe missing options byte", v: V311, raw: `82 05 00 01 00 01 61`, err: ErrMalformed},
	{name: "subscribe filter ill-formed UTF-8 [MQTT-3.8.3-1]", v: V311, raw: `82 06 00 01 00 01 ff 00`, err: ErrInvalidUTF8},

	{name: "suback v311", v: V311, raw: `90 06 00 0a 00 01 02 80`,
		want: &Suback{PacketID: 10, ReasonCodes: []ReasonCode{0, 1, 2, 0x80}}},
	{name: "suback v5 reason string", v: V5, raw: `
		90 0a 00 0a              // SUBACK, packet id 10
		05 1f 00 02 6f 6b        // reason string "ok"
		00 a2                    // granted QoS 0, wildcard subscriptions not supported`,
		want: &Suback{PacketID: 10, Props: Properties{Present: bit(PropReasonString), ReasonString: bs("ok")},
			ReasonCodes: []ReasonCode{0, ReasonWildcardSubscriptionsNotSupported}}},
	{name: "suback v31", v: V31, raw: `90 03 00 0b 01`, want: &Suback{PacketID: 11, ReasonCodes: []ReasonCode{1}}},
	{name: "suback v311 code 3 [MQTT-3.9.3-2]", v: V311, raw: `90 03 00 01 03`, err: ErrInvalidReasonCode},
	{name: "suback v311 code 0x87 [MQTT-3.9.3-2]", v: V311, raw: `90 03 00 01 87`, err: ErrInvalidReasonCode},
	{name: "suback v5 code 0x03 [MQTT-3.9.3-2]", v: V5, raw: `90 04 00 01 00 03`, err: ErrInvalidReasonCode},
	{name: "suback without codes", v: V311, raw: `90 02 00 01`, err: ErrNoReasonCodes},
	{name: "suback flags", v: V311, raw: `91 03 00 01 00`, err: ErrReservedFlags},

	{name: "unsubscribe v311", v: V311, raw: `a2 07 00 02 00 03 61 2f 62`,
		want: &Unsubscribe{PacketID: 2, Filters: [][]byte{bs("a/b")}}},
	{name: "unsubscribe v5 user property", v: V5, raw: `
		a2 0f 00 02              // UNSUBSCRIBE, packet id 2
		07 26 00 01 6b 00 01 76  // user property "k" = "v"
		00 03 61 2f 62           // "a/b"`,
		want: &Unsubscribe{PacketID: 2, Props: Properties{User: []UserProperty{{Key: bs("k"), Value: bs("v")}}},
			Filters: [][]byte{bs("a/b")}}},
	{name: "unsubscribe v31", v: V31, raw: `a2 05 00 03 00 01 78`,
		want: &Unsubscribe{PacketID: 3, Filters: [][]byte{bs("x")}}},
	{name: "unsubscribe flags [MQTT-3.10.1-1]", v: V311, raw: `a0 05 00 02 00 01 61`, err: ErrReservedFlags},
	{name: "unsubscribe no filters [MQTT-3.10.3-2]", v: V311, raw: `a2 02 00 02`, err: ErrNoFilters},
	{name: "unsubscribe empty filter [MQTT-4.7.3-1]", v: V311, raw: `a2 04 00 02 00 00`, err: ErrTopicEmpty},
	{name: "unsubscribe packet id 0", v: V311, raw: `a2 05 00 00 00 01 61`, err: ErrPacketIDZero},
	{name: "unsubscribe v5 subscription identifier not allowed", v: V5, raw: `a2 08 00 02 02 0b 01 00 01 61`, err: ErrPropertyNotAllowed},

	{name: "unsuback v311", v: V311, raw: `b0 02 00 05`, want: &Unsuback{PacketID: 5}},
	{name: "unsuback v5", v: V5, raw: `b0 05 00 05 00 00 11`,
		want: &Unsuback{PacketID: 5, ReasonCodes: []ReasonCode{0, ReasonNoSubscriptionExisted}}},
	{name: "unsuback v31", v: V31, raw: `b0 02 00 06`, want: &Unsuback{PacketID: 6}},
	{name: "unsuback v311 trailing byte", v: V311, raw: `b0 03 00 05 00`, err: ErrTrailingData},
	{name: "unsuback v5 code 0x01 [MQTT-3.11.3-2]", v: V5, raw: `b0 04 00 05 00 01`, err: ErrInvalidReasonCode},
	{name: "unsuback v5 without codes", v: V5, raw: `b0 03 00 05 00`, err: ErrNoReasonCodes},
}

// controlFixtures covers PINGREQ, PINGRESP, DISCONNECT and AUTH.
var controlFixtures = []fixture{
	{name: "pingreq", v: V311, raw: `c0 00`, want: ptrType(TypePingreq)},
	{name: "pingresp", v: V5, raw: `d0 00`, want: ptrType(TypePingresp)},
	{name: "pingreq v31", v: V31, raw: `c0 00`, want: ptrType(TypePingreq)},
	{name: "pingreq v5", v: V5, raw: `c0 00`, want: ptrType(TypePingreq)},
	{name: "pingresp v31", v: V31, raw: `d0 00`, want: ptrType(TypePingresp)},
	{name: "pingresp v311", v: V311, raw: `d0 00`, want: ptrType(TypePingresp)},
	{name: "pingreq flags [MQTT-2.2.2-1]", v: V311, raw: `c1 00`, err: ErrReservedFlags},
	{name: "pingresp flags", v: V5, raw: `d8 00`, err: ErrReservedFlags},
	{name: "pingreq with body", v: V311, raw: `c0 01 00`, err: ErrTrailingData},

	{name: "disconnect v311", v: V311, raw: `e0 00`, want: &Disconnect{}},
	{name: "disconnect v31", v: V31, raw: `e0 00`, want: &Disconnect{}},
	{name: "disconnect v5 short form", v: V5, raw: `e0 00`, want: &Disconnect{}},
	{name: "disconnect v5 with will", v: V5, raw: `e0 01 04`, want: &Disconnect{ReasonCode: ReasonDisconnectWithWill}},
	{name: "disconnect v5 properties", v: V5, raw: `
		e0 0d 80                 // DISCONNECT, unspecified error
		0b                       // property length 11
		11 00 00 00 00           //   session expiry interval 0
		1f 00 03 62 79 65        //   reason string "bye"`,
		want: &Disconnect{ReasonCode: ReasonUnspecifiedError, Props: Properties{
			Present: bit(PropSessionExpiry) | bit(PropReasonString), ReasonString: bs("bye")}}},
	{name: "disconnect v5 long form of success", v: V5, raw: `e0 02 00 00`, canon: `e0 00`, want: &Disconnect{}},
	{name: "disconnect flags [MQTT-3.14.1-1]", v: V5, raw: `e1 00`, err: ErrReservedFlags},
	{name: "disconnect v311 with body", v: V311, raw: `e0 01 00`, err: ErrTrailingData},
	{name: "disconnect v5 reason 0x01 [MQTT-3.14.2-1]", v: V5, raw: `e0 01 01`, err: ErrInvalidReasonCode},
	{name: "disconnect v5 topic alias not allowed", v: V5, raw: `e0 05 00 03 23 00 01`, err: ErrPropertyNotAllowed},

	{name: "auth v5 success short form", v: V5, raw: `f0 00`, want: &Auth{}},
	{name: "auth v5 continue", v: V5, raw: `
		f0 0d 18                 // AUTH, continue authentication
		0b                       // property length 11
		15 00 03 61 62 63        //   authentication method "abc"
		16 00 02 01 02           //   authentication data 01 02`,
		want: &Auth{ReasonCode: ReasonContinueAuthentication, Props: Properties{
			Present: bit(PropAuthMethod) | bit(PropAuthData), AuthMethod: bs("abc"), AuthData: []byte{1, 2}}}},
	{name: "auth flags [MQTT-3.15.1-1]", v: V5, raw: `f1 00`, err: ErrReservedFlags},
	{name: "auth reason 0x01 [MQTT-3.15.2-1]", v: V5, raw: `f0 01 01`, err: ErrInvalidReasonCode},
}

func ptrType(t Type) *Type { return &t }

// allFixtures returns the whole catalog.
func allFixtures() []fixture {
	var all []fixture
	for _, fs := range [][]fixture{connectFixtures, connackFixtures, publishFixtures, ackFixtures,
		subscribeFixtures, controlFixtures} {
		all = append(all, fs...)
	}
	return all
}
