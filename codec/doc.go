// Package codec is the MQTT wire format of Gust: every control packet of
// MQTT 3.1 (protocol name "MQIsdp", level 3), 3.1.1 (level 4) and 5.0
// (level 5), as pure functions over byte slices.
//
// Decoding. PacketLen reads a fixed header and says how long the packet is;
// with a maximum packet size it rejects an oversized packet from its header
// alone. Each DecodeXxx takes src starting at a fixed header; src may hold a
// partial packet, one packet or many. When it holds less than one whole
// packet the decoder returns ErrIncomplete and consumes nothing; otherwise it
// returns n, the length of the packet, and never looks at src[n:]. Byte-slice
// fields of a decoded struct alias src: they stay valid until the caller
// reuses or releases src (for the engine, until the end of the OnTraffic call
// that produced them); copy what must outlive that. Slice fields holding many
// items are truncated and appended to, so a struct reused across calls stops
// allocating.
//
// Validation. Decoders enforce the normative statements a codec can check
// without connection state, each tagged in the code with its rule id (for
// example [MQTT-3.3.1-4]): reserved flags, QoS 3, remaining length encoding,
// UTF-8 strings, property identifiers, duplicates and values, packet
// identifier 0, will flags, protocol name and level. Every rejection is a
// pre-built *Error carrying the 5.0 reason code to answer with (ReasonCodeOf)
// and the 3.1/3.1.1 CONNACK return code or "close" (ConnackCodeV3). Rules
// that need state (topic alias range, receive maximum, client identifier
// policy, Subscription Identifier sent by a client) are the caller's.
//
// Encoding. Each AppendXxx appends one whole packet to a caller-owned slice
// and returns it; SizeXxx returns the encoded length without encoding. The
// encoders trust their input: they write what the struct says.
//
// Concurrency. The package has no state: every function is safe from any
// goroutine as long as the structs and slices it is given are not written
// concurrently.
package codec
