package codec

import (
	"bytes"
	"fmt"
	"testing"
)

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
