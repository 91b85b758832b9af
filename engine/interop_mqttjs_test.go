package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The MQTT.js interop test runs engine/testdata/mqttjs/scenarios.js, all
// scenarios concurrently in one node process (one node start-up, and the
// scenarios mostly wait), against in-process brokers, then asserts on the
// JSON it prints, one subtest per scenario and MQTT version. It needs node
// and the program's node_modules:
//
//	npm ci --prefix engine/testdata/mqttjs
//
// Without them the test skips, or fails when CI=true.

// mqttjsDir holds the scenario program and its package-lock.json.
const mqttjsDir = "testdata/mqttjs"

// mqttjsTimeout bounds the node process; the program's own limit is 15 s.
const mqttjsTimeout = 20 * time.Second

// jsProps is the v5 properties of a message as MQTT.js decoded them.
type jsProps struct {
	PayloadFormatIndicator bool            `json:"payloadFormatIndicator"`
	MessageExpiryInterval  int             `json:"messageExpiryInterval"`
	ContentType            string          `json:"contentType"`
	ResponseTopic          string          `json:"responseTopic"`
	CorrelationData        string          `json:"correlationData"`
	UserProperties         json.RawMessage `json:"userProperties"`
	SubscriptionIdentifier json.RawMessage `json:"subscriptionIdentifier"`
}

// jsMsg is one message an MQTT.js client received.
type jsMsg struct {
	Topic   string   `json:"topic"`
	Payload string   `json:"payload"`
	QoS     byte     `json:"qos"`
	Retain  bool     `json:"retain"`
	Props   *jsProps `json:"props"`
}

// jsAlias is the topic and Topic Alias of a PUBLISH as sent or received
// on the wire, before MQTT.js resolves the alias.
type jsAlias struct {
	Topic string `json:"topic"`
	Alias int    `json:"alias"`
}

// jsResult is the JSON line of scenarios.js; each scenario fills its own
// fields (see the scenario functions there).
type jsResult struct {
	Failures []string `json:"failures"`
	Error    string   `json:"error"`
	Ms       int      `json:"ms"`

	Granted     []int   `json:"granted"`
	GrantedPlus []int   `json:"grantedPlus"`
	GrantedHash []int   `json:"grantedHash"`
	Acked       int     `json:"acked"`
	Plus        []jsMsg `json:"plus"`
	Hash        []jsMsg `json:"hash"`

	FirstSessionPresent   bool    `json:"firstSessionPresent"`
	ResumedSessionPresent bool    `json:"resumedSessionPresent"`
	CleanSessionPresent   bool    `json:"cleanSessionPresent"`
	Queued                []jsMsg `json:"queued"`
	Live                  []jsMsg `json:"live"`
	AfterClean            []jsMsg `json:"afterClean"`

	First      []jsMsg `json:"first"`
	AfterClear []jsMsg `json:"afterClear"`
	Wills      []jsMsg `json:"wills"`
	After      []jsMsg `json:"after"`

	Request  *jsMsg  `json:"request"`
	Response *jsMsg  `json:"response"`
	Received []jsMsg `json:"received"`

	ConnackAliasMax int       `json:"connackAliasMax"`
	SentUse         []jsAlias `json:"sentUse"`
	SentAssign      []jsAlias `json:"sentAssign"`
	AliasReceived   []jsAlias `json:"aliasReceived"`
	Messages        []jsMsg   `json:"messages"`

	BadPassword        int  `json:"badPassword"`
	Anonymous          int  `json:"anonymous"`
	Good               int  `json:"good"`
	GoodSessionPresent bool `json:"goodSessionPresent"`

	M1  []string `json:"m1"`
	M2  []string `json:"m2"`
	All []string `json:"all"`

	ServerKeepAlive int  `json:"serverKeepAlive"`
	Pingresps       int  `json:"pingresps"`
	Connected       bool `json:"connected"`

	FirstDisconnect int  `json:"firstDisconnect"`
	FirstClosed     bool `json:"firstClosed"`
	SecondConnected bool `json:"secondConnected"`

	Unsuback []int          `json:"unsuback"`
	Sizes    map[string]int `json:"sizes"`

	Assigned   string `json:"assigned"`
	Disconnect int    `json:"disconnect"`
	Closed     bool   `json:"closed"`
	DelayMs    int    `json:"delayMs"`

	NL  []jsMsg `json:"nl"`
	RAP []jsMsg `json:"rap"`
	RH2 []jsMsg `json:"rh2"`
	ID  []jsMsg `json:"id"`
}

// mqttjsNode returns the node program, skipping the test (failing when
// CI=true) when node or the installed MQTT.js is missing.
func mqttjsNode(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (install node, then run: npm ci --prefix engine/testdata/mqttjs)", what)
		}
		t.Skipf("%s (npm ci --prefix engine/testdata/mqttjs enables the MQTT.js tests)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not installed")
	}
	if _, err := os.Stat(filepath.Join(mqttjsDir, "node_modules", "mqtt", "package.json")); err != nil {
		missing("MQTT.js not installed in " + mqttjsDir)
	}
	return node
}

// mqttjsCase is one scenario run with one MQTT version (3 is MQTT 3.1) and the checks on
// its result.
type mqttjsCase struct {
	scenario string
	version  int
	check    func(t *testing.T, v int, r *jsResult)
}

// mqttjsCases are the scenarios of scenarios.js, each with its checks.
var mqttjsCases = []mqttjsCase{
	{scenario: "qos", version: 3, check: checkJSQoS},
	{scenario: "qos", version: 4, check: checkJSQoS},
	{scenario: "qos", version: 5, check: checkJSQoS},
	{scenario: "session", version: 3, check: checkJSSession},
	{scenario: "session", version: 4, check: checkJSSession},
	{scenario: "session", version: 5, check: checkJSSession},
	{scenario: "retained", version: 4, check: checkJSRetained},
	{scenario: "retained", version: 5, check: checkJSRetained},
	{scenario: "will", version: 3, check: checkJSWill},
	{scenario: "will", version: 4, check: checkJSWill},
	{scenario: "will", version: 5, check: checkJSWill},
	{scenario: "subrefused", version: 4, check: checkJSSubscribeRefused},
	{scenario: "subrefused", version: 5, check: checkJSSubscribeRefused},
	{scenario: "shared", version: 4, check: checkJSShared},
	{scenario: "shared", version: 5, check: checkJSShared},
	{scenario: "props", version: 5, check: checkJSProperties},
	{scenario: "expiry", version: 5, check: checkJSExpiry},
	{scenario: "alias", version: 5, check: checkJSTopicAlias},
	{scenario: "auth", version: 4, check: checkJSAuth},
	{scenario: "auth", version: 5, check: checkJSAuth},
	{scenario: "keepalive", version: 4, check: checkJSKeepAlive},
	{scenario: "keepalive", version: 5, check: checkJSKeepAlive},
	{scenario: "takeover", version: 4, check: checkJSTakeover},
	{scenario: "takeover", version: 5, check: checkJSTakeover},
	{scenario: "unsub", version: 4, check: checkJSUnsubscribe},
	{scenario: "unsub", version: 5, check: checkJSUnsubscribe},
	{scenario: "large", version: 4, check: checkJSLarge},
	{scenario: "large", version: 5, check: checkJSLarge},
	{scenario: "subopts", version: 5, check: checkJSSubscriptionOptions},
	{scenario: "maxpacket", version: 5, check: checkJSMaxPacket},
	{scenario: "emptyid", version: 4, check: checkJSEmptyID},
	{scenario: "emptyid", version: 5, check: checkJSEmptyID},
	{scenario: "willdelay", version: 5, check: checkJSWillDelay},
}

// TestInteropMQTTJS runs every MQTT.js scenario against a broker with
// default settings, and the auth scenario against one with a password file
// and anonymous clients refused; see the check functions for what each
// subtest asserts and the spec ids it covers.
func TestInteropMQTTJS(t *testing.T) {
	node := mqttjsNode(t)
	b := startBroker(t, nil)
	ab := startAuthBroker(t, func(c *Config) { c.AllowAnonymous = false })
	args := []string{"scenarios.js", b.Addr().String(), ab.Addr().String()}
	for _, c := range mqttjsCases {
		args = append(args, c.scenario+"/"+strconv.Itoa(c.version))
	}
	ctx, cancel := context.WithTimeout(context.Background(), mqttjsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = mqttjsDir
	cmd.WaitDelay = time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run() // exit status 1 or 2 is reported per scenario below
	results := map[string]*jsResult{}
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &results); err != nil {
		t.Fatalf("scenarios.js: %v (run: %v)\nstdout: %s\nstderr: %s", err, runErr, out.String(), errb.String())
	}
	for _, c := range mqttjsCases {
		key := c.scenario + "/" + strconv.Itoa(c.version)
		t.Run(c.scenario+"/v"+strconv.Itoa(c.version), func(t *testing.T) {
			r := results[key]
			if r == nil {
				t.Fatal("no result for", key, "stderr:", errb.String())
			}
			if r.Error != "" || len(r.Failures) > 0 {
				t.Fatalf("error %q, failures %q (run: %v)\nstderr: %s", r.Error, r.Failures, runErr, errb.String())
			}
			c.check(t, c.version, r)
		})
	}
	if !(runErr == nil || t.Failed()) {
		t.Fatal("scenarios.js failed but every scenario passed:", runErr, errb.String())
	}
}

// msgKeys renders messages as "topic payload qos retain" for comparison.
func msgKeys(ms []jsMsg) []string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.Topic + " " + m.Payload + " q" + strconv.Itoa(int(m.QoS)) + " r" + strconv.FormatBool(m.Retain)
	}
	return s
}

// sameStrings fails the test unless got equals want.
func sameStrings(t *testing.T, got, want []string, msg ...any) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q %v", got, want, msg)
	}
}

// checkJSQoS: MQTT.js publishes QoS 0, 1 and 2 to a '+' and a '#'
// subscription granted QoS 2, and every message arrives once, at the QoS it
// was published with (v311 [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.3-1]
// [MQTT-3.8.4-6] [MQTT-3.3.2-3]; wildcards v311 [MQTT-4.7.1-2]
// [MQTT-4.7.1-3], v5 [MQTT-4.7.1-1] [MQTT-4.7.1-2]).
func checkJSQoS(t *testing.T, v int, r *jsResult) {
	pre := "js/qos/v" + strconv.Itoa(v)
	if len(r.GrantedPlus) != 1 {
		t.Fatalf("got %v, want %v", len(r.GrantedPlus), 1)
	}
	if r.GrantedPlus[0] != 2 {
		t.Fatalf("got %v, want %v", r.GrantedPlus[0], 2)
	}
	if len(r.GrantedHash) != 1 {
		t.Fatalf("got %v, want %v", len(r.GrantedHash), 1)
	}
	if r.GrantedHash[0] != 2 {
		t.Fatalf("got %v, want %v", r.GrantedHash[0], 2)
	}
	if r.Acked != 9 {
		t.Fatalf("publishes completed: got %v, want %v", r.Acked, 9)
	}
	var wantPlus, wantHash []string
	for q := 0; q <= 2; q++ {
		qs := strconv.Itoa(q)
		wantPlus = append(wantPlus, pre+"/a/x q"+qs+":a/x q"+qs+" rfalse")
		wantHash = append(wantHash, pre+" q"+qs+": q"+qs+" rfalse",
			pre+"/a/x q"+qs+":a/x q"+qs+" rfalse", pre+"/b/y q"+qs+":b/y q"+qs+" rfalse")
	}
	sameStrings(t, msgKeys(r.Plus), wantPlus, "'+' subscription")
	sameStrings(t, msgKeys(r.Hash), wantHash, "'#' subscription (matches its parent level too)")
}

// checkJSSession: MQTT.js connects with a persistent session, goes away,
// and comes back: Session Present is 0 then 1, the QoS 1 messages
// published meanwhile arrive in order, and a clean connect drops the
// session and its subscription (v311 [MQTT-3.1.2-4] [MQTT-3.1.2-5]
// [MQTT-3.1.2-6] [MQTT-3.2.2-1] [MQTT-3.2.2-2] [MQTT-3.2.2-3]
// [MQTT-4.6.0-6]; v5 [MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.1.2-6]
// [MQTT-3.1.2-23] [MQTT-3.2.2-2] [MQTT-3.2.2-3] [MQTT-4.6.0-5]).
func checkJSSession(t *testing.T, v int, r *jsResult) {
	topic := "js/session/v" + strconv.Itoa(v)
	if r.FirstSessionPresent {
		t.Fatal("new session: Session Present must be 0")
	}
	if len(r.Granted) != 1 {
		t.Fatalf("got %v, want %v", len(r.Granted), 1)
	}
	if r.Granted[0] != 1 {
		t.Fatalf("got %v, want %v", r.Granted[0], 1)
	}
	// MQTT 3.1 has no Session Present: the byte is reserved, always 0.
	if r.ResumedSessionPresent != (v != 3) {
		t.Fatal("resumed session: Session Present", r.ResumedSessionPresent)
	}
	sameStrings(t, msgKeys(r.Queued), []string{
		topic + " queued0 q1 rfalse", topic + " queued1 q1 rfalse", topic + " queued2 q1 rfalse",
	}, "queued while offline")
	sameStrings(t, msgKeys(r.Live), []string{topic + " live q1 rfalse"}, "subscription kept")
	if r.CleanSessionPresent {
		t.Fatal("clean connect: Session Present must be 0")
	}
	if len(r.AfterClean) != 0 {
		t.Fatalf("the clean session must have no subscription: got %v, want %v", len(r.AfterClean), 0)
	}
}

// checkJSRetained: MQTT.js sets a retained message, gets it
// with RETAIN=1 on a new subscription, gets a live retained publish with
// RETAIN=0 through the existing one, then clears it with an empty payload
// (delivered normally) so that a later subscriber gets nothing (v311
// [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-9]
// [MQTT-3.3.1-10]; v5 [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-9]
// [MQTT-3.3.1-12]).
func checkJSRetained(t *testing.T, v int, r *jsResult) {
	topic := "js/retained/v" + strconv.Itoa(v) + "/a"
	sameStrings(t, msgKeys(r.First), []string{
		topic + " kept q1 rtrue", topic + " live q1 rfalse", topic + "  q1 rfalse",
	}, "first subscriber")
	if len(r.AfterClear) != 0 {
		t.Fatalf("retained message not cleared: got %v, want %v", len(r.AfterClear), 0)
	}
}

// checkJSWill: an MQTT.js client's socket is destroyed, and its will
// (with its v5 properties) is published, not retained; another client that
// sends DISCONNECT has its will dropped (v311 [MQTT-3.1.2-8]
// [MQTT-3.1.2-10] [MQTT-3.1.2-16]; v5 [MQTT-3.1.2-8] [MQTT-3.1.2-10]
// [MQTT-3.1.3-10]).
func checkJSWill(t *testing.T, v int, r *jsResult) {
	topic := "js/will/v" + strconv.Itoa(v) + "/dying"
	sameStrings(t, msgKeys(r.Wills), []string{topic + " gone q1 rfalse"}, "wills")
	if v == 5 {
		p := r.Wills[0].Props
		if p == nil {
			t.Fatal("will properties lost")
		}
		if p.ContentType != "text/plain" {
			t.Fatalf("got %v, want %v", p.ContentType, "text/plain")
		}
		if string(p.UserProperties) != `{"why":"abrupt","n":["1","2"]}` {
			t.Fatalf("will user properties, in order: got %v, want %v", string(p.UserProperties), `{"why":"abrupt","n":["1","2"]}`)
		}
	}
}

// checkJSSubscribeRefused: MQTT.js subscribes to a valid filter
// and two invalid shared ones in one SUBSCRIBE: one code per filter, in
// order, failures 0x80 (v311) or 0x8F Topic Filter invalid (v5), and the
// valid subscription works (v311 [MQTT-3.8.4-1] [MQTT-3.9.3-1]
// [MQTT-3.9.3-2]; v5 [MQTT-3.8.4-1] [MQTT-3.8.4-6] [MQTT-3.9.3-1]
// [MQTT-3.9.3-2] [MQTT-4.8.2-1] [MQTT-4.8.2-2]).
func checkJSSubscribeRefused(t *testing.T, v int, r *jsResult) {
	fail := 0x80
	if v == 5 {
		fail = 0x8F
	}
	if !slices.Equal(r.Granted, []int{1, fail, fail}) {
		t.Fatal("SUBACK codes", r.Granted)
	}
	sameStrings(t, msgKeys(r.After), []string{"js/subrefused/v" + strconv.Itoa(v) + "/ok still-up q1 rfalse"})
}

// checkJSShared: two MQTT.js members of $share/g1 split ten
// QoS 1 messages (each exactly once, both used) while a plain subscriber
// gets all ten in order (v311 [MQTT-4.6.0-6], v5 [MQTT-4.6.0-6]). Gust
// treats $share/ filters as shared in 3.1.1 too, like Mosquitto.
func checkJSShared(t *testing.T, v int, r *jsResult) {
	if !slices.Equal(r.Granted, []int{1, 1, 1}) {
		t.Fatal("SUBACK codes", r.Granted)
	}
	var want []string
	for i := 0; i < 10; i++ {
		want = append(want, "m0"+strconv.Itoa(i))
	}
	sameStrings(t, r.All, want, "plain subscriber")
	if !(len(r.M1) > 0 && len(r.M2) > 0) {
		t.Fatal("a member got nothing", r.M1, r.M2)
	}
	split := slices.Concat(r.M1, r.M2)
	slices.Sort(split)
	sameStrings(t, split, want, "members together")
}

// checkJSProperties: MQTT.js runs a request/response, and the broker
// forwards the Response Topic, Correlation Data, User Properties (order
// kept, a repeated name too), Content Type, Payload Format Indicator and
// the Message Expiry Interval unchanged both ways (v5 [MQTT-3.3.2-4]
// [MQTT-3.3.2-6] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17]
// [MQTT-3.3.2-18] [MQTT-3.3.2-20]).
func checkJSProperties(t *testing.T, _ int, r *jsResult) {
	if !(r.Request != nil && r.Request.Props != nil) {
		t.Fatal("request lost or without properties")
	}
	p := r.Request.Props
	if r.Request.Payload != `{"q":1}` {
		t.Fatalf("got %v, want %v", r.Request.Payload, `{"q":1}`)
	}
	if !p.PayloadFormatIndicator {
		t.Fatal("payload format indicator lost")
	}
	if !(p.MessageExpiryInterval > 0 && p.MessageExpiryInterval <= 60) {
		t.Fatal("message expiry", p.MessageExpiryInterval)
	}
	if p.ContentType != "application/json" {
		t.Fatalf("got %v, want %v", p.ContentType, "application/json")
	}
	if p.ResponseTopic != "js/props/resp" {
		t.Fatalf("got %v, want %v", p.ResponseTopic, "js/props/resp")
	}
	if p.CorrelationData != "corr-42" {
		t.Fatalf("got %v, want %v", p.CorrelationData, "corr-42")
	}
	if string(p.UserProperties) != `{"a":"1","b":["x","y"]}` {
		t.Fatalf("got %v, want %v", string(p.UserProperties), `{"a":"1","b":["x","y"]}`)
	}

	if !(r.Response != nil && r.Response.Props != nil) {
		t.Fatal("response lost or without properties")
	}
	p = r.Response.Props
	if r.Response.Payload != `re:{"q":1}` {
		t.Fatalf("got %v, want %v", r.Response.Payload, `re:{"q":1}`)
	}
	if p.CorrelationData != "corr-42" {
		t.Fatalf("got %v, want %v", p.CorrelationData, "corr-42")
	}
	if p.ContentType != "application/json" {
		t.Fatalf("got %v, want %v", p.ContentType, "application/json")
	}
	if string(p.UserProperties) != `{"echo":"yes"}` {
		t.Fatalf("got %v, want %v", string(p.UserProperties), `{"echo":"yes"}`)
	}
	if !(!p.PayloadFormatIndicator && p.MessageExpiryInterval == 0) {
		t.Fatal("properties the responder did not set")
	}
}

// checkJSExpiry: two QoS 1 messages are queued for an offline MQTT.js
// session, with a 1 s and a 100 s expiry, and the client reconnects 2.2 s
// later: only the second arrives, its interval lowered by the wait (v5 [MQTT-3.3.2-5]
// [MQTT-3.3.2-6]).
func checkJSExpiry(t *testing.T, _ int, r *jsResult) {
	sameStrings(t, msgKeys(r.Received), []string{"js/expiry long q1 rfalse"})
	e := r.Received[0].Props
	if !(e != nil && e.MessageExpiryInterval >= 90 && e.MessageExpiryInterval <= 98) {
		t.Fatal("expiry interval after 2.2 s offline", e)
	}
}

// checkJSTopicAlias: MQTT.js publishes with Topic Aliases, set
// explicitly then reused by autoUseTopicAlias, and assigned by
// autoAssignTopicAlias, within the CONNACK maximum; a subscriber with a
// Topic Alias Maximum of 5 gets aliases from the broker and every message
// resolves to its topic (v5 [MQTT-3.3.2-8] [MQTT-3.3.2-11]
// [MQTT-3.3.2-12]).
func checkJSTopicAlias(t *testing.T, _ int, r *jsResult) {
	if want := DefaultConfig().TopicAliasMaximum; r.ConnackAliasMax != want {
		t.Fatalf("CONNACK Topic Alias Maximum: got %v, want %v", r.ConnackAliasMax, want)
	}
	use, assign := "js/alias/use", "js/alias/assign"
	want := func(topic string, n int) []jsAlias {
		w := []jsAlias{{Topic: topic, Alias: 1}}
		for range n - 1 {
			w = append(w, jsAlias{Alias: 1})
		}
		return w
	}
	if !slices.Equal(r.SentUse, want(use, 4)) {
		t.Fatal("autoUseTopicAlias sent", r.SentUse)
	}
	if !slices.Equal(r.SentAssign, want(assign, 3)) {
		t.Fatal("autoAssignTopicAlias sent", r.SentAssign)
	}

	seen := map[int]string{}
	for _, p := range r.AliasReceived {
		if !(p.Alias >= 1 && p.Alias <= 5) {
			t.Fatal("broker alias outside 1..5", p)
		}
		if p.Topic != "" {
			seen[p.Alias] = p.Topic
		}
		if seen[p.Alias] == "" {
			t.Fatal("alias used before its topic was sent", p)
		}
	}
	if !(len(r.AliasReceived) == 7 && len(seen) == 2) {
		t.Fatal("broker aliases", r.AliasReceived)
	}
	var got []string
	for _, m := range r.Messages {
		got = append(got, m.Topic+" "+m.Payload)
	}
	slices.Sort(got)
	sameStrings(t, got, []string{
		assign + " a0", assign + " a1", assign + " a2", use + " u0", use + " u1", use + " u2", use + " u3",
	}, "messages after alias resolution")
}

// checkJSAuth: MQTT.js connects to a broker with a password file and
// anonymous clients refused: a wrong password gets 4 (v311) or 0x86
// (v5), no user name 5 or 0x87, the right password 0 with Session Present
// 0 (v311 [MQTT-3.1.4-4] [MQTT-3.2.2-1]; v5 [MQTT-3.1.4-2] [MQTT-3.1.4-5]
// [MQTT-3.2.2-2]).
func checkJSAuth(t *testing.T, v int, r *jsResult) {
	bad, anon := 4, 5
	if v == 5 {
		bad, anon = 0x86, 0x87
	}
	if r.BadPassword != bad {
		t.Fatalf("wrong password: got %v, want %v", r.BadPassword, bad)
	}
	if r.Anonymous != anon {
		t.Fatalf("no user name: got %v, want %v", r.Anonymous, anon)
	}
	if r.Good != 0 {
		t.Fatalf("right password: got %v, want %v", r.Good, 0)
	}
	if r.GoodSessionPresent {
		t.Fatal("Session Present on a new session")
	}
}

// checkJSKeepAlive: an idle MQTT.js client with Keep Alive 2 s sends
// PINGREQs, gets PINGRESPs and stays connected for 3.3 s; the broker sends
// no Server Keep Alive, as it honours 2 s (v311 [MQTT-3.12.4-1]; v5
// [MQTT-3.12.4-1] [MQTT-3.2.2-22]).
func checkJSKeepAlive(t *testing.T, _ int, r *jsResult) {
	if r.ServerKeepAlive != 0 {
		t.Fatalf("Server Keep Alive: got %v, want %v", r.ServerKeepAlive, 0)
	}
	if r.Pingresps < 1 {
		t.Fatal("PINGRESPs", r.Pingresps)
	}
	if !r.Connected {
		t.Fatal("idle client with keep alive was disconnected")
	}
}

// checkJSTakeover: a second MQTT.js connection with the same client id
// closes the first, which in v5 gets DISCONNECT 0x8E Session taken over
// first (v311 [MQTT-3.1.4-2]; v5 [MQTT-3.1.4-3]).
func checkJSTakeover(t *testing.T, v int, r *jsResult) {
	if !r.FirstClosed {
		t.Fatal("first connection not closed")
	}
	if !r.SecondConnected {
		t.Fatal("second connection not connected")
	}
	if v == 5 {
		if r.FirstDisconnect != 0x8E {
			t.Fatalf("DISCONNECT reason: got %v, want %v", r.FirstDisconnect, 0x8E)
		}
	} else {
		if r.FirstDisconnect != -1 {
			t.Fatalf("a 3.1.1 client got a DISCONNECT: got %v, want %v", r.FirstDisconnect, -1)
		}
	}
}

// checkJSUnsubscribe: MQTT.js unsubscribes from a held filter and an
// unknown one in one UNSUBSCRIBE; the v5 UNSUBACK says 0x00 and 0x11 No
// subscription existed, in order, and only the removed filter's messages
// stop (v311 [MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4]
// [MQTT-3.10.4-5] [MQTT-3.10.4-6]; v5 [MQTT-3.10.4-1] [MQTT-3.10.4-2]
// [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.10.4-6] [MQTT-3.11.3-1]
// [MQTT-3.11.3-2]).
func checkJSUnsubscribe(t *testing.T, v int, r *jsResult) {
	if v == 5 {
		if !slices.Equal(r.Unsuback, []int{0x00, 0x11}) {
			t.Fatal("UNSUBACK codes", r.Unsuback)
		}
	} else {
		if len(r.Unsuback) != 0 {
			t.Fatalf("3.1.1 UNSUBACK has no codes: got %v, want %v", len(r.Unsuback), 0)
		}
	}
	sameStrings(t, msgKeys(r.After), []string{"js/unsub/v" + strconv.Itoa(v) + "/b kept q1 rfalse"})
}

// checkJSLarge: 200 kB at QoS 0 and 300 kB at QoS 1 from MQTT.js arrive
// intact (scenarios.js compares the bytes) through packets split over
// many reads.
func checkJSLarge(t *testing.T, _ int, r *jsResult) {
	if r.Sizes["q0"] != 200000 {
		t.Fatalf("QoS 0 payload size: got %v, want %v", r.Sizes["q0"], 200000)
	}
	if r.Sizes["q1"] != 300000 {
		t.Fatalf("QoS 1 payload size: got %v, want %v", r.Sizes["q1"], 300000)
	}
}

// checkJSSubscriptionOptions: MQTT.js subscription options: No Local
// drops the client's own message, Retain As Published keeps RETAIN=1 on
// live messages, Retain Handling 2 sends no retained message at subscribe
// time, and a Subscription Identifier comes back on the PUBLISH (v5
// [MQTT-3.8.3-3] [MQTT-3.3.1-13] [MQTT-3.3.1-11] [MQTT-3.3.4-3]).
func checkJSSubscriptionOptions(t *testing.T, _ int, r *jsResult) {
	sameStrings(t, msgKeys(r.NL), []string{"js/subopts/nl other q1 rfalse"}, "No Local")
	sameStrings(t, msgKeys(r.RAP), []string{"js/subopts/r kept q1 rtrue", "js/subopts/r live q1 rtrue"}, "Retain As Published")
	sameStrings(t, msgKeys(r.RH2), []string{"js/subopts/r live q1 rfalse"}, "Retain Handling 2")
	sameStrings(t, msgKeys(r.ID), []string{"js/subopts/id tagged q1 rfalse"}, "Subscription Identifier")
	if r.ID[0].Props == nil {
		t.Fatal("no properties on the PUBLISH")
	}
	if string(r.ID[0].Props.SubscriptionIdentifier) != "7" {
		t.Fatalf("Subscription Identifier: got %v, want %v", string(r.ID[0].Props.SubscriptionIdentifier), "7")
	}
}

// checkJSMaxPacket: an MQTT.js client with Maximum Packet Size 200 is not
// sent a 1000-byte message, stays connected and gets the next small one
// (v5 [MQTT-3.1.2-24] [MQTT-3.1.2-25]).
func checkJSMaxPacket(t *testing.T, _ int, r *jsResult) {
	sameStrings(t, msgKeys(r.Received), []string{"js/maxpacket fits q1 rfalse"})
	if !r.Connected {
		t.Fatal("client disconnected")
	}
}

// checkJSEmptyID: MQTT.js connects with an empty client id and a clean
// session: accepted, with an Assigned Client Identifier in v5; its
// PUBLISH to a topic with a wildcard then closes the connection, after
// DISCONNECT 0x90 Topic Name invalid in v5 (v311 [MQTT-3.1.3-6]
// [MQTT-3.3.2-2] [MQTT-4.8.0-1]; v5 [MQTT-3.1.3-6] [MQTT-3.1.3-7]
// [MQTT-3.3.2-2] [MQTT-4.13.1-1]).
func checkJSEmptyID(t *testing.T, v int, r *jsResult) {
	if !r.Closed {
		t.Fatal("connection not closed after a wildcard topic name")
	}
	if v == 5 {
		if r.Assigned == "" {
			t.Fatal("no Assigned Client Identifier")
		}
		if r.Disconnect != 0x90 {
			t.Fatalf("DISCONNECT reason: got %v, want %v", r.Disconnect, 0x90)
		}
	} else {
		if r.Disconnect != -1 {
			t.Fatalf("a 3.1.1 client got a DISCONNECT: got %v, want %v", r.Disconnect, -1)
		}
	}
}

// checkJSWillDelay: a v5 will with a 1 s Will Delay Interval is published
// about 1 s after its client's socket closes; one with 5 s is dropped
// because its client reconnected within 300 ms (v5 [MQTT-3.1.2-8]
// [MQTT-3.1.3-9]).
func checkJSWillDelay(t *testing.T, _ int, r *jsResult) {
	sameStrings(t, msgKeys(r.Wills), []string{"js/willdelay/a a q1 rfalse"}, "wills")
	if r.DelayMs < 900 {
		t.Fatal("will published before its delay", r.DelayMs)
	}
}
