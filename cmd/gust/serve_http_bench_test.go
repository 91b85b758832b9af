package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/engine/ops"
	"github.com/gust-mqtt/gust/loadgen"
)

// BenchmarkPublishScraped is fan-in at QoS 1 (4 publishers flat out, one
// subscriber, gust load's generator in-process) through a broker whose
// HTTP listener is off, on and not scraped, or scraped every second and
// every 10 ms (the collector reads every loop through Execute). One op is
// one message delivered; compare the variants with benchstat over
// -count=10.
func BenchmarkPublishScraped(b *testing.B) {
	for _, bc := range []struct {
		name   string
		listen bool
		every  time.Duration
	}{
		{name: "http=off"},
		{name: "http=on/scrape=none", listen: true},
		{name: "http=on/scrape=1s", listen: true, every: time.Second},
		{name: "http=on/scrape=10ms", listen: true, every: 10 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := engine.DefaultConfig()
			cfg.Listen = "127.0.0.1:0"
			cfg.SysInterval = 0
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			br, err := engine.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := br.Start(); err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = br.Shutdown(ctx)
			}()
			stop := make(chan struct{})
			var wg sync.WaitGroup
			scrapes := 0
			if bc.listen {
				hs := ops.New(ops.Config{Listen: "127.0.0.1:0", MaxRequests: 4, Logger: cfg.Logger}, br)
				if err := hs.Start(); err != nil {
					b.Fatal(err)
				}
				defer func() { _ = hs.Shutdown(context.Background()) }()
				if bc.every > 0 {
					url := "http://" + hs.Addr().String() + "/metrics"
					wg.Add(1)
					go func() {
						defer wg.Done()
						t := time.NewTicker(bc.every)
						defer t.Stop()
						for {
							select {
							case <-stop:
								return
							case <-t.C:
							}
							resp, err := http.Get(url)
							if err != nil {
								continue
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
							scrapes++
						}
					}()
				}
			}
			lc := loadgen.DefaultConfig()
			lc.Addr = br.Addr().String()
			lc.Publishers, lc.Subscribers = 4, 1
			lc.QoS = 1 // flow controlled: nothing lost, so no drain wait in the time
			lc.Count = max(b.N/4, 1)
			lc.Duration = 5 * time.Minute // bounded by Count
			lc.Drain = 5 * time.Second
			lc.ClientPrefix = "bench"
			if err := lc.Normalize(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			res, err := loadgen.Run(context.Background(), lc)
			b.StopTimer()
			close(stop)
			wg.Wait()
			if err != nil {
				b.Fatal(err)
			}
			if res.Delivered == 0 {
				b.Fatal("nothing delivered")
			}
			b.ReportMetric(res.DeliverRate, "delivered/s")
			b.ReportMetric(float64(res.Lost), "lost")
			if bc.every > 0 {
				b.ReportMetric(float64(scrapes), "scrapes")
			}
		})
	}
}
