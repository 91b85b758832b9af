package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// chromiumBin is Debian's headless-capable Chromium (.ci/run installs it).
const chromiumBin = "chromium"

// cdp is a Chrome DevTools Protocol session with one page.
type cdp struct {
	t    *testing.T
	ws   *websocket.Conn
	mu   sync.Mutex
	next int
}

// call sends method with params and returns the result, bounded by 20 s.
func (c *cdp) call(method string, params any) json.RawMessage {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id := c.next
	if err := c.ws.WriteJSON(map[string]any{"id": id, "method": method, "params": params}); err != nil {
		c.t.Fatalf("cdp %s: %v", method, err)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := c.ws.ReadJSON(&m); err != nil {
			c.t.Fatalf("cdp %s: %v", method, err)
		}
		if m.ID != id {
			continue // an event
		}
		if m.Error != nil {
			c.t.Fatalf("cdp %s: %s", method, m.Error.Message)
		}
		return m.Result
	}
}

// eval runs a JavaScript expression in the page and returns its value as
// JSON text (awaiting a promise).
func (c *cdp) eval(expr string) string {
	c.t.Helper()
	res := c.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		c.t.Fatal(err)
	}
	if r.ExceptionDetails != nil {
		c.t.Fatalf("eval %s: %s", expr, r.ExceptionDetails.Text)
	}
	return string(r.Result.Value)
}

// startChromium runs headless Chromium with remote debugging and returns
// a DevTools session on its page. It skips when Chromium is missing,
// unless CI=true.
func startChromium(t *testing.T) *cdp {
	t.Helper()
	bin, err := exec.LookPath(chromiumBin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed")
		}
		t.Skip("chromium is not installed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-extensions", "--remote-debugging-port=0", "--remote-allow-origins=*",
		"--user-data-dir="+t.TempDir(), "--window-size=1400,1000", "about:blank")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reapGroup(t, cmd)
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`DevTools listening on ws://([^/]+)/`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	var hostPort string
	select {
	case hp, ok := <-found:
		if !ok {
			t.Fatal("chromium exited without a DevTools address")
		}
		hostPort = hp
	case <-time.After(30 * time.Second):
		t.Fatal("chromium gave no DevTools address in 30 s")
	}
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, err := httpGet("http://" + hostPort + "/json/list")
		if err == nil && code == http.StatusOK {
			_ = json.Unmarshal([]byte(body), &targets)
		}
		if len(targets) > 0 && targets[0].Type == "page" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(targets) == 0 {
		t.Fatal("no page target in chromium")
	}
	ws, resp, err := websocket.DefaultDialer.Dial(targets[0].WS, nil)
	if err != nil {
		t.Fatalf("devtools websocket: %v", err)
	}
	if resp != nil && resp.Body != nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	t.Cleanup(func() { _ = ws.Close() })
	return &cdp{t: t, ws: ws}
}

// TestDashboardChromium opens the dashboard in headless Chromium while a
// load runs: the numbers on the page move and agree with /metrics, a
// search finds a client and its Kick button disconnects it, and a
// screenshot is saved in the test's artefacts (go test -artifacts).
func TestDashboardChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	page := startChromium(t)
	g := serveGust(t, "--http-token", "s3cret")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	run := func(args ...string) {
		cmd := exec.CommandContext(ctx, gustBinary(t), append([]string{"load", "-addr", g.mqtt, "-quiet"}, args...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	}
	run("-pubs", "3", "-subs", "2", "-rate", "300", "-duration", "60s", "-client-prefix", "dash")
	run("-mode", "conn", "-conns", "4", "-duration", "60s", "-client-prefix", "victim")
	metric := func(name string) float64 {
		req, _ := http.NewRequest("GET", g.http+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sum := 0.0
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
				f := strings.Fields(line)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				sum += v
			}
		}
		return sum
	}
	waitUntil := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitUntil("9 clients connected", 20*time.Second, func() bool { return metric("gust_connections") == 9 })

	page.call("Page.enable", map[string]any{})
	page.call("Page.navigate", map[string]any{"url": g.http + "/?token=s3cret"})
	num := func(key string) float64 {
		v, _ := strconv.ParseFloat(strings.Trim(page.eval("document.body ? (document.body.dataset."+key+" || '-1') : '-1'"), `"`), 64)
		return v
	}
	waitUntil("the page shows 9 connected", 20*time.Second, func() bool { return num("connected") == 9 })

	// The counters on the page move, and lie between two scrapes of
	// /metrics taken around them.
	first := num("publish_received")
	waitUntil("the page's message count moves", 20*time.Second, func() bool { return num("publish_received") > first })
	for i := 0; i < 3; i++ {
		before := metric("gust_publish_received_total")
		time.Sleep(1100 * time.Millisecond) // the page polls every second
		onPage := num("publish_received")
		after := metric("gust_publish_received_total")
		if onPage < before || onPage > after {
			t.Errorf("page shows %v messages received, /metrics %v then %v", onPage, before, after)
		}
	}
	rate := page.eval(`document.getElementById("m-in-rate").textContent`)
	if r, err := strconv.ParseFloat(strings.Fields(strings.Trim(rate, `"`))[0], 64); err != nil || r < 300 {
		t.Errorf("rate in shown as %s with 3 publishers at 300/s", rate)
	}

	// Search, then kick.
	page.eval(`(() => { const q = document.getElementById("q"); q.value = "victim-c2"; q.dispatchEvent(new Event("input")); return 1 })()`)
	waitUntil("the search lists victim-c2 alone", 10*time.Second, func() bool {
		return page.eval(`[...document.querySelectorAll("#rows td.id")].map(td => td.textContent).join(",")`) == `"victim-c2"`
	})
	shot(t, page, "dashboard-search.png")
	page.eval(`document.querySelector('button.kick[data-id="victim-c2"]').click(), 1`)
	waitUntil("the kick is counted", 10*time.Second, func() bool { return metric("gust_clients_kicked_total") == 1 })
	waitUntil("the toast", 5*time.Second, func() bool {
		return strings.Contains(page.eval(`document.getElementById("toast").textContent`), "Kicked victim-c2")
	})
	code, _, err := httpGet(g.http + "/api/v1/client?id=victim-c2&token=s3cret")
	if err != nil || code != http.StatusNotFound {
		t.Errorf("victim-c2 after the kick: %d %v (want 404: its clean session ended)", code, err)
	}
	// A full view with the charts filled for the artefact.
	page.eval(`(() => { const q = document.getElementById("q"); q.value = ""; q.dispatchEvent(new Event("input")); return 1 })()`)
	time.Sleep(3 * time.Second)
	shot(t, page, "dashboard.png")
}

// shot saves a PNG of the page in the test's artefact directory.
func shot(t *testing.T, page *cdp, name string) {
	t.Helper()
	res := page.call("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true})
	var r struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Log("screenshot: " + path + fmt.Sprintf(" (%d bytes)", len(png)))
}

// ownGroup makes cmd, not yet started, the leader of a process group, so
// that reapGroup can end Chromium's helper processes too.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// reapGroup kills the process group of the started cmd and waits until
// no process of it is left: Chromium's helpers write into the profile
// directory, which t.TempDir removes after this cleanup.
func reapGroup(t *testing.T, cmd *exec.Cmd) {
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if syscall.Kill(-pgid, 0) == syscall.ESRCH {
				return
			}
		}
		t.Logf("chromium process group %d still has processes after 10 s", pgid)
	})
}
