package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/engine/ops"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "gust.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeConfigPrecedence(t *testing.T) {
	p := writeFile(t, "listen = \"127.0.0.1:2883\"\nmax_inflight = 50\nsys_interval = \"3s\"\n")
	cfg, err := loadServeConfig([]string{"--config", p, "--max-inflight", "7"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:2883" {
		t.Errorf("listen = %q, want the file's value", cfg.Listen)
	}
	if cfg.MaxInflight != 7 {
		t.Errorf("max_inflight = %d, want the flag's 7 over the file's 50", cfg.MaxInflight)
	}
	if cfg.SysInterval != 3*time.Second {
		t.Errorf("sys_interval = %v, want 3s", cfg.SysInterval)
	}
}

// TestServeMemoryLimit: sizes are accepted with units, as plain integers
// and as auto, in the file and as a flag.
func TestServeMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want engine.ByteSize
	}{
		{args: nil, want: engine.MemoryLimitAuto},
		{args: []string{"--memory-limit", "512MiB"}, want: 512 << 20},
		{args: []string{"--memory-limit", "0"}, want: 0},
		{args: []string{"--config", writeFile(t, "memory_limit = \"1GiB\"\n")}, want: 1 << 30},
		{args: []string{"--config", writeFile(t, "memory_limit = 2097152\n")}, want: 2 << 20},
		{args: []string{"--config", writeFile(t, "memory_limit = \"1GiB\"\n"), "--memory-limit", "auto"}, want: engine.MemoryLimitAuto},
	} {
		cfg, err := loadServeConfig(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if cfg.MemoryLimit != tc.want {
			t.Errorf("%v: memory_limit = %v, want %v", tc.args, cfg.MemoryLimit, tc.want)
		}
	}
}

func TestServeConfigDefaults(t *testing.T) {
	cfg, err := loadServeConfig(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:1883" {
		t.Errorf("default listen = %q, want 127.0.0.1:1883 (loopback only)", cfg.Listen)
	}
	if cfg.Store != engine.StoreDisk || cfg.DataDir != "gust-data" || cfg.Fsync != "always" {
		t.Errorf("default store %q in %q, fsync %q; want disk in gust-data, always", cfg.Store, cfg.DataDir, cfg.Fsync)
	}
}

// Bad input at start-up stops it with a message naming the problem.
func TestServeConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		args func(t *testing.T) []string
		want string
	}{
		{name: "unknown flag", args: func(*testing.T) []string { return []string{"--no-such-flag"} }, want: "no-such-flag"},
		{name: "bad flag value", args: func(*testing.T) []string { return []string{"--max-inflight", "many"} }, want: "max-inflight"},
		{name: "invalid value", args: func(*testing.T) []string { return []string{"--max-inflight", "0"} }, want: "max_inflight"},
		{name: "bad listen", args: func(*testing.T) []string { return []string{"--listen", "nohostport"} }, want: "listen"},
		{name: "missing file", args: func(*testing.T) []string { return []string{"--config", "/nonexistent/gust.toml"} }, want: "/nonexistent/gust.toml"},
		{name: "unknown key", args: func(t *testing.T) []string { return []string{"--config", writeFile(t, "max_inflght = 3\n")} }, want: "max_inflght"},
		{name: "bad toml", args: func(t *testing.T) []string { return []string{"--config", writeFile(t, "listen = \n")} }, want: "gust.toml"},
		{name: "wrong type", args: func(t *testing.T) []string { return []string{"--config", writeFile(t, "loops = \"two\"\n")} }, want: "loops"},
		{name: "stray argument", args: func(*testing.T) []string { return []string{"extra"} }, want: "extra"},
		{name: "bad size flag", args: func(*testing.T) []string { return []string{"--memory-limit", "lots"} }, want: "memory-limit"},
		{name: "bad size in file", args: func(t *testing.T) []string { return []string{"--config", writeFile(t, "memory_limit = \"1GB\"\n")} }, want: "memory_limit"},
		{name: "partial under packet", args: func(*testing.T) []string { return []string{"--max-partial-bytes", "1000"} }, want: "max_partial_bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadServeConfig(tc.args(t), io.Discard)
			if err == nil {
				t.Fatal("accepted bad input")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

// Every setting of the TOML file has a flag of the same name (with '-' for
// '_'), so the README's rule for writing a config file holds.
func TestServeFlagsCoverConfig(t *testing.T) {
	cfg := engine.DefaultConfig()
	fs := newServeFlags(&cfg, new(ops.Config), io.Discard)
	typ := reflect.TypeOf(cfg)
	for i := range typ.NumField() {
		key := typ.Field(i).Tag.Get("toml")
		if key == "" || key == "-" || key == listenerTable { // [[listener]] blocks: readListenerBlocks
			continue
		}
		if fs.Lookup(strings.ReplaceAll(key, "_", "-")) == nil {
			t.Errorf("config key %q has no flag --%s", key, strings.ReplaceAll(key, "_", "-"))
		}
	}
}

// TestServePasswordFile: --password-file (toml password_file) is loaded at
// start-up; a bad file stops it naming the file and line; anonymous
// clients are refused unless allow_anonymous is given explicitly.
func TestServePasswordFile(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users")
	if err := passwd([]string{"-c", "--password", "pw", users, "alice"}, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     func(t *testing.T) []string
		wantAnon bool
	}{
		{name: "flag", args: func(*testing.T) []string { return []string{"--password-file", users} }},
		{name: "file", args: func(t *testing.T) []string {
			return []string{"--config", writeFile(t, "password_file = \""+users+"\"\n")}
		}},
		{name: "explicit flag", wantAnon: true, args: func(*testing.T) []string {
			return []string{"--password-file", users, "--allow-anonymous"}
		}},
		{name: "explicit in file", wantAnon: true, args: func(t *testing.T) []string {
			return []string{"--config", writeFile(t, "allow_anonymous = true\npassword_file = \""+users+"\"\n")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadServeConfig(tc.args(t), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.PasswordFile != users || cfg.AllowAnonymous != tc.wantAnon {
				t.Errorf("password_file %q allow_anonymous %v, want %q %v", cfg.PasswordFile, cfg.AllowAnonymous, users, tc.wantAnon)
			}
			if _, err := engine.New(cfg); err != nil {
				t.Errorf("engine.New: %v", err)
			}
		})
	}
	cfg, err := loadServeConfig(nil, io.Discard)
	if err != nil || !cfg.AllowAnonymous {
		t.Errorf("without a password file anonymous clients are allowed: %v %v", cfg.AllowAnonymous, err)
	}

	bad := writeFile(t, "# users\nalice:SCRAM-SHA-256$4096:c2FsdA==$YQ==:YQ==\n")
	for _, tc := range []struct{ name, path, want string }{
		{"malformed line", bad, bad + ":2:"},
		{"missing file", "/nonexistent/users", "/nonexistent/users"},
	} {
		_, err := loadServeConfig([]string{"--password-file", tc.path}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v does not name %q", tc.name, err, tc.want)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// connackCode logs user/pass in with MQTT 3.1.1 and returns the CONNACK
// return code.
func connackCode(t *testing.T, addr net.Addr, user, pass string) byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Write(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
		CleanStart: true, ClientID: []byte("reload-" + user), UsernameFlag: true, Username: []byte(user),
		PasswordFlag: true, Password: []byte(pass)}))
	if err != nil {
		t.Fatal(err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil || ack[0] != 0x20 {
		t.Fatalf("no CONNACK: % x %v", ack, err)
	}
	return ack[3]
}

// TestServeSIGHUPReloadsPasswordFile: SIGHUP reloads the password file
// (a changed password works at once, the old one no longer); a bad file
// on reload keeps the old users and is logged naming the file and line;
// SIGTERM still ends the wait.
func TestServeSIGHUPReloadsPasswordFile(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users")
	if err := passwd([]string{"-c", "--password", "pw", users, "alice"}, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadServeConfig([]string{"--password-file", users, "--listen", "127.0.0.1:0", "--sys-interval", "0",
		"--data-dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	b, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	sig := make(chan os.Signal) // unbuffered: a send returns once the previous reload is done
	done := make(chan struct{})
	go func() { waitSignals(b, sig, nil, ""); close(done) }()

	if rc := connackCode(t, b.Addr(), "alice", "pw"); rc != 0 {
		t.Fatalf("alice refused before reload: %d", rc)
	}
	if err := passwd([]string{"--password", "pw2", users, "alice"}, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	if rc := connackCode(t, b.Addr(), "alice", "pw2"); rc != codec.ConnackBadUsernameOrPassword {
		t.Fatalf("new password accepted before SIGHUP: %d", rc)
	}
	sig <- syscall.SIGHUP
	sig <- syscall.SIGHUP // returns once the first reload is done
	if rc := connackCode(t, b.Addr(), "alice", "pw2"); rc != 0 {
		t.Fatalf("new password refused after SIGHUP: %d\n%s", rc, logs.String())
	}
	if rc := connackCode(t, b.Addr(), "alice", "pw"); rc != codec.ConnackBadUsernameOrPassword {
		t.Fatalf("old password accepted after SIGHUP: %d", rc)
	}

	if err := os.WriteFile(users, []byte("# users\nalice:not-a-credential\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sig <- syscall.SIGHUP
	sig <- syscall.SIGTERM
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not end waitSignals")
	}
	if l := logs.String(); !strings.Contains(l, "password file not reloaded") || !strings.Contains(l, users+":2:") {
		t.Errorf("bad file not logged with its line:\n%s", l)
	}
	if rc := connackCode(t, b.Addr(), "alice", "pw2"); rc != 0 {
		t.Fatalf("old users lost after a bad reload: %d", rc)
	}
}

// TestServeSIGHUPProcess runs `gust serve` in a child process (this test
// binary, re-executed) and sends it real signals: SIGHUP reloads the
// password file, SIGTERM stops it with exit code 0.
func TestServeSIGHUPProcess(t *testing.T) {
	if args := os.Getenv("GUST_TEST_SERVE_ARGS"); args != "" {
		os.Exit(runServe(strings.Split(args, "\n"))) // the child
	}
	users := filepath.Join(t.TempDir(), "users")
	if err := passwd([]string{"-c", "--password", "pw", users, "alice"}, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr()
	_ = l.Close() // free for the child; a clash only fails this test
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeSIGHUPProcess$")
	cmd.Env = append(os.Environ(), "GUST_TEST_SERVE_ARGS="+strings.Join([]string{
		"--listen", addr.String(), "--password-file", users, "--sys-interval", "0", "--data-dir", t.TempDir()}, "\n"))
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	waitFor(t, "the child listening", func() bool {
		c, err := net.Dial("tcp", addr.String())
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	if rc := connackCode(t, addr, "alice", "pw"); rc != 0 {
		t.Fatalf("alice refused: %d\n%s", rc, stderr.String())
	}
	if err := passwd([]string{"--password", "pw2", users, "alice"}, nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reload", func() bool { return strings.Contains(stderr.String(), "password file reloaded") })
	if rc := connackCode(t, addr, "alice", "pw2"); rc != 0 {
		t.Fatalf("new password refused after SIGHUP: %d\n%s", rc, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// waitFor polls cond every 20 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestServeACLFile: --acl-file and acl_file load the ACL; a bad file stops
// start-up naming the file and line; SIGHUP reloads it, a bad one being
// logged with its line while the previous rules stay.
func TestServeACLFile(t *testing.T) {
	acl := writeFile(t, "topic read a/#\n")
	for _, args := range [][]string{
		{"--acl-file", acl},
		{"--config", writeFile(t, fmt.Sprintf("acl_file = %q\n", acl))},
	} {
		cfg, err := loadServeConfig(args, io.Discard)
		if err != nil || cfg.ACLFile != acl {
			t.Fatalf("%v: acl file %q, %v", args, cfg.ACLFile, err)
		}
	}
	bad := writeFile(t, "topic read a\n\nuser\n")
	if _, err := loadServeConfig([]string{"--acl-file", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), bad+":3:") {
		t.Fatalf("bad acl file: %v", err)
	}

	cfg, err := loadServeConfig([]string{"--acl-file", acl, "--listen", "127.0.0.1:0", "--sys-interval", "0",
		"--data-dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	b, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Shutdown(ctx)
	})
	sig := make(chan os.Signal) // unbuffered: a send returns once the previous reload is done
	done := make(chan struct{})
	go func() { waitSignals(b, sig, nil, ""); close(done) }()
	if err := os.WriteFile(acl, []byte("topic read a/#\ntopic sometimes a b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sig <- syscall.SIGHUP
	sig <- syscall.SIGHUP // returns once the first reload is done
	if err := os.WriteFile(acl, []byte("topic read a/#\ntopic read b/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sig <- syscall.SIGHUP
	sig <- syscall.SIGTERM
	<-done
	l := logs.String()
	if !strings.Contains(l, "acl file not reloaded") || !strings.Contains(l, acl+":2:") {
		t.Errorf("bad acl file not logged with its line:\n%s", l)
	}
	if !strings.Contains(l, "rules=2") {
		t.Errorf("good acl file not reloaded:\n%s", l)
	}
}

// serveProcess is a `gust serve` child process of the built binary, its
// standard error kept.
type serveProcess struct {
	addr   string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan error
}

// startServe runs the built gust binary as `gust serve` on a free loopback
// port with args added, and waits until it accepts connections; it is
// killed at the end of the test.
func startServe(t *testing.T, args ...string) *serveProcess {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	full := append([]string{"serve", "--listen", addr, "--store", "memory", "--sys-interval", "0"}, args...)
	p := &serveProcess{addr: addr, cmd: exec.Command(gustBinary(t), full...), stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		err := <-p.exited
		p.exited <- err
	})
	waitFor(t, "gust serve listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})
	return p
}

// logLines parses the JSON log lines written so far.
func (p *serveProcess) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, s := range strings.Split(p.stderr.String(), "\n") {
		if s == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", s, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// findLog waits up to 10 s for a log line with msg whose attributes
// include every key/value of want (values compared as printed), and
// returns it.
func (p *serveProcess) findLog(t *testing.T, msg string, want map[string]string) map[string]any {
	t.Helper()
	var found map[string]any
	match := func() bool {
		for _, m := range p.logLines(t) {
			if m["msg"] != msg {
				continue
			}
			ok := true
			for k, v := range want {
				ok = ok && strings.Contains(fmt.Sprint(m[k]), v)
			}
			if ok {
				found = m
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if match() {
			return found
		}
	}
	t.Fatalf("no log line %q with %v in:\n%s", msg, want, p.stderr.String())
	return nil
}

// rawDial connects to addr and sends pkts, with a 5 s deadline on the
// connection.
func rawDial(t *testing.T, addr string, pkts ...[]byte) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, pkt := range pkts {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// readUntilEOF reads c until the broker closes it.
func readUntilEOF(t *testing.T, c net.Conn) []byte {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read until the broker closed: %v (got % x)", err, b)
	}
	return b
}

// TestServeConnectionLog reads the log lines of a real `gust serve` with
// --log-format json: one line per connect (client id, address, version,
// clean start, keep alive, user) and per disconnect with its reason
// (DISCONNECT, protocol error with its rule, keep-alive timeout, server
// shutdown), refused CONNECTs, oversize packets, and credentials sent with
// no password file (logged once).
func TestServeConnectionLog(t *testing.T) {
	p := startServe(t, "--log-format", "json", "--max-packet-size", "1024")
	v5 := func(id string, mod func(*codec.Connect)) []byte {
		cp := &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V5, CleanStart: true, ClientID: []byte(id), KeepAlive: 30}
		if mod != nil {
			mod(cp)
		}
		return codec.AppendConnect(nil, cp)
	}
	disconnect := codec.AppendDisconnect(nil, codec.V5, &codec.Disconnect{})

	// A clean connect and DISCONNECT, with a user name but no password file.
	c := rawDial(t, p.addr, v5("log-clean", func(cp *codec.Connect) {
		cp.UsernameFlag, cp.Username = true, []byte("bob")
	}), disconnect)
	readUntilEOF(t, c)
	p.findLog(t, "client connected", map[string]string{"client": "log-clean", "version": "5", "clean": "true",
		"keepalive": "30", "user": "bob", "remote": "127.0.0.1:"})
	p.findLog(t, "client disconnected", map[string]string{"client": "log-clean", "reason": "client sent DISCONNECT"})
	p.findLog(t, "credentials ignored: no password_file is configured, so user names are taken as given and passwords are not checked (logged once)",
		map[string]string{"user": "bob"})
	c = rawDial(t, p.addr, v5("log-clean2", func(cp *codec.Connect) {
		cp.UsernameFlag, cp.Username = true, []byte("carol")
	}), disconnect)
	readUntilEOF(t, c)
	p.findLog(t, "client disconnected", map[string]string{"client": "log-clean2"})
	if n := strings.Count(p.stderr.String(), "credentials ignored"); n != 1 {
		t.Fatalf("credentials ignored logged %d times, want once", n)
	}

	// A protocol error: PUBLISH with QoS 3.
	c = rawDial(t, p.addr, v5("log-bad", nil), []byte{0x36, 0x03, 0x00, 0x01, 'a'})
	readUntilEOF(t, c)
	p.findLog(t, "client disconnected", map[string]string{"client": "log-bad", "reason": "protocol error", "err": "MQTT-3.3.1-4"})

	// An oversize packet: a warning naming the setting, and the disconnect.
	big := codec.AppendPublish(nil, codec.V5, &codec.Publish{Topic: []byte("t"), Payload: make([]byte, 2000)})
	c = rawDial(t, p.addr, v5("log-big", nil), big)
	readUntilEOF(t, c)
	p.findLog(t, "packet refused: larger than max_packet_size, connection closed", map[string]string{
		"level": "WARN", "limit": "max_packet_size", "value": "1024", "client": "log-big"})
	p.findLog(t, "client disconnected", map[string]string{"client": "log-big", "reason": "protocol error", "err": "maximum packet size"})

	// A refused CONNECT: unsupported protocol level.
	c = rawDial(t, p.addr, []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 9, 2, 0, 30, 0, 1, 'x'})
	readUntilEOF(t, c)
	p.findLog(t, "client refused", map[string]string{"reason": "connack 0x1 unacceptable protocol version"})

	// A keep-alive timeout (1 s keep alive, closed after 1.5 s of silence).
	c = rawDial(t, p.addr, v5("log-ka", func(cp *codec.Connect) { cp.KeepAlive = 1 }))
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	readUntilEOF(t, c)
	p.findLog(t, "client disconnected", map[string]string{"client": "log-ka", "reason": "keep alive timeout"})

	// Server shutdown.
	c = rawDial(t, p.addr, v5("log-shut", nil))
	p.findLog(t, "client connected", map[string]string{"client": "log-shut"})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	readUntilEOF(t, c)
	p.findLog(t, "client disconnected", map[string]string{"client": "log-shut", "reason": "server shutdown"})
}

// TestServeConnectionLogOff: with --connection-messages=false and the
// text format, connects and disconnects write no line.
func TestServeConnectionLogOff(t *testing.T) {
	p := startServe(t, "--connection-messages=false")
	c := rawDial(t, p.addr, codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), Version: codec.V311,
		CleanStart: true, ClientID: []byte("log-off")}), codec.AppendDisconnect(nil, codec.V311, &codec.Disconnect{}))
	readUntilEOF(t, c)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit 20 s after SIGTERM (shutdown grace is %v):\n%s", shutdownGrace, p.stderr.String())
	}
	out := p.stderr.String()
	if !strings.Contains(out, "msg=\"broker stopped\"") {
		t.Fatalf("no text log line of the stop:\n%s", out)
	}
	if strings.Contains(out, "log-off") {
		t.Fatalf("a connection message with connection_messages off:\n%s", out)
	}
}
