package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestScraperCountsAndFails: the scraper reads at its interval, counts
// good reads, and reports a failing endpoint.
func TestScraperCountsAndFails(t *testing.T) {
	var hits atomic.Int64
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("gust_up 1\n"))
	}))
	defer ok.Close()
	s := startScraper(ok.URL, 100*time.Millisecond) // the interval is also each read's timeout
	time.Sleep(700 * time.Millisecond)
	n, err := s.stop()
	if err != nil || n < 3 || int64(n) != hits.Load() {
		t.Fatalf("good scrapes %d (server saw %d), err %v", n, hits.Load(), err)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer bad.Close()
	s = startScraper(bad.URL, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	if n, err := s.stop(); err == nil || n != 0 {
		t.Fatalf("failing endpoint: %d good, err %v", n, err)
	}
}

// TestGustScrapedTarget starts the gust-scraped target (a real gust
// serve) and checks that its /metrics is read every second.
func TestGustScrapedTarget(t *testing.T) {
	root, err := findRoot()
	if err != nil {
		t.Fatal(err)
	}
	tg, err := ParseTarget(NameGustScraped)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := tg.prepare(ctx, root, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	r, err := tg.start(ctx, t.TempDir(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.stop()
	if r.scraper == nil {
		t.Fatal("no scraper for gust-scraped")
	}
	time.Sleep(2500 * time.Millisecond)
	n, err := r.scraper.stop()
	r.scraper = nil
	if err != nil || n < 2 {
		t.Fatalf("%d good scrapes in 2.5 s, err %v", n, err)
	}
}
