// Package ws is the WebSocket protocol (RFC 6455) as the broker speaks it
// to MQTT clients (MQTT 5.0 section 6, MQTT 3.1.1 section 6): the HTTP/1.1
// upgrade request and its response, an incremental frame decoder over a
// byte buffer, a frame encoder, and the permessage-deflate extension
// (RFC 7692). It does no I/O and starts no goroutine: a transport feeds it
// the bytes it read and writes the bytes it returns, on its event loop.
//
// # Bounds
//
//   - The upgrade request: Config.MaxHeaderBytes bytes and maxHeaderLines
//     header lines; past either the request is refused with 431.
//   - A data frame's payload: Limits.MaxFrame bytes; a compressed
//     message: Limits.MaxMessage bytes on the wire and inflated. Past
//     either the decoder fails with a CloseError of code 1009 (message too
//     big), so a deflate bomb stops after MaxMessage inflated bytes. An
//     uncompressed message is streamed, so its size is not bounded here:
//     MQTT packets may be joined in a message in any number.
//   - A control frame: 125 bytes of payload, never fragmented (RFC 6455
//     5.5); the decoder holds at most one.
//
// permessage-deflate is negotiated with client_no_context_takeover and
// server_no_context_takeover, always: every message is compressed and
// inflated on its own, so no compressor or inflater lives with an idle
// connection. Inflaters are pooled; the encoder compresses statelessly.
//
// # Slices
//
// Decoder.Decode appends message payload to the caller's buffer; the
// payload of a control frame it returns aliases the Decoder and is valid
// until the next Decode.
package ws
