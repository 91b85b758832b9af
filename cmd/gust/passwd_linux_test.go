package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// screen collects what a terminal shows.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// typePasswords runs gust passwd with a terminal as its standard input and
// error and types each of answers at a prompt once echo is off. It returns
// what the terminal showed and the error.
func typePasswords(t *testing.T, file string, answers ...string) (string, error) {
	t.Helper()
	m, tty := openPTY(t)
	var scr screen
	go func() {
		b := make([]byte, 256)
		for {
			n, err := m.Read(b)
			scr.mu.Lock()
			scr.buf.Write(b[:n])
			scr.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- passwd([]string{file, "alice"}, tty, tty) }()
	for i, a := range answers {
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(scr.String(), "Password") <= i || echoOn(t, tty) {
			if time.Now().After(deadline) {
				t.Fatalf("no prompt %d with echo off; screen %q", i+1, scr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := m.WriteString(a + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		time.Sleep(20 * time.Millisecond) // the last newline reaches the screen
		return scr.String(), err
	case <-time.After(5 * time.Second):
		t.Fatalf("gust passwd did not return; screen %q", scr.String())
	}
	return "", nil
}

// echoOn reports whether tty echoes what is typed.
func echoOn(t *testing.T, tty *os.File) bool {
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

// TestPasswdTerminal: on a terminal the password is asked twice and never
// shown; two different answers change nothing.
func TestPasswdTerminal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	shown, err := typePasswords(t, file, "s3cret", "s3cret")
	if err != nil {
		t.Fatalf("%v; screen %q", err, shown)
	}
	if strings.Contains(shown, "s3cret") {
		t.Errorf("password echoed: %q", shown)
	}
	if !strings.Contains(shown, "Password: ") || !strings.Contains(shown, "Password again: ") {
		t.Errorf("prompts missing: %q", shown)
	}
	if err := login(t, file, "alice", "s3cret"); err != nil {
		t.Errorf("alice: %v", err)
	}
	shown, err = typePasswords(t, file, "n3w", "other")
	if err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("mismatch: err %v; screen %q", err, shown)
	}
	if err := login(t, file, "alice", "s3cret"); err != nil {
		t.Errorf("a mismatch changed the password: %v", err)
	}
}
