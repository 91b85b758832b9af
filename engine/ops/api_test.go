package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine"
)

func decode[T any](t testing.TB, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

// TestReadyz: /readyz is 503 until the broker's listener is open, 200
// while it serves and 503 again once it shuts down; /healthz answers
// throughout.
func TestReadyz(t *testing.T) {
	b := newBroker(t, nil)
	_, base := startOps(t, b, nil)
	if code, _ := get(t, "GET", base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before Start: %d", code)
	}
	if code, _ := get(t, "GET", base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz before Start: %d", code)
	}
	if code, _ := get(t, "GET", base+"/api/v1/clients"); code != http.StatusServiceUnavailable {
		t.Fatalf("/api/v1/clients before Start: %d", code)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, "GET", base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz after Start: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, "GET", base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after Shutdown: %d", code)
	}
}

// TestAdminClients lists clients with each filter and pages through them
// in id order.
func TestAdminClients(t *testing.T) {
	b := newBroker(t, nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	_, base := startOps(t, b, nil)
	const n = 57
	var ids []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("dev-%03d", i)
		user := "alice"
		if i%3 == 0 {
			user = "bob"
		}
		pahoV3(t, b, id, func(o *mqtt.ClientOptions) { o.SetUsername(user).SetPassword("x") })
		ids = append(ids, id)
	}
	pahoV3(t, b, "other", nil)

	var seen []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		code, body := get(t, "GET", base+"/api/v1/clients?prefix=dev-&limit=10&after="+url.QueryEscape(after))
		if code != http.StatusOK {
			t.Fatalf("%d %s", code, body)
		}
		p := decode[engine.ClientPage](t, body)
		if p.Matched != n {
			t.Fatalf("matched %d, want %d", p.Matched, n)
		}
		for _, c := range p.Clients {
			seen = append(seen, c.ID)
			if c.Remote == "" || c.Version != 4 || c.Username == "" {
				t.Errorf("summary %+v", c)
			}
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if !sort.StringsAreSorted(seen) || strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("pages gave %v", seen)
	}
	_, body := get(t, "GET", base+"/api/v1/clients?user=bob&limit=1000")
	if p := decode[engine.ClientPage](t, body); p.Matched != (n+2)/3 || len(p.Clients) != (n+2)/3 {
		t.Errorf("user=bob: %d matched, %d listed, want %d", p.Matched, len(p.Clients), (n+2)/3)
	}
	_, body = get(t, "GET", base+"/api/v1/clients?address=127.0.0.1:&limit=5")
	if p := decode[engine.ClientPage](t, body); p.Matched != n+1 || len(p.Clients) != 5 || p.Next == "" {
		t.Errorf("address filter: %+v", p)
	}
	_, body = get(t, "GET", base+"/api/v1/clients?address=10.9.9.9")
	if p := decode[engine.ClientPage](t, body); p.Matched != 0 || len(p.Clients) != 0 {
		t.Errorf("address 10.9.9.9 matched %+v", p)
	}
	if code, _ := get(t, "GET", base+"/api/v1/clients?limit=100000"); code != http.StatusBadRequest {
		t.Errorf("limit 100000: %d", code)
	}
}

// TestAdminClientAndKick reads one session (subscriptions, queue,
// in-flight, will), then kicks a v5 client, which gets DISCONNECT 0x98,
// and a 3.1.1 client, whose connection closes and whose will is
// published.
func TestAdminClientAndKick(t *testing.T) {
	b := newBroker(t, nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	_, base := startOps(t, b, nil)

	wills := make(chan string, 1)
	watcher := pahoV3(t, b, "watcher", nil)
	watcher.Subscribe("wills/#", 1, func(_ mqtt.Client, m mqtt.Message) { wills <- m.Topic() }).WaitTimeout(5 * time.Second)

	v3 := pahoV3(t, b, "v3 client/with space", func(o *mqtt.ClientOptions) {
		o.SetWill("wills/v3", "gone", 1, false).SetCleanSession(false)
	})
	v3.Subscribe("a/+", 1, nil).WaitTimeout(5 * time.Second)
	v3.Subscribe("$share/g/jobs/#", 2, nil).WaitTimeout(5 * time.Second)

	code, body := get(t, "GET", base+"/api/v1/client?id="+url.QueryEscape("v3 client/with space"))
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	d := decode[engine.ClientDetail](t, body)
	if !d.Online || d.Subs != 2 || len(d.Subscriptions) != 2 || d.Will == nil || d.Will.Topic != "wills/v3" || d.Will.QoS != 1 ||
		d.ExpirySeconds == 0 {
		t.Errorf("detail %s", body)
	}
	_, body = get(t, "GET", base+"/api/v1/subscriptions?topic=jobs/1")
	subs := decode[struct{ Subscribers []engine.TopicSubscriber }](t, body)
	if len(subs.Subscribers) != 1 || subs.Subscribers[0].Group != "g" || subs.Subscribers[0].ClientID != "v3 client/with space" {
		t.Errorf("subscribers of jobs/1: %s", body)
	}
	if code, _ := get(t, "GET", base+"/api/v1/subscriptions?topic=a/%23"); code != http.StatusBadRequest {
		t.Errorf("a wildcard topic: %d", code)
	}

	// Kick: refused without X-Requested-With, 404 for an unknown client.
	kickURL := base + "/api/v1/client/kick?id=" + url.QueryEscape("v3 client/with space")
	if code, _ := get(t, "POST", kickURL); code != http.StatusForbidden {
		t.Errorf("kick without X-Requested-With: %d", code)
	}
	if code, _ := get(t, "POST", base+"/api/v1/client/kick?id=nobody", "X-Requested-With", "t"); code != http.StatusNotFound {
		t.Errorf("kick nobody: %d", code)
	}
	if code, body := get(t, "POST", kickURL, "X-Requested-With", "t"); code != http.StatusOK {
		t.Fatalf("kick v3: %d %s", code, body)
	}
	waitFor(t, "v3 client disconnected", func() bool { return !v3.IsConnectionOpen() })
	select {
	case w := <-wills:
		if w != "wills/v3" {
			t.Errorf("will on %s", w)
		}
	case <-time.After(5 * time.Second):
		t.Error("the kicked client's will was not published")
	}
	// Its session stays (clean session false), offline.
	_, body = get(t, "GET", base+"/api/v1/client?id="+url.QueryEscape("v3 client/with space"))
	if d := decode[engine.ClientDetail](t, body); d.Online || d.Subs != 2 {
		t.Errorf("after kick: %s", body)
	}

	v5 := pahoV5(t, b, "v5", nil)
	if code, body := get(t, "POST", base+"/api/v1/client/kick?id=v5", "X-Requested-With", "t"); code != http.StatusOK {
		t.Fatalf("kick v5: %d %s", code, body)
	}
	select {
	case dp := <-v5.discs:
		if codec.ReasonCode(dp.ReasonCode) != codec.ReasonAdministrativeAction {
			t.Errorf("DISCONNECT reason 0x%02x, want 0x98", dp.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECT for the kicked v5 client")
	}
	mf := scrape(t, base)
	if got := value(mf, "gust_clients_kicked_total"); got != 2 {
		t.Errorf("gust_clients_kicked_total = %v", got)
	}
	if code, _ := get(t, "GET", base+"/api/v1/client?id=nobody"); code != http.StatusNotFound {
		t.Errorf("unknown client: %d", code)
	}
}

// TestAdminRetained lists retained messages by filter, in pages, and
// deletes them: a later subscriber gets none.
func TestAdminRetained(t *testing.T) {
	b := newBroker(t, nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	_, base := startOps(t, b, nil)
	pub := pahoV3(t, b, "pub", nil)
	for i := 0; i < 25; i++ {
		pub.Publish(fmt.Sprintf("r/%02d", i), 1, true, fmt.Sprintf("v%d", i)).WaitTimeout(5 * time.Second)
	}
	pub.Publish("s/keep", 1, true, "stays").WaitTimeout(5 * time.Second)

	type page struct {
		Retained []engine.RetainedInfo
		Next     string
	}
	var topics []string
	after := ""
	for {
		_, body := get(t, "GET", base+"/api/v1/retained?filter=r/%23&limit=10&after="+url.QueryEscape(after))
		p := decode[page](t, body)
		for _, r := range p.Retained {
			topics = append(topics, r.Topic)
			if r.Payload != "v"+strings.TrimLeft(r.Topic[2:], "0") && !(r.Topic == "r/00" && r.Payload == "v0") {
				t.Errorf("retained %+v", r)
			}
		}
		if p.Next == "" {
			break
		}
		after = p.Next
	}
	if len(topics) != 25 || !sort.StringsAreSorted(topics) {
		t.Fatalf("listed %v", topics)
	}
	if code, _ := get(t, "DELETE", base+"/api/v1/retained?filter=r/%23"); code != http.StatusForbidden {
		t.Errorf("delete without X-Requested-With: %d", code)
	}
	if code, _ := get(t, "DELETE", base+"/api/v1/retained?filter=r/%23/bad/%23", "X-Requested-With", "t"); code != http.StatusBadRequest {
		t.Errorf("delete with a bad filter: %d", code)
	}
	code, body := get(t, "DELETE", base+"/api/v1/retained?filter=r/%23", "X-Requested-With", "t")
	if code != http.StatusOK || !strings.Contains(body, `"deleted":25`) {
		t.Fatalf("delete: %d %s", code, body)
	}
	got := make(chan string, 32)
	late := pahoV3(t, b, "late", nil)
	late.Subscribe("#", 0, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() }).WaitTimeout(5 * time.Second)
	select {
	case topic := <-got:
		if topic != "s/keep" {
			t.Errorf("retained %s still delivered", topic)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("s/keep not delivered")
	}
	select {
	case topic := <-got:
		t.Errorf("retained %s delivered after delete", topic)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestAccess: off loopback a token or the password file is required;
// protected paths answer 401 without them, health never needs them;
// basic authentication takes a password file user.
func TestAccess(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", "192.0.2.1:80", "[::]:0"} {
		c := Config{Listen: listen, MaxRequests: 1}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "http_token") {
			t.Errorf("%s without credentials: %v", listen, err)
		}
	}
	for _, c := range []Config{{Listen: "nohost", MaxRequests: 1}, {Listen: "127.0.0.1:0"}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	b := newBroker(t, nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	users := usersFile(t, "ops", "secret")
	_, base := startOps(t, b, func(c *Config) { c.Token = "tok3n"; c.Users = users; c.Pprof = true })
	for _, p := range []string{"/metrics", "/api/v1/clients", "/api/v1/overview", "/", "/debug/pprof/"} {
		if code, _ := get(t, "GET", base+p); code != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %d", p, code)
		}
		if code, _ := get(t, "GET", base+p, "Authorization", "Bearer wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d", p, code)
		}
		if code, _ := get(t, "GET", base+p, "Authorization", "Bearer tok3n"); code != http.StatusOK {
			t.Errorf("%s with the token: %d", p, code)
		}
		req, _ := http.NewRequest("GET", base+p, nil)
		req.SetBasicAuth("ops", "secret")
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s with basic auth: %v %v", p, resp, err)
		} else {
			resp.Body.Close()
		}
		req.SetBasicAuth("ops", "wrong")
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %v %v", p, resp, err)
		} else {
			resp.Body.Close()
		}
	}
	if code, _ := get(t, "GET", base+"/?token=tok3n"); code != http.StatusOK {
		t.Errorf("dashboard with ?token=: %d", code)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := get(t, "GET", base+p); code != http.StatusOK {
			t.Errorf("%s: %d", p, code)
		}
	}
	mf := scrape(t, base, "Authorization", "Bearer tok3n")
	if v := value(mf, "gust_http_unauthorized_total"); v < 15 {
		t.Errorf("gust_http_unauthorized_total = %v", v)
	}
	// Without pprof there is no /debug/pprof/.
	_, open := startOps(t, b, nil)
	if code, _ := get(t, "GET", open+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --pprof: %d", code)
	}
}

// TestMaxRequests: past MaxRequests requests at once, 503 and a counter.
func TestMaxRequests(t *testing.T) {
	b := newBroker(t, nil)
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	_, base := startOps(t, b, func(c *Config) { c.MaxRequests = 1; c.Pprof = true })
	done := make(chan int)
	go func() {
		resp, err := http.Get(base + "/debug/pprof/profile?seconds=2") // holds the one slot
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	refused := false
	deadline := time.Now().Add(1500 * time.Millisecond)
	for !refused && time.Now().Before(deadline) {
		code, _ := get(t, "GET", base+"/healthz")
		refused = code == http.StatusServiceUnavailable
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Fatal("no 503 while the only slot was taken")
	}
	if code := <-done; code != http.StatusOK {
		t.Fatalf("profile: %d", code)
	}
	mf := scrape(t, base)
	if v := value(mf, "gust_http_rejected_total"); v < 1 {
		t.Errorf("gust_http_rejected_total = %v", v)
	}
}
