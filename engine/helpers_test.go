package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
)

// startBroker starts a broker on a free loopback port with cfg adjusted by
// mod, and stops it at the end of the test.
func startBroker(t testing.TB, mod func(*Config)) *Broker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.SysInterval = 0
	var w io.Writer = io.Discard
	if os.Getenv("GUST_TEST_LOG") != "" {
		w = os.Stderr
	}
	cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if mod != nil {
		mod(&cfg)
	}
	b, err := New(cfg)
	noErr(t, err)
	noErr(t, b.Start())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		noErr(t, b.Shutdown(ctx))
	})
	return b
}

// noErr fails the test on a non-nil error. (testify's require cannot be
// built: go.sum lacks go.yaml.in/yaml/v3, and engine does not own go.sum.)
func noErr(t testing.TB, err error, msg ...any) {
	t.Helper()
	if err != nil {
		t.Fatal(append([]any{err}, msg...)...)
	}
}

// check fails the test when ok is false.
func check(t testing.TB, ok bool, msg ...any) {
	t.Helper()
	if !ok {
		t.Fatal(msg...)
	}
}

// equal fails the test when got != want.
func equal[T comparable](t testing.TB, got, want T, msg ...any) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v %v", got, want, fmt.Sprint(msg...))
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("timed out waiting for", what)
}
