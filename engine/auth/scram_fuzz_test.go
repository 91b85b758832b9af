package auth

import (
	"bytes"
	"testing"

	"github.com/gust-mqtt/gust/engine/auth/authtest"
)

// fuzzServerNonce replaces the random server nonce in FuzzSCRAM, so that
// the fuzzer can reach the proof check and beyond.
const fuzzServerNonce = "srv"

// fuzzSCRAM returns a SCRAM method over alice:s3cret with a fixed server
// nonce, and a client-final-message of a successful login whose
// client-first is "n,,n=alice,r=fz".
func fuzzSCRAM(f *testing.F) (*SCRAM, []byte) {
	m := NewSCRAM(testUsers(f, "alice", "s3cret"))
	m.nonce = func() string { return fuzzServerNonce }
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

// FuzzSCRAM runs the server's SCRAM-SHA-256 steps on arbitrary
// client-first and client-final messages: no panic, an error leaves no
// authenticated user, and an exchange never holds more than a few
// kilobytes whatever the client sends.
func FuzzSCRAM(f *testing.F) {
	m, cf := fuzzSCRAM(f)
	f.Add([]byte("n,,n=alice,r=fz"), cf)
	f.Add([]byte("y,a=alice,n=alice,r=fz"), cf)
	f.Add([]byte("n,,n=b=2Cob,r=x"), []byte("c=biws,r=xsrv,p=AAAA"))
	f.Add([]byte("p=tls-unique,,n=a,r=x"), []byte{})
	f.Add([]byte("n,,n=alice,r=fz,e=x"), append(cf, ",x=y"...))
	f.Fuzz(func(t *testing.T, first, final []byte) {
		ex := m.Start(&ConnectInfo{}).(*scramExchange)
		out, done, err := ex.Step(first)
		if done {
			t.Fatal("done after client-first")
		}
		if err != nil {
			if ex.Username() != "" {
				t.Fatal("user set after a failed step")
			}
			return
		}
		if !bytes.HasPrefix(out, []byte("r=")) {
			t.Fatalf("server-first %q", out)
		}
		out, done, err = ex.Step(final)
		if cap(ex.authMsg) > 4*scramMaxMessage || len(ex.gs2) > scramMaxMessage {
			t.Fatalf("exchange holds %d bytes", cap(ex.authMsg)+len(ex.gs2))
		}
		if (err == nil) != done || (err == nil) != (ex.Username() != "") || (err == nil) != (out != nil) {
			t.Fatalf("done %v err %v user %q out %q", done, err, ex.Username(), out)
		}
		if _, done, err = ex.Step(final); done || err == nil {
			t.Fatal("third step accepted")
		}
	})
}
