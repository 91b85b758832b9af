package engine

import (
	"testing"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
	"github.com/gust-mqtt/gust/engine/auth/authtest"
)

// zeroReader is an endless source of zero bytes: a fixed server nonce
// for auth.SCRAM.Rand, so that the fuzzer can reach the proof check and
// beyond.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// fuzzSCRAM returns a SCRAM method over alice:s3cret with a fixed server
// nonce, and a client-final-message of a successful login whose
// client-first is "n,,n=alice,r=fz".
func fuzzSCRAM(f *testing.F) (*auth.SCRAM, []byte) {
	u, err := auth.LoadUsers(writeUsersFile(f, "alice", "s3cret"))
	if err != nil {
		f.Fatal(err)
	}
	m := auth.NewSCRAM(u)
	m.Rand = zeroReader{}
	sc := &authtest.SCRAMClient{User: "alice", Pass: "s3cret", Nonce: "fz"}
	sf, _, err := m.Start(&ConnectInfo{}).Step(sc.First())
	if err != nil {
		f.Fatal(err)
	}
	cf, err := sc.Final(sf)
	if err != nil {
		f.Fatal(err)
	}
	return m, cf
}

// fuzzAuthConnect is a v5 CONNECT logging in alice with SCRAM, first
// message "n,,n=alice,r=fz".
func fuzzAuthConnect(id string) []byte {
	p := &codec.Connect{Version: codec.V5, ProtocolName: []byte("MQTT"), ClientID: []byte(id), CleanStart: true}
	p.Props.AuthMethod = []byte(auth.SCRAMSHA256)
	p.Props.Set(codec.PropAuthMethod)
	p.Props.AuthData = []byte("n,,n=alice,r=fz")
	p.Props.Set(codec.PropAuthData)
	return codec.AppendConnect(nil, p)
}

// FuzzAuthTraffic feeds arbitrary bytes, in two reads, to a connection of
// an in-process broker that is in the middle of a SCRAM login (its CONNECT
// answered by AUTH 0x18): AUTH steps, re-authentications, other packets.
// The engine must never panic, and a fresh SCRAM login on the same loop
// must still succeed.
func FuzzAuthTraffic(f *testing.F) {
	m, cf := fuzzSCRAM(f)
	cont := v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, cf)
	reauth := v5Auth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, []byte("n,,n=alice,r=fz"))
	for _, s := range [][]byte{
		cont,
		append(append(append([]byte(nil), cont...), reauth...), cont...),
		append(append([]byte(nil), cont...), v5Auth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, []byte("n,,n=bob,r=x"))...),
		v5Auth(codec.ReasonContinueAuthentication, "OTHER", cf),
		v5Auth(codec.ReasonSuccess, auth.SCRAMSHA256, nil),
		codec.AppendPingreq(nil),
		fuzzAuthConnect("again"),
		{0xF0, 0x00},
		{0xF0, 0xFF, 0xFF, 0xFF, 0x7F},
	} {
		f.Add(s, uint8(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		hs := newHarness(t, 1)
		hs.b.cfg.AuthMethods = map[string]AuthMethod{auth.SCRAMSHA256: m}
		c := &fakeConn{el: hs.loops[0]}
		hs.h.OnOpen(c)
		hs.send(c, fuzzAuthConnect("fuzz"))
		cut := min(int(split), len(data))
		hs.send(c, data[:cut])
		if !c.closed {
			hs.send(c, data[cut:])
		}
		hs.pump()

		d := &fakeConn{el: hs.loops[0], keep: true}
		hs.h.OnOpen(d)
		hs.send(d, fuzzAuthConnect("after"))
		hs.send(d, cont)
		if rc, ok := lastConnack5(d.out); !ok || rc != codec.ReasonSuccess || d.closed {
			t.Fatalf("fresh SCRAM login failed: %x", d.out)
		}
	})
}

// lastConnack5 returns the reason code of the last v5 CONNACK in out.
func lastConnack5(out []byte) (codec.ReasonCode, bool) {
	var rc codec.ReasonCode
	found := false
	for len(out) > 0 {
		t, _, n, err := codec.PacketLen(out, 0)
		if err != nil || n > len(out) {
			return 0, false
		}
		if t == codec.TypeConnack {
			var ack codec.Connack
			if _, err := codec.DecodeConnack(out[:n], codec.V5, &ack); err != nil {
				return 0, false
			}
			rc, found = ack.ReasonCode, true
		}
		out = out[n:]
	}
	return rc, found
}
