package main

import (
	"bytes"
	"context"
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
	if cfg.Listen != ":1883" {
		t.Errorf("default listen = %q, want :1883", cfg.Listen)
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
	fs := newServeFlags(&cfg, io.Discard)
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
	go func() { waitSignals(b, sig); close(done) }()

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
	go func() { waitSignals(b, sig); close(done) }()
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
