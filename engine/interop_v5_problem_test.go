package engine

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/gust-mqtt/gust/codec"
)

// problemAcks sends a QoS 1 PUBLISH the broker refuses (payload format
// invalid) and a SUBSCRIBE with an invalid filter, and returns the Reason
// Strings of the PUBACK and the SUBACK.
func problemAcks(t *testing.T, pc *pahoV5) (puback, suback string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, _ := pc.c.Publish(ctx, &paho.Publish{Topic: "prob/x", QoS: 1, Payload: []byte{0xff},
		Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}})
	check(t, r != nil, "no PUBACK")
	equal(t, r.ReasonCode, byte(codec.ReasonPayloadFormatInvalid))
	if r.Properties != nil {
		puback = r.Properties.ReasonString
	}
	sa, _ := pc.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "prob/#/x", QoS: 1}}})
	check(t, sa != nil, "no SUBACK")
	equal(t, sa.Reasons[0], byte(codec.ReasonTopicFilterInvalid))
	if sa.Properties != nil {
		suback = sa.Properties.ReasonString
	}
	return puback, suback
}

// TestInteropPahoV5ProblemInformation: failed acknowledgements carry a
// Reason String by default; with Request Problem Information 0 they carry
// none, while a DISCONNECT still does [MQTT-3.1.2-29].
func TestInteropPahoV5ProblemInformation(t *testing.T) {
	b := startBroker(t, nil)
	def := dialPahoV5(t, b, "v5-prob-default", nil)
	pa, sa := problemAcks(t, def)
	check(t, pa != "", "PUBACK 0x99 without a Reason String")
	check(t, sa != "", "SUBACK 0x8F without a Reason String")

	quiet := dialPahoV5(t, b, "v5-prob-quiet", func(cp *paho.Connect) {
		cp.Properties = &paho.ConnectProperties{RequestProblemInfo: false} // sent as 0
	})
	pa, sa = problemAcks(t, quiet)
	equal(t, pa, "", "PUBACK Reason String despite Request Problem Information 0")
	equal(t, sa, "", "SUBACK Reason String despite Request Problem Information 0")
	// A DISCONNECT may carry one anyway [MQTT-3.1.2-29].
	quiet.publish(t, &paho.Publish{Topic: "prob/x", QoS: 0, Payload: []byte{0xff},
		Properties: &paho.PublishProperties{PayloadFormat: ptr(byte(1))}})
	select {
	case d := <-quiet.discs:
		equal(t, d.ReasonCode, byte(codec.ReasonPayloadFormatInvalid))
		check(t, d.Properties != nil && d.Properties.ReasonString != "", "DISCONNECT without a Reason String")
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECT 0x99")
	}
}

// TestInteropPahoV5ConnackReasonString: a refused CONNACK carries a Reason
// String even with Request Problem Information 0 [MQTT-3.1.2-29].
func TestInteropPahoV5ConnackReasonString(t *testing.T) {
	b := startBroker(t, nil)
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	noErr(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	c := paho.NewClient(paho.ClientConfig{Conn: nc, OnClientError: func(error) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: "v5-prob-connack", CleanStart: true,
		Properties: &paho.ConnectProperties{AuthMethod: "NO-SUCH-METHOD", RequestProblemInfo: false}})
	check(t, err != nil && ack != nil, "want a refused CONNACK, got", ack, err)
	equal(t, ack.ReasonCode, byte(codec.ReasonBadAuthenticationMethod))
	check(t, ack.Properties != nil && ack.Properties.ReasonString != "", "CONNACK 0x8C without a Reason String")
}
