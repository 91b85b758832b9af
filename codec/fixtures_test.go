package codec

import (
	"strings"
)

// fixture is one entry of the catalog: raw bytes annotated from the
// specification, the struct they decode to, or the error they must raise.
type fixture struct {
	name string
	v    Version
	raw  string // Annotated hex, see unhex.
	want any    // Expected decoded packet (pointer), nil when err != nil.
	err  error  // Expected decode error.
	// canon is the encoder's canonical form when it differs from raw (a
	// valid packet written in a longer form than needed); "" means raw.
	canon string
}

func bs(s string) []byte { return []byte(s) }

// connectFixtures covers CONNECT in 3.1, 3.1.1 and 5.0.
var connectFixtures = []fixture{
	{name: "connect v31 minimal", v: V31, raw: `
		10 11                    // CONNECT, remaining length 17
		00 06 4d 51 49 73 64 70  // protocol name "MQIsdp"
		03                       // level 3 (MQTT 3.1)
		02                       // flags: clean session
		00 3c                    // keep alive 60
		00 03 61 62 63           // client id "abc"`,
		want: &Connect{ProtocolName: bs("MQIsdp"), Version: V31, CleanStart: true, KeepAlive: 60, ClientID: bs("abc")}},
	{name: "connect v311 will user password", v: V311, raw: `
		10 1f                    // CONNECT, remaining length 31
		00 04 4d 51 54 54        // "MQTT"
		04                       // level 4
		ee                       // user, password, will retain, will QoS 1, will, clean
		00 0a                    // keep alive 10
		00 02 69 64              // client id "id"
		00 03 77 2f 74           // will topic "w/t"
		00 03 62 79 65           // will payload "bye"
		00 01 75                 // user name "u"
		00 02 70 77              // password "pw"`,
		want: &Connect{ProtocolName: bs("MQTT"), Version: V311, CleanStart: true, KeepAlive: 10, ClientID: bs("id"),
			WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: bs("w/t"), WillPayload: bs("bye"),
			UsernameFlag: true, Username: bs("u"), PasswordFlag: true, Password: bs("pw")}},
	{name: "connect v5 properties and will properties", v: V5, raw: `
		10 23                    // CONNECT, remaining length 35
		00 04 4d 51 54 54        // "MQTT"
		05                       // level 5
		06                       // will, clean start
		00 1e                    // keep alive 30
		0a                       // property length 10
		11 00 00 00 78           //   session expiry interval 120
		17 01                    //   request problem information 1
		21 00 14                 //   receive maximum 20
		00 01 63                 // client id "c"
		05                       // will property length 5
		18 00 00 00 05           //   will delay interval 5
		00 01 74                 // will topic "t"
		00 00                    // will payload, empty`,
		want: &Connect{ProtocolName: bs("MQTT"), Version: V5, CleanStart: true, KeepAlive: 30,
			Props: Properties{Present: bit(PropSessionExpiry) | bit(PropRequestProblemInfo) | bit(PropReceiveMaximum),
				SessionExpiry: 120, RequestProblemInfo: 1, ReceiveMaximum: 20},
			ClientID: bs("c"), WillFlag: true, WillProps: Properties{Present: bit(PropWillDelay), WillDelay: 5},
			WillTopic: bs("t")}},
	{name: "connect v5 password without user name, empty client id", v: V5, raw: `
		10 1b                    // CONNECT, remaining length 27
		00 04 4d 51 54 54 05     // "MQTT" level 5
		42                       // password, clean start (allowed without user name in 5.0)
		00 00                    // keep alive 0
		09                       // property length 9
		26 00 01 6b 00 03 76 61 6c // user property "k" = "val"
		00 00                    // client id "" (server assigns one)
		00 03 01 02 03           // password`,
		want: &Connect{ProtocolName: bs("MQTT"), Version: V5, CleanStart: true,
			Props:        Properties{User: []UserProperty{{Key: bs("k"), Value: bs("val")}}},
			PasswordFlag: true, Password: []byte{1, 2, 3}}},
	{name: "connect v311 empty client id clean session", v: V311, raw: `
		10 0c 00 04 4d 51 54 54 04 02 00 3c
		00 00                    // client id "" with clean session 1: allowed`,
		want: &Connect{ProtocolName: bs("MQTT"), Version: V311, CleanStart: true, KeepAlive: 60}},
	{name: "connect wrong protocol name [MQTT-3.1.2-1]", v: V311, raw: `
		10 0d 00 04 4d 51 54 58  // "MQTX"
		04 02 00 3c 00 01 61`, err: ErrProtocolName},
	{name: "connect MQTT level 3 [MQTT-3.1.2-2]", v: V311, raw: `
		10 0d 00 04 4d 51 54 54 03 02 00 3c 00 01 61`, err: ErrUnsupportedVersion},
	{name: "connect MQTT level 6 [MQTT-3.1.2-2]", v: V5, raw: `
		10 0d 00 04 4d 51 54 54 06 02 00 3c 00 01 61`, err: ErrUnsupportedVersion},
	{name: "connect MQIsdp level 4 [MQTT-3.1.2-2]", v: V31, raw: `
		10 0f 00 06 4d 51 49 73 64 70 04 02 00 3c 00 01 61`, err: ErrUnsupportedVersion},
	{name: "connect reserved flag [MQTT-3.1.2-3]", v: V311, raw: `
		10 0d 00 04 4d 51 54 54 04
		03                       // clean session + reserved bit 0
		00 3c 00 01 61`, err: ErrConnectReservedFlag},
	{name: "connect will QoS 3 [MQTT-3.1.2-14]", v: V311, raw: `
		10 0d 00 04 4d 51 54 54 04
		1e                       // will QoS 3, will, clean
		00 3c 00 01 61`, err: ErrWillQoS},
	{name: "connect will retain without will [MQTT-3.1.2-15]", v: V311, raw: `
		10 0d 00 04 4d 51 54 54 04 22 00 3c 00 01 61`, err: ErrWillFlags},
	{name: "connect will QoS without will [MQTT-3.1.2-11]", v: V5, raw: `
		10 0e 00 04 4d 51 54 54 05 0a 00 3c 00 00 01 61`, err: ErrWillFlags},
	{name: "connect password without user v311 [MQTT-3.1.2-22]", v: V311, raw: `
		10 0d 00 04 4d 51 54 54 04 42 00 3c 00 01 61`, err: ErrPasswordWithoutUsername},
	{name: "connect empty client id without clean session [MQTT-3.1.3-8]", v: V311, raw: `
		10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00`, err: ErrClientIDRejected},
	{name: "connect client id ill-formed UTF-8 [MQTT-1.5.3-1]", v: V311, raw: `
		10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 ff`, err: ErrInvalidUTF8},
	{name: "connect client id U+0000 [MQTT-1.5.3-2]", v: V311, raw: `
		10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 00`, err: ErrInvalidUTF8},
	{name: "connect client id surrogate [MQTT-1.5.4-1]", v: V5, raw: `
		10 10 00 04 4d 51 54 54 05 02 00 3c 00
		00 03 ed a0 80           // U+D800 encoded`, err: ErrInvalidUTF8},
	{name: "connect header flags [MQTT-2.2.2-1]", v: V311, raw: `
		11 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61`, err: ErrReservedFlags},
	{name: "connect trailing byte", v: V311, raw: `
		10 0e 00 04 4d 51 54 54 04 02 00 3c 00 01 61 ff`, err: ErrTrailingData},
	{name: "connect truncated protocol name", v: V311, raw: `
		10 04 00 04 4d 51`, err: ErrMalformed},
	{name: "connect v5 topic alias not allowed", v: V5, raw: `
		10 11 00 04 4d 51 54 54 05 02 00 3c
		03 23 00 01              // topic alias: PUBLISH only
		00 01 61`, err: ErrPropertyNotAllowed},
	{name: "connect v5 duplicate session expiry", v: V5, raw: `
		10 18 00 04 4d 51 54 54 05 02 00 3c
		0a 11 00 00 00 01 11 00 00 00 02
		00 01 61`, err: ErrDuplicateProperty},
	{name: "connect v5 receive maximum 0", v: V5, raw: `
		10 11 00 04 4d 51 54 54 05 02 00 3c 03 21 00 00 00 01 61`, err: ErrPropertyValue},
	{name: "connect v5 authentication data without method", v: V5, raw: `
		10 12 00 04 4d 51 54 54 05 02 00 3c
		04 16 00 01 ff           // authentication data, no method
		00 01 61`, err: ErrPropertyValue},
	{name: "connect v5 unknown property 0x05", v: V5, raw: `
		10 10 00 04 4d 51 54 54 05 02 00 3c 02 05 00 00 01 61`, err: ErrUnknownProperty},
	{name: "connect v5 property length overrun", v: V5, raw: `
		10 0c 00 04 4d 51 54 54 05 02 00 3c 7f 11`, err: ErrMalformedProperties},
	{name: "connect will topic wildcard [MQTT-3.3.2-2]", v: V311, raw: `
		10 12 00 04 4d 51 54 54 04 06 00 3c 00 01 61
		00 01 23                 // will topic "#"
		00 00`, err: ErrTopicWildcard},
	{name: "connect will topic missing [MQTT-3.1.2-9]", v: V311, raw: `
		10 0d 00 04 4d 51 54 54 04 06 00 3c 00 01 61`, err: ErrMalformed},
	{name: "connect password missing [MQTT-3.1.2-21]", v: V311, raw: `
		10 10 00 04 4d 51 54 54 04 c2 00 3c 00 01 61 00 01 75`, err: ErrMalformed},
}

// connackFixtures covers CONNACK.
var connackFixtures = []fixture{
	{name: "connack v311 session present", v: V311, raw: `
		20 02 01 00              // session present, accepted`,
		want: &Connack{SessionPresent: true}},
	{name: "connack v31 not authorized", v: V31, raw: `20 02 00 05`,
		want: &Connack{ReasonCode: 5}},
	{name: "connack v311 session present with refusal [MQTT-3.2.2-4]", v: V311, raw: `20 02 01 05`, err: ErrSessionPresentRefused},
	{name: "connack v5 session present with refusal [MQTT-3.2.2-6]", v: V5, raw: `20 03 01 87 00`, err: ErrSessionPresentRefused},
	{name: "connack v311 return code 6", v: V311, raw: `20 02 00 06`, err: ErrInvalidReasonCode},
	{name: "connack reserved acknowledge flags [MQTT-3.2.2-1]", v: V311, raw: `20 02 02 00`, err: ErrConnackFlags},
	{name: "connack v311 trailing byte", v: V311, raw: `20 03 00 00 00`, err: ErrTrailingData},
	{name: "connack v5 properties", v: V5, raw: `
		20 0c 00 00              // not present, success
		09                       // property length 9
		12 00 01 78              //   assigned client identifier "x"
		22 00 0a                 //   topic alias maximum 10
		24 01                    //   maximum QoS 1`,
		want: &Connack{Props: Properties{Present: bit(PropAssignedClientID) | bit(PropTopicAliasMaximum) | bit(PropMaximumQoS),
			AssignedClientID: bs("x"), TopicAliasMaximum: 10, MaximumQoS: 1}}},
	{name: "connack v5 bad user name or password", v: V5, raw: `20 03 00 86 00`,
		want: &Connack{ReasonCode: ReasonBadUsernameOrPassword}},
	{name: "connack v5 reason 0x04 not allowed [MQTT-3.2.2-8]", v: V5, raw: `20 03 00 04 00`, err: ErrInvalidReasonCode},
	{name: "connack v5 missing property length [MQTT-2.2.2-1]", v: V5, raw: `20 02 00 00`, err: ErrMalformedProperties},
	{name: "connack v5 maximum QoS 2", v: V5, raw: `20 05 00 00 02 24 02`, err: ErrPropertyValue},
}

// publishFixtures covers PUBLISH.
var publishFixtures = []fixture{
	{name: "publish v311 qos0", v: V311, raw: `
		30 0a                    // PUBLISH QoS 0, remaining length 10
		00 03 61 2f 62           // topic "a/b"
		68 65 6c 6c 6f           // payload "hello"`,
		want: &Publish{Topic: bs("a/b"), Payload: bs("hello")}},
	{name: "publish v311 qos1 dup retain", v: V311, raw: `
		3b 07                    // PUBLISH DUP, QoS 1, RETAIN
		00 01 74                 // topic "t"
		00 0a                    // packet id 10
		68 69                    // "hi"`,
		want: &Publish{Dup: true, QoS: 1, Retain: true, Topic: bs("t"), PacketID: 10, Payload: bs("hi")}},
	{name: "publish v31 qos2 empty payload", v: V31, raw: `
		34 05 00 01 74 ff ff     // QoS 2, topic "t", packet id 65535`,
		want: &Publish{QoS: 2, Topic: bs("t"), PacketID: 65535}},
	{name: "publish v311 two-byte remaining length", v: V311,
		raw:  "30 80 01 00 01 74" + strings.Repeat(" 78", 125),
		want: &Publish{Topic: bs("t"), Payload: bs(strings.Repeat("x", 125))}},
	{name: "publish v311 U+FEFF kept [MQTT-1.5.3-3]", v: V311, raw: `
		30 05 00 03 ef bb bf     // topic U+FEFF`,
		want: &Publish{Topic: bs("\ufeff")}},
	{name: "publish v5 every publish property", v: V5, raw: `
		32 2c                    // PUBLISH QoS 1, remaining length 44
		00 01 61                 // topic "a"
		00 01                    // packet id 1
		25                       // property length 37
		01 01                    //   payload format indicator 1
		02 00 00 00 3c           //   message expiry interval 60
		03 00 03 74 2f 70        //   content type "t/p"
		08 00 01 72              //   response topic "r"
		09 00 02 01 02           //   correlation data 01 02
		0b ac 02                 //   subscription identifier 300
		0b 01                    //   subscription identifier 1
		23 00 05                 //   topic alias 5
		26 00 01 6b 00 01 76     //   user property "k" = "v"
		78                       // payload "x"`,
		want: &Publish{QoS: 1, Topic: bs("a"), PacketID: 1, Payload: bs("x"), Props: Properties{
			Present: bit(PropPayloadFormat) | bit(PropMessageExpiry) | bit(PropContentType) |
				bit(PropResponseTopic) | bit(PropCorrelationData) | bit(PropTopicAlias),
			PayloadFormat: 1, MessageExpiry: 60, ContentType: bs("t/p"), ResponseTopic: bs("r"),
			CorrelationData: []byte{1, 2}, SubscriptionIDs: []uint32{300, 1}, TopicAlias: 5,
			User: []UserProperty{{Key: bs("k"), Value: bs("v")}}}}},
	{name: "publish v5 empty topic with alias", v: V5, raw: `
		30 06 00 00              // topic "" (alias in use)
		03 23 00 07              // topic alias 7`,
		want: &Publish{Props: Properties{Present: bit(PropTopicAlias), TopicAlias: 7}}},
	{name: "publish v5 no properties", v: V5, raw: `30 05 00 01 74 00 7a`,
		want: &Publish{Topic: bs("t"), Payload: bs("z")}},
	{name: "publish QoS 3 [MQTT-3.3.1-4]", v: V311, raw: `36 05 00 01 74 00 01`, err: ErrInvalidQoS},
	{name: "publish DUP on QoS 0 [MQTT-3.3.1-2]", v: V311, raw: `38 03 00 01 74`, err: ErrDupQoS0},
	{name: "publish packet id 0 [MQTT-2.3.1-1]", v: V311, raw: `32 05 00 01 74 00 00`, err: ErrPacketIDZero},
	{name: "publish v5 packet id 0 [MQTT-2.2.1-3]", v: V5, raw: `34 06 00 01 74 00 00 00`, err: ErrPacketIDZero},
	{name: "publish topic + [MQTT-3.3.2-2]", v: V311, raw: `30 03 00 01 2b`, err: ErrTopicWildcard},
	{name: "publish topic a/# [MQTT-3.3.2-2]", v: V5, raw: `30 06 00 03 61 2f 23 00`, err: ErrTopicWildcard},
	{name: "publish v311 empty topic [MQTT-4.7.3-1]", v: V311, raw: `30 02 00 00`, err: ErrTopicEmpty},
	{name: "publish v5 empty topic without alias", v: V5, raw: `30 03 00 00 00`, err: ErrTopicEmpty},
	{name: "publish v5 topic alias 0 [MQTT-3.3.2-8]", v: V5, raw: `30 07 00 01 74 03 23 00 00`, err: ErrTopicAliasZero},
	{name: "publish v5 session expiry not allowed", v: V5, raw: `30 09 00 01 74 05 11 00 00 00 01`, err: ErrPropertyNotAllowed},
	{name: "publish v5 payload format 2", v: V5, raw: `30 06 00 01 74 02 01 02`, err: ErrPropertyValue},
	{name: "publish v5 subscription identifier 0", v: V5, raw: `30 06 00 01 74 02 0b 00`, err: ErrPropertyValue},
	{name: "publish v5 duplicate topic alias", v: V5, raw: `30 0a 00 01 74 06 23 00 01 23 00 02`, err: ErrDuplicateProperty},
	{name: "publish v5 response topic wildcard [MQTT-3.3.2-14]", v: V5, raw: `30 08 00 01 74 04 08 00 01 2b`, err: ErrPropertyValue},
	{name: "publish v5 user property bad value [MQTT-1.5.7-1]", v: V5, raw: `30 0b 00 01 74 07 26 00 01 6b 00 01 00`, err: ErrInvalidUTF8},
	{name: "publish topic length overrun", v: V311, raw: `30 03 00 05 61`, err: ErrMalformed},
	{name: "publish topic ill-formed UTF-8 [MQTT-1.5.3-1]", v: V311, raw: `30 04 00 02 c3 28`, err: ErrInvalidUTF8},
	{name: "publish topic U+0000 [MQTT-4.7.3-2]", v: V311, raw: `30 04 00 02 61 00`, err: ErrInvalidUTF8},
	{name: "publish topic overlong '/' [MQTT-1.5.3-1]", v: V311, raw: `30 04 00 02 c0 af`, err: ErrInvalidUTF8},
	{name: "publish topic surrogate [MQTT-1.5.4-1]", v: V5, raw: `30 06 00 03 ed a0 80 00`, err: ErrInvalidUTF8},
	{name: "remaining length not minimal [MQTT-1.5.5-1]", v: V5, raw: `30 80 00`, err: ErrMalformedRemainingLength},
	{name: "remaining length five bytes", v: V311, raw: `30 ff ff ff ff 7f`, err: ErrMalformedRemainingLength},
	{name: "reserved packet type 0", v: V311, raw: `00 00`, err: ErrReservedType},
}

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
