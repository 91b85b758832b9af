package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
)

// scramMaxMessage is auth's bound on one SCRAM message, in bytes.
const scramMaxMessage = 1024

// TestAuthRawOversizeSCRAM: SCRAM messages past scramMaxMessage, well
// within the Maximum Packet Size, are refused with CONNACK 0x87 and the
// connection closed [MQTT-4.12.0-4], in the CONNECT and in the AUTH.
func TestAuthRawOversizeSCRAM(t *testing.T) {
	b := startAuthBroker(t, nil)
	big := strings.Repeat("x", 4*scramMaxMessage)

	r := dialRaw(t, b)
	p := &codec.Connect{Version: codec.V5, ProtocolName: []byte("MQTT"), ClientID: []byte("big-first"), CleanStart: true}
	p.Props.AuthMethod = []byte(auth.SCRAMSHA256)
	p.Props.Set(codec.PropAuthMethod)
	p.Props.AuthData = []byte("n,,n=alice,r=x,e=" + big)
	p.Props.Set(codec.PropAuthData)
	r.write(codec.AppendConnect(nil, p))
	equal(t, r.readConnack5().ReasonCode, codec.ReasonNotAuthorized)
	r.expectClosed(3 * time.Second)

	r, sc, ap := rawSCRAMStart(t, b, "big-final", "alice", "s3cret")
	cf, err := sc.Final(ap.Props.AuthData)
	noErr(t, err)
	i := strings.LastIndex(string(cf), ",p=")
	r.write(v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, []byte(string(cf[:i])+",e="+big+string(cf[i:]))))
	equal(t, r.readConnack5().ReasonCode, codec.ReasonNotAuthorized)
	r.expectClosed(3 * time.Second)

	// The same login within the limits succeeds.
	_, ack := rawSCRAMAs(t, b, "ok", "alice", "s3cret")
	equal(t, ack.ReasonCode, codec.ReasonSuccess)
}
