package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/auth"
	"github.com/gust-mqtt/gust/engine/auth/authtest"
)

// v5Auth returns a v5 AUTH packet.
func v5Auth(rc codec.ReasonCode, method string, data []byte) []byte {
	ap := codec.Auth{ReasonCode: rc}
	ap.Props.AuthMethod = []byte(method)
	ap.Props.Set(codec.PropAuthMethod)
	if data != nil {
		ap.Props.AuthData = data
		ap.Props.Set(codec.PropAuthData)
	}
	return codec.AppendAuth(nil, &ap)
}

// readAuth reads an AUTH packet.
func (r *rawConn) readAuth() *codec.Auth {
	r.t.Helper()
	var ap codec.Auth
	_, err := codec.DecodeAuth(r.mustRead(codec.TypeAuth), &ap)
	if err != nil {
		r.t.Fatal(err)
	}
	return &ap
}

// readConnack5 reads a v5 CONNACK.
func (r *rawConn) readConnack5() *codec.Connack {
	r.t.Helper()
	var ack codec.Connack
	_, err := codec.DecodeConnack(r.mustRead(codec.TypeConnack), codec.V5, &ack)
	if err != nil {
		r.t.Fatal(err)
	}
	return &ack
}

// readDisconnect5 reads a v5 DISCONNECT and returns its reason.
func (r *rawConn) readDisconnect5() codec.ReasonCode {
	r.t.Helper()
	var d codec.Disconnect
	_, err := codec.DecodeDisconnect(r.mustRead(codec.TypeDisconnect), codec.V5, &d)
	if err != nil {
		r.t.Fatal(err)
	}
	return d.ReasonCode
}

// rawSCRAMStart sends a SCRAM CONNECT for id and returns the client and
// the broker's AUTH 0x18 carrying server-first.
func rawSCRAMStart(t *testing.T, b *Broker, id, user, pass string) (*rawConn, *authtest.SCRAMClient, *codec.Auth) {
	t.Helper()
	r := dialRaw(t, b)
	sc := &authtest.SCRAMClient{User: user, Pass: pass, Nonce: "raw-" + id}
	p := &codec.Connect{Version: codec.V5, ProtocolName: []byte("MQTT"), ClientID: []byte(id), KeepAlive: 30}
	p.Props.AuthMethod = []byte(auth.SCRAMSHA256)
	p.Props.Set(codec.PropAuthMethod)
	p.Props.AuthData = sc.First()
	p.Props.Set(codec.PropAuthData)
	r.write(codec.AppendConnect(nil, p))
	ap := r.readAuth()
	if ap.ReasonCode != codec.ReasonContinueAuthentication { // [MQTT-4.12.0-2]
		t.Fatalf("got %v, want %v", ap.ReasonCode, codec.ReasonContinueAuthentication)
	}
	if string(ap.Props.AuthMethod) != auth.SCRAMSHA256 { // [MQTT-4.12.0-5]
		t.Fatalf("got %v, want %v", string(ap.Props.AuthMethod), auth.SCRAMSHA256)
	}
	return r, sc, ap
}

// rawSCRAM logs id in as alice and returns the CONNACK.
func rawSCRAM(t *testing.T, b *Broker, id string) (*rawConn, *codec.Connack) {
	t.Helper()
	r, sc, ap := rawSCRAMStart(t, b, id, "alice", "s3cret")
	cf, err := sc.Final(ap.Props.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	r.write(v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, cf)) // [MQTT-4.12.0-3]
	ack := r.readConnack5()
	if ack.ReasonCode != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonSuccess)
	}
	if string(ack.Props.AuthMethod) != auth.SCRAMSHA256 { // [MQTT-4.12.0-5]
		t.Fatalf("got %v, want %v", string(ack.Props.AuthMethod), auth.SCRAMSHA256)
	}
	if !sc.Verify(ack.Props.AuthData) {
		t.Fatal("server-final")
	}
	return r, ack
}

// rawSCRAMAs runs a whole SCRAM login of user/pass for id and returns the
// CONNACK.
func rawSCRAMAs(t *testing.T, b *Broker, id, user, pass string) (*rawConn, *codec.Connack) {
	t.Helper()
	r, sc, ap := rawSCRAMStart(t, b, id, user, pass)
	cf, err := sc.Final(ap.Props.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	r.write(v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, cf)) // [MQTT-4.12.0-3]
	return r, r.readConnack5()
}

// TestAuthRawProtocolErrors: AUTH packets out of place. Before CONNACK the
// reason goes in a CONNACK, since no DISCONNECT may precede a successful
// CONNACK [MQTT-3.14.0-1]; after it, in a DISCONNECT.
func TestAuthRawProtocolErrors(t *testing.T) {
	b := startAuthBroker(t, nil)

	t.Run("AUTH before CONNECT", func(t *testing.T) {
		r := dialRaw(t, b)
		r.write(v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, []byte("n,,n=alice,r=x")))
		r.expectClosed(3 * time.Second) // [MQTT-3.1.0-1]
	})
	for _, tc := range []struct {
		name string
		pkt  []byte
		want codec.ReasonCode
	}{
		// [MQTT-4.12.0-5] every AUTH repeats the CONNECT's method.
		{"AUTH with another method", v5Auth(codec.ReasonContinueAuthentication, "PLAIN", []byte("x")), codec.ReasonProtocolError},
		// [MQTT-4.12.0-3] the client continues with 0x18, not 0x19.
		{"AUTH 0x19 during the exchange", v5Auth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, []byte("x")), codec.ReasonProtocolError},
		// [MQTT-3.1.2-30] only AUTH or DISCONNECT before CONNACK.
		{"PUBLISH during the exchange", codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("a"), Payload: []byte("p")}), codec.ReasonProtocolError},
		{"PINGREQ during the exchange", codec.AppendPingreq(nil), codec.ReasonProtocolError},
		// [MQTT-3.15.1-1] reserved flags set: malformed.
		{"AUTH with flags", append([]byte{0xF1}, v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, nil)[1:]...), codec.ReasonMalformedPacket},
		{"tampered client-final", v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, []byte("c=biws,r=nope,p=AAAA")), codec.ReasonNotAuthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := rawSCRAMStart(t, b, "raw-err", "alice", "s3cret")
			r.write(tc.pkt)
			ack := r.readConnack5()
			if ack.ReasonCode != tc.want { // [MQTT-4.12.0-4]
				t.Fatalf("got %v, want %v", ack.ReasonCode, tc.want)
			}
			r.expectClosed(3 * time.Second)
		})
	}
	t.Run("DISCONNECT during the exchange", func(t *testing.T) {
		r, _, _ := rawSCRAMStart(t, b, "raw-disc", "alice", "s3cret")
		r.write(codec.AppendDisconnect(nil, codec.V5, &codec.Disconnect{}))
		r.expectClosed(3 * time.Second)
	})
	t.Run("AUTH from a 3.1.1 client", func(t *testing.T) {
		r := dialRaw(t, b)
		if got := r.connect(&codec.Connect{ClientID: []byte("raw-v3"), CleanStart: true,
			UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("s3cret")}).ReasonCode; got != 0 {
			t.Fatalf("got %v, want %v", got, 0)
		}
		r.write(v5Auth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, []byte("n,,n=alice,r=x")))
		r.expectClosed(3 * time.Second) // no AUTH before 5.0, and no DISCONNECT to send
	})
	t.Run("re-authentication without a method at CONNECT", func(t *testing.T) {
		r := dialRaw(t, b)
		if got := r.connect(&codec.Connect{Version: codec.V5, ClientID: []byte("raw-plain"), CleanStart: true,
			UsernameFlag: true, Username: []byte("alice"), PasswordFlag: true, Password: []byte("s3cret")}).ReasonCode; got != 0 {
			t.Fatalf("got %v, want %v", got, 0)
		}
		r.write(v5Auth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, []byte("n,,n=alice,r=x")))
		if got := r.readDisconnect5(); got != codec.ReasonProtocolError { // [MQTT-4.12.0-7]
			t.Fatalf("got %v, want %v", got, codec.ReasonProtocolError)
		}
		r.expectClosed(3 * time.Second)
	})
	for _, tc := range []struct {
		name string
		pkt  []byte
	}{
		{"re-authentication with another method", v5Auth(codec.ReasonReAuthenticate, "PLAIN", []byte("x"))}, // [MQTT-4.12.1-1]
		{"AUTH 0x18 outside an exchange", v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, []byte("x"))},
		{"AUTH 0x00 from the client", v5Auth(codec.ReasonSuccess, auth.SCRAMSHA256, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := rawSCRAM(t, b, "raw-re")
			r.write(tc.pkt)
			if got := r.readDisconnect5(); got != codec.ReasonProtocolError {
				t.Fatalf("got %v, want %v", got, codec.ReasonProtocolError)
			}
			r.expectClosed(3 * time.Second)
		})
	}
}

// TestAuthRawReauth: re-authentication (4.12.1) twice on one connection,
// with other packets in between; the final AUTH 0x00 carries the method
// and server-final [MQTT-4.12.0-5].
func TestAuthRawReauth(t *testing.T) {
	b := startAuthBroker(t, nil)
	r, _ := rawSCRAM(t, b, "raw-reauth")
	for i := range 2 {
		sc := &authtest.SCRAMClient{User: "alice", Pass: "s3cret", Nonce: "re" + string(rune('a'+i))}
		r.write(v5Auth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, sc.First()))
		ap := r.readAuth()
		if ap.ReasonCode != codec.ReasonContinueAuthentication { // [MQTT-4.12.0-2]
			t.Fatalf("got %v, want %v", ap.ReasonCode, codec.ReasonContinueAuthentication)
		}
		cf, err := sc.Final(ap.Props.AuthData)
		if err != nil {
			t.Fatal(err)
		}
		r.write(codec.AppendPingreq(nil)) // packets may flow during re-authentication
		r.mustRead(codec.TypePingresp)
		r.write(v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, cf))
		ap = r.readAuth()
		if ap.ReasonCode != codec.ReasonSuccess {
			t.Fatalf("got %v, want %v", ap.ReasonCode, codec.ReasonSuccess)
		}
		if string(ap.Props.AuthMethod) != auth.SCRAMSHA256 {
			t.Fatalf("got %v, want %v", string(ap.Props.AuthMethod), auth.SCRAMSHA256)
		}
		if !sc.Verify(ap.Props.AuthData) {
			t.Fatal("re-authentication server-final")
		}
	}
	r.write(codec.AppendPingreq(nil))
	r.mustRead(codec.TypePingresp)
}

// TestAuthTakeover: a client that authenticated with SCRAM takes over the
// session of another connection with its id, on another loop and on the
// same loop; the CONNECT is re-read from the kept copy, not from gnet's
// buffer [MQTT-3.1.4-2].
func TestAuthTakeover(t *testing.T) {
	b := startAuthBroker(t, func(c *Config) { c.Loops = 2 })
	first, _ := rawSCRAM(t, b, "take")
	second, _ := rawSCRAM(t, b, "take") // round robin: the other loop
	if got := first.readDisconnect5(); got != codec.ReasonSessionTakenOver {
		t.Fatalf("got %v, want %v", got, codec.ReasonSessionTakenOver)
	}
	first.expectClosed(3 * time.Second)
	dialRaw(t, b).connect(&codec.Connect{ClientID: []byte("filler"), CleanStart: true}) // shift the loop
	third, _ := rawSCRAM(t, b, "take")
	if got := second.readDisconnect5(); got != codec.ReasonSessionTakenOver {
		t.Fatalf("got %v, want %v", got, codec.ReasonSessionTakenOver)
	}
	second.expectClosed(3 * time.Second)
	third.write(codec.AppendPingreq(nil))
	third.mustRead(codec.TypePingresp) // the winner is connected
}

// TestAuthSingleStepAndAnonymous: a method done at its first step answers
// CONNACK at once, with its data; AllowAnonymous false still refuses a
// plain client without user name next to a password file.
func TestAuthSingleStepAndAnonymous(t *testing.T) {
	b := startAuthBroker(t, func(c *Config) {
		c.AllowAnonymous = false
		c.AuthMethods = map[string]AuthMethod{"TOKEN": tokenMethod{}}
	})
	r := dialRaw(t, b)
	p := &codec.Connect{Version: codec.V5, ProtocolName: []byte("MQTT"), ClientID: []byte("tok"), CleanStart: true}
	p.Props.AuthMethod = []byte("TOKEN")
	p.Props.Set(codec.PropAuthMethod)
	p.Props.AuthData = []byte("good")
	p.Props.Set(codec.PropAuthData)
	r.write(codec.AppendConnect(nil, p))
	ack := r.readConnack5()
	if ack.ReasonCode != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonSuccess)
	}
	if string(ack.Props.AuthMethod) != "TOKEN" {
		t.Fatalf("got %v, want %v", string(ack.Props.AuthMethod), "TOKEN")
	}
	if string(ack.Props.AuthData) != "welcome" {
		t.Fatalf("got %v, want %v", string(ack.Props.AuthData), "welcome")
	}

	// SCRAM is still offered next to the caller's methods.
	rawSCRAM(t, b, "scram-too")

	if got := dialRaw(t, b).connect(&codec.Connect{Version: codec.V5, ClientID: []byte("anon"), CleanStart: true}).ReasonCode; got != codec.ReasonNotAuthorized {
		t.Fatalf("got %v, want %v", got, codec.ReasonNotAuthorized)
	}
	// [MQTT-4.12.0-6] no method in CONNECT: no method in CONNACK.
	ack = dialRaw(t, b).connect(&codec.Connect{Version: codec.V5, ClientID: []byte("plain"), CleanStart: true,
		UsernameFlag: true, Username: []byte("bob"), PasswordFlag: true, Password: []byte("hunter2")})
	if ack.ReasonCode != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonSuccess)
	}
	if ack.Props.Has(codec.PropAuthMethod) {
		t.Fatal("CONNACK names a method")
	}
}

// tokenMethod accepts the data "good" in one step.
type tokenMethod struct{}

func (tokenMethod) Start(*ConnectInfo) AuthExchange { return &tokenExchange{} }

type tokenExchange struct{ ok bool }

func (e *tokenExchange) Step(data []byte) ([]byte, bool, error) {
	if string(data) != "good" {
		return nil, false, ErrNotAuthorized
	}
	e.ok = true
	return []byte("welcome"), true, nil
}

func (e *tokenExchange) Username() string { return "" }

// TestAuthExchangeTimeout: a client that stops in the middle of its
// exchange is closed after ConnectTimeout, like one that sends no CONNECT.
func TestAuthExchangeTimeout(t *testing.T) {
	b := startAuthBroker(t, func(c *Config) { c.ConnectTimeout = 300 * time.Millisecond })
	r, _, _ := rawSCRAMStart(t, b, "stall", "alice", "s3cret")
	r.expectClosed(5 * time.Second)
}

// TestNewPasswordFile: New loads the password file, refuses a bad one
// naming it and its line, and leaves the caller's AuthMethods map alone.
func TestNewPasswordFile(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PasswordFile = filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(cfg.PasswordFile, []byte("alice:nope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(cfg)
	if !(errors.Is(err, auth.ErrUsersFile) && strings.Contains(err.Error(), cfg.PasswordFile+":1:")) {
		t.Fatal(err)
	}

	cfg.PasswordFile = writeUsersFile(t, "alice", "pw")
	mine := map[string]AuthMethod{"TOKEN": tokenMethod{}}
	cfg.AuthMethods = mine
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 {
		t.Fatalf("got %v, want %v", len(mine), 1)
	}
	if !(b.cfg.AuthMethods[auth.SCRAMSHA256] != nil && b.cfg.AuthMethods["TOKEN"] != nil) {
		t.Fatal("methods", b.cfg.AuthMethods)
	}
	_, ok := b.cfg.Authenticator.(*auth.Users)
	if !ok {
		t.Fatal("the password file is not the Authenticator")
	}
}

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
	if got := r.readConnack5().ReasonCode; got != codec.ReasonNotAuthorized {
		t.Fatalf("got %v, want %v", got, codec.ReasonNotAuthorized)
	}
	r.expectClosed(3 * time.Second)

	r, sc, ap := rawSCRAMStart(t, b, "big-final", "alice", "s3cret")
	cf, err := sc.Final(ap.Props.AuthData)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(string(cf), ",p=")
	r.write(v5Auth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, []byte(string(cf[:i])+",e="+big+string(cf[i:]))))
	if got := r.readConnack5().ReasonCode; got != codec.ReasonNotAuthorized {
		t.Fatalf("got %v, want %v", got, codec.ReasonNotAuthorized)
	}
	r.expectClosed(3 * time.Second)

	// The same login within the limits succeeds.
	_, ack := rawSCRAMAs(t, b, "ok", "alice", "s3cret")
	if ack.ReasonCode != codec.ReasonSuccess {
		t.Fatalf("got %v, want %v", ack.ReasonCode, codec.ReasonSuccess)
	}
}
