package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// scrapeEvery is how often a Scrape target's /metrics is read: what a
// Prometheus server set to a one-second interval does.
const scrapeEvery = time.Second

// scraper reads a URL at a fixed interval until stopped, as a Prometheus
// server scrapes a target, and counts the reads that returned 200 with a
// body.
type scraper struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	good int
	err  error // the last failure
}

// startScraper reads url every interval (the first read at once) until
// stop.
func startScraper(url string, interval time.Duration) *scraper {
	ctx, cancel := context.WithCancel(context.Background())
	s := &scraper{cancel: cancel, done: make(chan struct{})}
	client := &http.Client{Timeout: interval}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			s.scrape(ctx, client, url)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// scrape reads url once and records the outcome.
func (s *scraper) scrape(ctx context.Context, client *http.Client, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		s.fail(err)
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			s.fail(err)
		}
		return
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	switch {
	case err != nil:
		s.fail(err)
	case resp.StatusCode != http.StatusOK || n == 0:
		s.fail(fmt.Errorf("%s: status %d, %d bytes", url, resp.StatusCode, n))
	default:
		s.mu.Lock()
		s.good++
		s.mu.Unlock()
	}
}

func (s *scraper) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// stop ends the scraping and returns the number of good reads and, if
// any read failed or none succeeded, an error.
func (s *scraper) stop() (int, error) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil && s.good == 0 {
		return 0, errors.New("no scrape completed")
	}
	return s.good, s.err
}
