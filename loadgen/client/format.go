package client

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gust-mqtt/gust/codec"
)

// ErrNotJSON means a %J format met a payload that is not JSON.
var ErrNotJSON = errors.New("client: message payload is not valid JSON")

// Format renders received messages the way mosquitto_sub's -F option does.
// Directives:
//
//	%t topic            %p payload          %l payload length
//	%q QoS              %r retain flag      %m packet identifier
//	%x payload in hex   %X same, upper case
//	%j JSON object with the payload as a string
//	%J the same with the payload as JSON (the payload must be JSON)
//	%P user properties as key:value, space separated
//	%C content type     %D correlation data %E message expiry interval
//	%F payload format   %R response topic   %S subscription identifiers
//	%I ISO 8601 time    %U Unix time with nanoseconds
//	%% a percent sign
//
// and the escapes \n \t \r \a \e \v \0 \\. A Format is immutable once
// parsed and safe for use from any goroutine.
type Format struct {
	parts []formatPart
}

// formatPart is literal text (verb 0) or one directive.
type formatPart struct {
	verb byte
	text string
}

const formatVerbs = "tplqrmxXjJPCDEFRSIU"

// ParseFormat parses a -F format.
func ParseFormat(s string) (*Format, error) {
	f := &Format{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.parts = append(f.parts, formatPart{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+1 < len(s) && s[i+1] == '%':
			lit.WriteByte('%')
			i++
		case c == '%':
			if i+1 >= len(s) || !strings.ContainsRune(formatVerbs, rune(s[i+1])) {
				return nil, fmt.Errorf("client: format %q: unknown directive at byte %d (want one of %%%s or %%%%)", s, i, strings.Join(strings.Split(formatVerbs, ""), " %"))
			}
			flush()
			f.parts = append(f.parts, formatPart{verb: s[i+1]})
			i++
		case c == '\\' && i+1 < len(s):
			e, ok := map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'a': '\a', 'e': 0x1b, 'v': '\v', '0': 0, '\\': '\\'}[s[i+1]]
			if !ok {
				return nil, fmt.Errorf("client: format %q: unknown escape \\%c (want \\n \\t \\r \\a \\e \\v \\0 \\\\)", s, s[i+1])
			}
			lit.WriteByte(e)
			i++
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return f, nil
}

// Append appends m rendered by f, received at now, to dst. With %J and a
// payload that is not JSON it returns dst unchanged and ErrNotJSON.
func (f *Format) Append(dst []byte, m *Message, now time.Time) ([]byte, error) {
	start := len(dst)
	for _, p := range f.parts {
		switch p.verb {
		case 0:
			dst = append(dst, p.text...)
		case 't':
			dst = append(dst, m.Topic...)
		case 'p':
			dst = append(dst, m.Payload...)
		case 'l':
			dst = strconv.AppendInt(dst, int64(len(m.Payload)), 10)
		case 'q':
			dst = strconv.AppendInt(dst, int64(m.QoS), 10)
		case 'r':
			dst = append(dst, "01"[b2i(m.Retain)])
		case 'm':
			dst = strconv.AppendInt(dst, int64(m.PacketID), 10)
		case 'x':
			dst = hex.AppendEncode(dst, m.Payload)
		case 'X':
			dst = append(dst, strings.ToUpper(hex.EncodeToString(m.Payload))...)
		case 'j', 'J':
			var err error
			if dst, err = appendJSON(dst, m, now, p.verb == 'J'); err != nil {
				return dst[:start], err
			}
		case 'P':
			for i, u := range m.Props.User {
				if i > 0 {
					dst = append(dst, ' ')
				}
				dst = append(append(append(dst, u.Key...), ':'), u.Value...)
			}
		case 'C':
			dst = append(dst, m.Props.ContentType...)
		case 'D':
			dst = append(dst, m.Props.CorrelationData...)
		case 'E':
			if m.Props.Has(codec.PropMessageExpiry) {
				dst = strconv.AppendUint(dst, uint64(m.Props.MessageExpiry), 10)
			}
		case 'F':
			if m.Props.Has(codec.PropPayloadFormat) {
				dst = strconv.AppendUint(dst, uint64(m.Props.PayloadFormat), 10)
			}
		case 'R':
			dst = append(dst, m.Props.ResponseTopic...)
		case 'S':
			for i, id := range m.Props.SubscriptionIDs {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendUint(dst, uint64(id), 10)
			}
		case 'I':
			dst = now.AppendFormat(dst, "2006-01-02T15:04:05-0700")
		case 'U':
			dst = strconv.AppendInt(dst, now.Unix(), 10)
			dst = append(dst, '.')
			dst = append(dst, fmt.Sprintf("%09d", now.Nanosecond())...)
		}
	}
	return dst, nil
}

// appendJSON appends mosquitto_sub's %j (or %J, payload as JSON) object.
func appendJSON(dst []byte, m *Message, now time.Time, rawPayload bool) ([]byte, error) {
	if rawPayload && !json.Valid(m.Payload) {
		return dst, ErrNotJSON
	}
	dst = append(dst, `{"tst":`...)
	dst = appendJSONString(dst, now.Format("2006-01-02T15:04:05.000000Z-0700"))
	dst = append(dst, `,"topic":`...)
	dst = appendJSONString(dst, m.Topic)
	dst = append(dst, `,"qos":`...)
	dst = strconv.AppendInt(dst, int64(m.QoS), 10)
	dst = append(dst, `,"retain":`...)
	dst = append(dst, "01"[b2i(m.Retain)])
	dst = append(dst, `,"payloadlen":`...)
	dst = strconv.AppendInt(dst, int64(len(m.Payload)), 10)
	if m.QoS > 0 {
		dst = append(dst, `,"mid":`...)
		dst = strconv.AppendInt(dst, int64(m.PacketID), 10)
	}
	dst = appendJSONProps(dst, &m.Props)
	dst = append(dst, `,"payload":`...)
	if rawPayload {
		dst = append(dst, m.Payload...)
	} else {
		dst = appendJSONString(dst, string(m.Payload))
	}
	return append(dst, '}'), nil
}

// appendJSONProps appends the MQTT 5 properties of a message, if any, as
// mosquitto_sub names them.
func appendJSONProps(dst []byte, p *codec.Properties) []byte {
	var fields [][]byte
	if len(p.User) > 0 {
		f := []byte(`"user-properties":{`)
		for i, u := range p.User {
			if i > 0 {
				f = append(f, ',')
			}
			f = appendJSONString(f, string(u.Key))
			f = append(f, ':')
			f = appendJSONString(f, string(u.Value))
		}
		fields = append(fields, append(f, '}'))
	}
	str := func(id codec.PropID, name string, v []byte) {
		if p.Has(id) {
			fields = append(fields, appendJSONString([]byte(`"`+name+`":`), string(v)))
		}
	}
	num := func(id codec.PropID, name string, v uint64) {
		if p.Has(id) {
			fields = append(fields, strconv.AppendUint([]byte(`"`+name+`":`), v, 10))
		}
	}
	num(codec.PropPayloadFormat, "payload-format-indicator", uint64(p.PayloadFormat))
	num(codec.PropMessageExpiry, "message-expiry-interval", uint64(p.MessageExpiry))
	str(codec.PropContentType, "content-type", p.ContentType)
	str(codec.PropResponseTopic, "response-topic", p.ResponseTopic)
	str(codec.PropCorrelationData, "correlation-data", p.CorrelationData)
	for _, id := range p.SubscriptionIDs {
		fields = append(fields, strconv.AppendUint([]byte(`"subscription-identifier":`), uint64(id), 10))
	}
	if len(fields) == 0 {
		return dst
	}
	dst = append(dst, `,"properties":{`...)
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f...)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string. Unlike encoding/json it
// leaves <, > and & as they are, as mosquitto_sub does; bytes that are not
// UTF-8 become U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
		default:
			dst = utf8.AppendRune(dst, r) // range yields U+FFFD for an invalid byte
		}
	}
	return append(dst, '"')
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
