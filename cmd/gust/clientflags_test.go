package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine/transport/certgen"
)

// TestMosquittoArgs: -h with a value is the host, -h alone is help; -D
// takes three arguments, four for user-property.
func TestMosquittoArgs(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
		props    []property
		bad      bool
	}{
		{in: []string{"-h", "broker", "-t", "a"}, want: []string{"--host", "broker", "-t", "a"}},
		{in: []string{"-t", "a", "-h"}, want: []string{"-t", "a", "-h"}},
		{in: []string{"-h", "-t", "a"}, want: []string{"-h", "-t", "a"}},
		{in: []string{"-D", "publish", "user-property", "k", "v", "-t", "a", "--property", "publish", "content-type", "text/plain"},
			want: []string{"-t", "a"},
			props: []property{{command: "publish", name: "user-property", value: "k", value2: "v"},
				{command: "publish", name: "content-type", value: "text/plain"}}},
		{in: []string{"-t", "a", "--", "-h", "x"}, want: []string{"-t", "a", "--", "-h", "x"}},
		{in: []string{"-D", "publish", "user-property", "k"}, bad: true},
		{in: []string{"-D", "publish"}, bad: true},
	} {
		got, props, err := mosquittoArgs(tc.in)
		if tc.bad != (err != nil) || (!tc.bad && (!reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(props, tc.props))) {
			t.Errorf("mosquittoArgs(%q) = %q, %+v, %v; want %q, %+v (error: %v)", tc.in, got, props, err, tc.want, tc.props, tc.bad)
		}
	}
}

// TestClientOptions: the shared flags become connection options, and -D
// properties land in CONNECT, PUBLISH, the will or SUBSCRIBE.
func TestClientOptions(t *testing.T) {
	cf := clientFlags{host: "broker", port: 1884, version: "mqttv5", id: "me", noClean: true, keepAlive: 30,
		user: "u", password: "p", connectTimeout: time.Second}
	cf.will.topic, cf.will.payload, cf.will.qos, cf.will.retain = "w", "gone", 1, true
	cf.props = []property{
		{command: "connect", name: "user-property", value: "ck", value2: "cv"},
		{command: "publish", name: "user-property", value: "pk", value2: "pv"},
		{command: "publish", name: "correlation-data", value: "abc"},
		{command: "publish", name: "payload-format-indicator", value: "1"},
		{command: "will", name: "will-delay-interval", value: "5"},
		{command: "will", name: "content-type", value: "text/plain"},
		{command: "subscribe", name: "user-property", value: "sk", value2: "sv"},
		{command: "subscribe", name: "subscription-identifier", value: "7"},
	}
	o, err := cf.options("pub")
	if err != nil {
		t.Fatal(err)
	}
	var pub, sub codec.Properties
	if err := applyProps(cf.props, &o, &pub, &sub); err != nil {
		t.Fatal(err)
	}
	if o.Addr != "broker:1884" || o.Version != codec.V5 || o.ClientID != "me" || o.CleanStart || o.KeepAlive != 30 ||
		o.SessionExpiry != 0xFFFFFFFF || o.Username != "u" || o.Password != "p" || o.DialTimeout != time.Second {
		t.Errorf("options %+v", o)
	}
	if w := o.Will; w == nil || w.Topic != "w" || string(w.Payload) != "gone" || w.QoS != 1 || !w.Retain ||
		w.Props.WillDelay != 5 || string(w.Props.ContentType) != "text/plain" {
		t.Errorf("will %+v", o.Will)
	}
	if len(o.UserProperties) != 1 || string(o.UserProperties[0].Key) != "ck" {
		t.Errorf("connect user properties %+v", o.UserProperties)
	}
	if len(pub.User) != 1 || string(pub.User[0].Value) != "pv" || string(pub.CorrelationData) != "abc" || !pub.Has(codec.PropPayloadFormat) {
		t.Errorf("publish properties %+v", pub)
	}
	if len(sub.User) != 1 || string(sub.User[0].Key) != "sk" || !reflect.DeepEqual(sub.SubscriptionIDs, []uint32{7}) {
		t.Errorf("subscribe properties %+v", sub)
	}
	// Commands the tool does not send are refused.
	if err := applyProps([]property{{command: "subscribe", name: "user-property", value: "k", value2: "v"}}, &o, &pub, nil); err == nil {
		t.Error("-D subscribe accepted by gust pub")
	}
	if err := applyProps([]property{{command: "publish", name: "will-delay-interval", value: "1"}}, &o, &pub, nil); err == nil {
		t.Error("will-delay-interval accepted on publish")
	}
	cf.addr = "mqtt://other:1999"
	if o, err := cf.options("sub"); err != nil || o.Addr != "mqtt://other:1999" {
		t.Errorf("--addr: %q, %v", o.Addr, err)
	}
	cf.sessionExpiry = "many"
	if _, err := cf.options("sub"); err == nil {
		t.Error("-x many accepted")
	}
}

// TestClientTransports: gust sub and gust pub exchange a message through
// `gust serve` over TLS (--cafile, an mqtts:// URL), mutual TLS (--cert,
// --key; refused without them), WebSocket (a ws:// URL with its path, or
// --ws and --ws-path) and secure WebSocket (--wss, a wss:// URL with
// --insecure); a wrong WebSocket path and an untrusted certificate fail
// with a message saying so.
func TestClientTransports(t *testing.T) {
	dir := t.TempDir()
	set, err := certgen.WriteSet(dir, []string{"127.0.0.1", "localhost"}, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]string, 5)
	for i := range p {
		p[i] = strconv.Itoa(freePort(t))
	}
	cfg := filepath.Join(dir, "gust.toml")
	err = os.WriteFile(cfg, []byte(fmt.Sprintf(`[[listener]]
transport = "tcp"
addr = "127.0.0.1:%s"

[[listener]]
transport = "tls"
addr = "127.0.0.1:%s"
tls_cert = %q
tls_key = %q
tls_ca = %q
require_certificate = true
`, p[0], p[4], set.Server, set.ServerKey, set.CA)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	serve := exec.CommandContext(ctx, gustBinary(t), "serve", "--config", cfg, "--store", "memory", "--sys-interval", "0",
		"--listen-tls", "127.0.0.1:"+p[1], "--listen-ws", "127.0.0.1:"+p[2], "--listen-wss", "127.0.0.1:"+p[3],
		"--tls-cert", set.Server, "--tls-key", set.ServerKey, "--ws-path", "/broker")
	var serveErr lockedBuffer
	serve.Stderr = &serveErr
	if err := serve.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		_ = serve.Wait()
		cancel()
	})
	plain := "127.0.0.1:" + p[0]
	waitFor(t, "gust serve listening", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+p[3])
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})

	mtls := []string{"-p", p[4], "--cafile", set.CA, "--cert", set.Client, "--key", set.ClientKey}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{name: "tls", args: []string{"-h", "127.0.0.1", "-p", p[1], "--cafile", set.CA}},
		{name: "mqtts url", args: []string{"--addr", "mqtts://localhost:" + p[1], "--cafile", set.CA}},
		{name: "mutual tls", args: append([]string{"-h", "127.0.0.1"}, mtls...)},
		{name: "ws url", args: []string{"--addr", "ws://127.0.0.1:" + p[2] + "/broker"}},
		{name: "ws flags", args: []string{"-h", "127.0.0.1", "-p", p[2], "--ws", "--ws-path", "/broker"}},
		{name: "wss", args: []string{"-h", "127.0.0.1", "-p", p[3], "--wss", "--cafile", set.CA, "--ws-path", "/broker"}},
		{name: "wss url insecure", args: []string{"--addr", "wss://127.0.0.1:" + p[3] + "/broker", "--insecure"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "tr/" + strings.ReplaceAll(tc.name, " ", "-")
			sub := startSub(t, plain, topic+"/ready", append([]string{"-t", topic + "/#", "-C", "2", "-q", "1"}, tc.args...)...)
			r := runGust(t, "", append([]string{"pub", "-t", topic + "/m", "-m", "over " + tc.name, "-q", "1"}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("gust pub: exit %d: %s", r.code, r.stderr)
			}
			if code := sub.wait(t); code != 0 || !strings.Contains(sub.stdout.String(), "over "+tc.name) {
				t.Fatalf("gust sub: exit %d, stdout %q, stderr %q", code, sub.stdout.String(), sub.stderr.String())
			}
		})
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{name: "no client certificate", args: []string{"-h", "127.0.0.1", "-p", p[4], "--cafile", set.CA}, want: "certificate"},
		{name: "untrusted server", args: []string{"-h", "127.0.0.1", "-p", p[1], "--tls"}, want: "certificate"},
		{name: "wrong ws path", args: []string{"--addr", "ws://127.0.0.1:" + p[2] + "/mqtt"}, want: "404"},
		{name: "insecure without tls", args: []string{"-h", "127.0.0.1", "-p", p[2], "--insecure"}, want: "--insecure and --key need --tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runGust(t, "", append([]string{"pub", "-t", "x", "-m", "refused"}, tc.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q: want a failure saying %q", r.code, r.stderr, tc.want)
			}
		})
	}
	if t.Failed() {
		t.Log(serveErr.String())
	}
}
