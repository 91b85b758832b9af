package ops

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/engine/auth"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newBroker returns a broker on a free loopback port, not started, with
// two loops and no $SYS, cfg adjusted by mod. It is shut down at the end
// of the test if started.
func newBroker(t testing.TB, mod func(*engine.Config)) *engine.Broker {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.SysInterval = 0
	cfg.KeepUsernames = true
	cfg.Logger = quiet
	if mod != nil {
		mod(&cfg)
	}
	b, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	return b
}

// startOps starts the HTTP listener of b on a free loopback port (cfg
// adjusted by mod) and returns its base URL.
func startOps(t testing.TB, b *engine.Broker, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", MaxRequests: 8, Logger: quiet}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := New(cfg, b)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, "http://" + s.Addr().String()
}

// get fetches url with the headers given as name, value pairs.
func get(t testing.TB, method, url string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// scrape fetches and parses /metrics with the Prometheus text parser.
func scrape(t testing.TB, base string, hdr ...string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, "GET", base+"/metrics", hdr...)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	var p expfmt.TextParser
	mf, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v", err)
	}
	return mf
}

// value returns the value of metric name with the given label pairs (all
// of them must match); -1 when absent.
func value(mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// pahoV3 connects a paho.mqtt.golang client (3.1.1) to b.
func pahoV3(t testing.TB, b *engine.Broker, id string, mod func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + b.Addr().String()).SetClientID(id).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	if mod != nil {
		mod(o)
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// v5Client is a paho.golang (MQTT 5) client and the DISCONNECT the
// server sent it, if any.
type v5Client struct {
	c     *paho.Client
	discs chan *paho.Disconnect
}

// pahoV5 connects a paho.golang client to b; mod adjusts its CONNECT.
func pahoV5(t testing.TB, b *engine.Broker, id string, mod func(*paho.Connect)) *v5Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	v := &v5Client{discs: make(chan *paho.Disconnect, 1)}
	v.c = paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case v.discs <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	})
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}
	if mod != nil {
		mod(cp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := v.c.Connect(ctx, cp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return v
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// usersFile writes a password file with one user and loads it.
func usersFile(t testing.TB, name, password string) *auth.Users {
	t.Helper()
	c, err := auth.NewCredential([]byte(password), 1000)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(auth.FormatUserLine(name, &c)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := auth.LoadUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
