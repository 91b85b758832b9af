package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

var versions = []struct {
	name string
	v    codec.Version
}{{name: "v311", v: codec.V311}, {name: "v5", v: codec.V5}}

// TestClientRoundTrip: QoS 0, 1 and 2 messages reach a QoS 2 subscriber
// with their payload and QoS, on Gust and on Mosquitto, in 3.1.1 and 5;
// a retained message reaches a later subscriber with its RETAIN flag.
func TestClientRoundTrip(t *testing.T) {
	for _, b := range brokers(t) {
		for _, ver := range versions {
			t.Run(b.name+"/"+ver.name, func(t *testing.T) {
				ctx := context.Background()
				topic := "rt/" + b.name + "/" + ver.name
				o := DefaultOptions(b.addr)
				o.Version, o.ClientID = ver.v, "rt-sub-"+ver.name
				sub := dial(t, o)
				codes, err := sub.Subscribe(ctx, []codec.Subscription{{Filter: []byte(topic + "/#"), QoS: 2}}, nil)
				if err != nil || len(codes) != 1 || codes[0] != 2 {
					t.Fatalf("subscribe: %v %v", codes, err)
				}
				o.ClientID = "rt-pub-" + ver.name
				pub := dial(t, o)
				for qos := byte(0); qos <= 2; qos++ {
					payload := fmt.Sprintf("hello at %d", qos)
					if err := pub.Publish(ctx, &Message{Topic: topic + "/q", Payload: []byte(payload), QoS: qos}); err != nil {
						t.Fatalf("publish QoS %d: %v", qos, err)
					}
					m := next(t, sub)
					if m.Topic != topic+"/q" || string(m.Payload) != payload || m.QoS != qos || m.Retain {
						t.Fatalf("QoS %d: got %+v", qos, m)
					}
				}
				if err := pub.Publish(ctx, &Message{Topic: topic + "/kept", Payload: []byte("kept"), QoS: 1, Retain: true}); err != nil {
					t.Fatal(err)
				}
				_ = next(t, sub) // the live copy
				o.ClientID = "rt-late-" + ver.name
				late := dial(t, o)
				if _, err := late.Subscribe(ctx, []codec.Subscription{{Filter: []byte(topic + "/kept"), QoS: 1}}, nil); err != nil {
					t.Fatal(err)
				}
				if m := next(t, late); string(m.Payload) != "kept" || !m.Retain || m.QoS != 1 {
					t.Fatalf("retained: got %+v", m)
				}
				// Clear it so a rerun against the same broker starts empty.
				if err := pub.Publish(ctx, &Message{Topic: topic + "/kept", Retain: true}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestClientWill: a close without DISCONNECT publishes the will (with its
// MQTT 5 user property); Disconnect does not.
func TestClientWill(t *testing.T) {
	for _, b := range brokers(t) {
		for _, ver := range versions {
			t.Run(b.name+"/"+ver.name, func(t *testing.T) {
				ctx := context.Background()
				topic := "will/" + b.name + "/" + ver.name
				o := DefaultOptions(b.addr)
				o.Version, o.ClientID = ver.v, "will-sub"
				sub := dial(t, o)
				if _, err := sub.Subscribe(ctx, []codec.Subscription{{Filter: []byte(topic), QoS: 1}}, nil); err != nil {
					t.Fatal(err)
				}
				will := &Message{Topic: topic, Payload: []byte("gone"), QoS: 1}
				will.Props.User = []codec.UserProperty{{Key: []byte("why"), Value: []byte("test")}}
				o.ClientID, o.Will = "will-polite", will
				polite := dial(t, o)
				if err := polite.Disconnect(); err != nil {
					t.Fatal(err)
				}
				o.ClientID = "will-rude"
				rude := dial(t, o)
				rude.Close()
				m := next(t, sub)
				if string(m.Payload) != "gone" {
					t.Fatalf("got %+v", m)
				}
				if ver.v == codec.V5 && (len(m.Props.User) != 1 || string(m.Props.User[0].Value) != "test") {
					t.Errorf("will user properties: %+v", m.Props.User)
				}
				select {
				case m := <-sub.Messages():
					t.Fatalf("a second will (after DISCONNECT?): %+v", m)
				case <-time.After(200 * time.Millisecond):
				}
			})
		}
	}
}

// TestClientUserProperties: MQTT 5 user properties of a PUBLISH arrive in
// order, on both brokers.
func TestClientUserProperties(t *testing.T) {
	for _, b := range brokers(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			o := DefaultOptions(b.addr)
			o.Version, o.ClientID = codec.V5, "up-sub"
			sub := dial(t, o)
			if _, err := sub.Subscribe(ctx, []codec.Subscription{{Filter: []byte("up/t"), QoS: 1}}, nil); err != nil {
				t.Fatal(err)
			}
			o.ClientID = "up-pub"
			pub := dial(t, o)
			m := &Message{Topic: "up/t", Payload: []byte("x"), QoS: 1}
			m.Props.User = []codec.UserProperty{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}}
			if err := pub.Publish(ctx, m); err != nil {
				t.Fatal(err)
			}
			got := next(t, sub)
			var kv []string
			for _, u := range got.Props.User {
				kv = append(kv, string(u.Key)+"="+string(u.Value))
			}
			if strings.Join(kv, ",") != "a=1,b=2" {
				t.Fatalf("user properties %v", kv)
			}
		})
	}
}

// TestClientErrors: a closed port is connection refused; a refused
// CONNECT is a *ConnackError with its code; a takeover ends the first
// connection, with DISCONNECT 0x8E from Gust in MQTT 5.
func TestClientErrors(t *testing.T) {
	o := DefaultOptions(fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	if _, err := Dial(context.Background(), o); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("closed port: %v, want connection refused", err)
	}
	for _, b := range brokers(t) {
		t.Run(b.name, func(t *testing.T) {
			o := DefaultOptions(b.addr)
			o.CleanStart = false // 3.1.1: an empty client id needs a clean session
			_, err := Dial(context.Background(), o)
			var ce *ConnackError
			if !errors.As(err, &ce) || ce.Code != 2 || !strings.Contains(err.Error(), "identifier rejected") {
				t.Errorf("empty id, persistent session: %v, want CONNACK 2 identifier rejected", err)
			}
			o = DefaultOptions(b.addr)
			o.Version, o.ClientID = codec.V5, "twin"
			first := dial(t, o)
			_ = dial(t, o)
			select {
			case <-first.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("first connection not ended by the takeover")
			}
			// Mosquitto 2.0.11 closes without DISCONNECT 0x8E.
			var de *DisconnectError
			err = first.Err()
			if b.name == "gust" && (!errors.As(err, &de) || de.Code != codec.ReasonSessionTakenOver) {
				t.Errorf("takeover: %v, want DISCONNECT 0x8E", err)
			}
			if b.name != "gust" && !errors.Is(err, ErrClosed) && !errors.As(err, &de) {
				t.Errorf("takeover: %v, want a close by the broker", err)
			}
			if err := first.Publish(context.Background(), &Message{Topic: "x", QoS: 1}); err == nil {
				t.Error("publish on an ended connection succeeded")
			}
		})
	}
}
