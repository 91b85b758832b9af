package codec

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// publishWithProps builds a 5.0 QoS 0 PUBLISH to topic "t" whose properties
// are props (the Property Length is computed).
func publishWithProps(props []byte) []byte {
	body := append([]byte{0x00, 0x01, 't', byte(len(props))}, props...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

// TestPropsFastPath covers the edges of the inlined property fast path in
// decodeProps (short ASCII strings, User Properties, four-byte integers):
// whatever it refuses must reach decodeProp and fail there with the same
// error as before, and what it accepts must decode as decodeProp would.
func TestPropsFastPath(t *testing.T) {
	cases := []struct {
		name  string
		props []byte
		err   error
	}{
		{"duplicate message expiry", []byte{0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2}, ErrDuplicateProperty},
		{"truncated message expiry", []byte{0x02, 0, 0}, ErrMalformedProperties},
		{"content type with U+0000 [MQTT-1.5.4-2]", []byte{0x03, 0, 5, 'a', 'b', 0, 'c', 'd'}, ErrInvalidUTF8},
		{"content type ill-formed UTF-8 [MQTT-1.5.4-1]", []byte{0x03, 0, 5, 'a', 'b', 0x80, 'c', 'd'}, ErrInvalidUTF8},
		{"duplicate content type", []byte{0x03, 0, 4, 'a', 'b', 'c', 'd', 0x03, 0, 4, 'a', 'b', 'c', 'd'}, ErrDuplicateProperty},
		{"user property key U+0000 [MQTT-1.5.7-1]", []byte{0x26, 0, 5, 'k', 'e', 0, 'y', 's', 0, 4, 'v', 'a', 'l', 'u'}, ErrInvalidUTF8},
		{"user property value ill-formed [MQTT-1.5.7-1]", []byte{0x26, 0, 4, 'k', 'e', 'y', 's', 0, 4, 'v', 0xff, 'l', 'u'}, ErrInvalidUTF8},
		{"session expiry not allowed in PUBLISH", []byte{0x11, 0, 0, 0, 1}, ErrPropertyNotAllowed},
		{"reason string not allowed in PUBLISH", []byte{0x1F, 0, 4, 'a', 'b', 'c', 'd'}, ErrPropertyNotAllowed},
	}
	for _, c := range cases {
		var p Publish
		if _, err := DecodePublish(publishWithProps(c.props), V5, &p); !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}
	// A string running past the Property Length is malformed, whichever path reads it.
	var p Publish
	if _, err := DecodePublish(publishWithProps([]byte{0x03, 0, 6, 'a', 'b', 'c', 'd'}), V5, &p); err == nil {
		t.Errorf("content type past the property length: no error")
	}
	props := []byte{0x02, 0, 0, 0x0e, 0x10, 0x03, 0, 16}
	props = append(props, "application/json"...)
	props = append(props, 0x26, 0, 5, 't', 'r', 'a', 'c', 'e', 0, 6, 'a', 'b', 'c', '1', '2', '3')
	if _, err := DecodePublish(publishWithProps(props), V5, &p); err != nil {
		t.Fatalf("valid properties: %v", err)
	}
	if !p.Props.Has(PropMessageExpiry) || p.Props.MessageExpiry != 3600 || !p.Props.Has(PropContentType) ||
		string(p.Props.ContentType) != "application/json" || len(p.Props.User) != 1 ||
		!bytes.Equal(p.Props.User[0].Key, []byte("trace")) || !bytes.Equal(p.Props.User[0].Value, []byte("abc123")) {
		t.Fatalf("valid properties decoded as %+v", p.Props)
	}
}

// TestUserLimit: Properties.UserLimit stops decoding at the first User
// Property past it, on the fast path (short ASCII strings) and the general
// one, with the 0x97 error; Reset and decoding keep the limit.
func TestUserLimit(t *testing.T) {
	for _, key := range []string{"k1234", "a key longer than sixteen bytes"} {
		for _, n := range []int{4, 5, 40} {
			t.Run(fmt.Sprintf("%d/%d", len(key), n), func(t *testing.T) {
				in := Publish{Topic: []byte("t"), Payload: []byte("x")}
				for i := 0; i < n; i++ {
					in.Props.User = append(in.Props.User, UserProperty{Key: []byte(key), Value: []byte("value")})
				}
				pkt := AppendPublish(nil, V5, &in)
				var p Publish
				p.Props.UserLimit = 4
				_, err := DecodePublish(pkt, V5, &p)
				if n <= 4 {
					if err != nil || len(p.Props.User) != n {
						t.Fatalf("decode with %d properties: %v, %d decoded", n, err, len(p.Props.User))
					}
				} else {
					if err != ErrTooManyUserProperties || ReasonCodeOf(err) != ReasonQuotaExceeded {
						t.Fatalf("decode with %d properties: %v, want ErrTooManyUserProperties (0x97)", n, err)
					}
					if len(p.Props.User) > 4 {
						t.Fatalf("%d properties stored past the limit", len(p.Props.User))
					}
				}
				if p.Props.UserLimit != 4 {
					t.Fatal("decoding lost UserLimit")
				}
				p.Props.Reset()
				if p.Props.UserLimit != 4 {
					t.Fatal("Reset lost UserLimit")
				}
				// Encoding ignores the limit.
				in.Props.UserLimit = 1
				if !bytes.Equal(AppendPublish(nil, V5, &in), pkt) {
					t.Fatal("UserLimit changed the encoding")
				}
			})
		}
	}
}

func TestPropertiesHasSetClear(t *testing.T) {
	var p Properties
	if !p.Empty() || p.Has(PropTopicAlias) || p.Has(PropUserProperty) {
		t.Fatal("zero Properties not empty")
	}
	p.TopicAlias = 3
	p.Set(PropTopicAlias)
	p.Set(PropUserProperty) // No effect: present when the slice is non-empty.
	if !p.Has(PropTopicAlias) || p.Has(PropUserProperty) {
		t.Fatal("Set")
	}
	p.User = append(p.User, UserProperty{Key: []byte("k")})
	p.SubscriptionIDs = append(p.SubscriptionIDs, 1)
	if !p.Has(PropUserProperty) || !p.Has(PropSubscriptionID) {
		t.Fatal("repeating properties")
	}
	p.Clear(PropTopicAlias)
	p.Clear(PropUserProperty)
	if p.Has(PropTopicAlias) || p.Has(PropUserProperty) || !p.Has(PropSubscriptionID) {
		t.Fatal("Clear")
	}
	c := cap(p.SubscriptionIDs)
	p.Reset()
	if !p.Empty() || cap(p.SubscriptionIDs) != c {
		t.Fatal("Reset")
	}
	if AllowedProps(TypePublish, false)&bit(PropTopicAlias) == 0 || AllowedProps(TypeConnect, true)&bit(PropWillDelay) == 0 ||
		AllowedProps(TypePingreq, false) != 0 {
		t.Fatal("AllowedProps")
	}
}

// TestAppendDecodeProperties round-trips PUBLISH and will properties
// outside a packet, and refuses trailing bytes and properties the packet
// type does not allow.
func TestAppendDecodeProperties(t *testing.T) {
	var p Properties
	p.PayloadFormat = 1
	p.Set(PropPayloadFormat)
	p.MessageExpiry = 60
	p.Set(PropMessageExpiry)
	p.ContentType = []byte("text/plain")
	p.Set(PropContentType)
	p.CorrelationData = []byte{0, 1, 2}
	p.Set(PropCorrelationData)
	p.User = []UserProperty{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("k"), Value: []byte("w")}}
	b := AppendProperties(nil, &p)
	var got Properties
	if err := DecodeProperties(b, TypePublish, false, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(AppendProperties(nil, &got), b) || got.MessageExpiry != 60 || string(got.ContentType) != "text/plain" || len(got.User) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	if err := DecodeProperties(append(b, 0), TypePublish, false, &got); err == nil {
		t.Fatal("trailing byte accepted")
	}
	var w Properties
	w.WillDelay = 5
	w.Set(PropWillDelay)
	wb := AppendProperties(nil, &w)
	if err := DecodeProperties(wb, TypeConnect, true, &got); err != nil || got.WillDelay != 5 {
		t.Fatalf("will properties: %v %+v", err, got)
	}
	if err := DecodeProperties(wb, TypePublish, false, &got); err == nil {
		t.Fatal("Will Delay Interval accepted in PUBLISH properties")
	}
	if err := DecodeProperties(AppendProperties(nil, &Properties{}), TypePublish, false, &got); err != nil || !got.Empty() {
		t.Fatalf("no properties: %v %+v", err, got)
	}
}
