package engine

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// onePixelPNG is a 1x1 transparent PNG.
var onePixelPNG, _ = base64.StdEncoding.DecodeString(
	"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")

// chromium returns the path of Chromium, skipping the test (failing when
// CI=true) without it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed (apt-get install chromium)")
	}
	t.Skip("chromium not installed (apt-get install chromium enables the browser test)")
	return ""
}

// TestInteropChromiumWebSocket: headless Chromium loads a page (served
// here, with MQTT.js's browser bundle) that connects through the
// browser's WebSocket to Gust, subscribes, publishes, and echoes what it
// receives; a paho client over TCP sees the page's messages and the echo
// of a 10 kB payload (compressed: Chromium negotiates permessage-deflate).
// The screenshot of the page is an artefact: go test -artifacts keeps it.
func TestInteropChromiumWebSocket(t *testing.T) {
	browser := chromium(t)
	mqttjsNode(t) // the bundle comes from the MQTT.js install
	bundle := filepath.Join(mqttjsDir, "node_modules", "mqtt", "dist", "mqtt.min.js")
	w := startWSBroker(t, nil)

	out, echo := newCollector(), newCollector()
	tcp := pahoClient(t, w.b, "watcher", func(o *mqtt.ClientOptions) {
		o.Servers = nil
		o.AddBroker("tcp://" + w.tcp)
	})
	subscribe(t, tcp, "browser/out", 1, out)
	subscribe(t, tcp, "browser/echo", 1, echo)

	done := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		http.ServeFile(rw, r, "testdata/browser/ws.html")
	})
	mux.HandleFunc("/mqtt.min.js", func(rw http.ResponseWriter, r *http.Request) { http.ServeFile(rw, r, bundle) })
	mux.HandleFunc("/done.png", func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
		case <-r.Context().Done():
		}
		rw.Header().Set("Content-Type", "image/png")
		_, _ = rw.Write(onePixelPNG)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	shot := filepath.Join(t.ArtifactDir(), "chromium-websocket.png")
	page := "http://" + ln.Addr().String() + "/?broker=ws://" + w.ws + "/mqtt"
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--window-size=900,400", "--screenshot="+shot, page)
	var logb syncBuffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	cmd.WaitDelay = 2 * time.Second
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reapGroup(t, cmd)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if got := string(out.wait(t, 1, 20*time.Second)[0].Payload()); got != "ready" {
		t.Fatalf("page published %q, want ready", got)
	}
	payload := strings.Repeat("from Go through Gust to Chromium and back. ", 250)
	publish(t, tcp, "browser/in", 1, false, "hello browser")
	publish(t, tcp, "browser/in", 1, false, payload)
	msgs := echo.wait(t, 2, 10*time.Second)
	if string(msgs[0].Payload()) != "hello browser" || string(msgs[1].Payload()) != payload {
		t.Fatalf("echo: %q, %d bytes", msgs[0].Payload(), len(msgs[1].Payload()))
	}
	close(done)
	if err := <-exited; err != nil {
		t.Fatalf("chromium: %v\n%s", err, logb.String())
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot: %v\n%s", err, logb.String())
	}
	st := w.b.Stats()
	if st.WSUpgrades != 1 || st.WSDeflated != 1 {
		t.Fatalf("upgrades %d, with deflate %d: want 1 and 1", st.WSUpgrades, st.WSDeflated)
	}
	t.Log("screenshot:", shot)
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
