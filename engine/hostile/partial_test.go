package hostile

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gust-mqtt/gust/codec"
)

// bigPublish is a 3.1.1 QoS 0 PUBLISH of exactly 1 MiB, the default
// max_packet_size.
func bigPublish() []byte {
	pkt := codec.AppendPublish(nil, codec.V311, &codec.Publish{Topic: []byte("t"), Payload: make([]byte, 1<<20-7)})
	if len(pkt) != 1<<20 {
		panic(fmt.Sprint("bigPublish is ", len(pkt), " bytes"))
	}
	return pkt
}

// trickleAttack opens conns connections that each send the start of a
// 1 MiB PUBLISH and then 100 more bytes every 2 ms, for window, while a
// probe runs. It returns the broker's CPU over the window as a share of
// one core, the probe's figures and how many writes failed.
func trickleAttack(t *testing.T, b *broker, conns int, window time.Duration) (cpu float64, st probeStats, failed int64) {
	t.Helper()
	p := startProbe(t, b.Addr)
	pkt := bigPublish()
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = rawConnect(t, b.Addr, fmt.Sprintf("trickle-%d", i), false)
	}
	var errs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cpu0, t0 := b.CPU(), time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := time.NewTicker(2 * time.Millisecond)
			defer tk.Stop()
			for off := 0; off+100 < len(pkt); off += 100 {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write(pkt[off : off+100]); err != nil {
					errs.Add(1)
					return
				}
			}
		}()
	}
	time.Sleep(window)
	close(stop)
	wg.Wait()
	cpu = float64(b.CPU()-cpu0) / float64(time.Since(t0))
	return cpu, p.Stop(), errs.Load()
}

// TestHostilePartialTrickle: 20 connections trickle 100 B every 2 ms into
// 1 MiB packets. Each read must cost the bytes read, not the bytes held:
// the broker stays under 30% of a core and the probe is served.
func TestHostilePartialTrickle(t *testing.T) {
	const conns, window = 20, 8 * time.Second
	b := startBroker(t, brokerOpts{})
	cpu, st, failed := trickleAttack(t, b, conns, window)
	t.Logf("gust: broker CPU %.1f%% of a core over %v; probe %v; failed writes %d", 100*cpu, window, st, failed)
	if cpu > 0.30 {
		t.Errorf("broker CPU %.1f%% of a core during the trickle, want < 30%%", 100*cpu)
	}
	if failed > 0 {
		t.Errorf("%d trickling connections were cut off", failed)
	}
	if st.Received < 50 || st.Errors > 0 {
		t.Errorf("probe not served during the trickle: %v", st)
	}
	if peerWanted() {
		m := startMosquitto(t)
		cpu, st, failed := trickleAttack(t, m, conns, window)
		t.Logf("mosquitto: broker CPU %.1f%% of a core over %v; probe %v; failed writes %d", 100*cpu, window, st, failed)
	}
}

// partialFigures is what partialFlood measured.
type partialFigures struct {
	start, peak, after int64         // RSS before, at most during, and once back
	back               time.Duration // time from closing the attackers until RSS was back
	refused            int           // attackers the broker closed
	probe              probeStats
}

// partialFlood opens conns connections that each send all but the last
// byte of a 1 MiB PUBLISH while a probe runs, holds them for a second, then
// closes them and waits (up to 20 s) until the broker's RSS is within
// backSlack of where it started.
func partialFlood(t *testing.T, b *broker, conns int, backSlack int64) partialFigures {
	t.Helper()
	p := startProbe(t, b.Addr)
	time.Sleep(500 * time.Millisecond) // the probe's first round trips
	rs := sampleRSS(b)
	pkt := bigPublish()
	var f partialFigures
	cs := make([]net.Conn, conns)
	for i := range cs {
		cs[i] = rawConnect(t, b.Addr, fmt.Sprintf("partial-%d", i), false)
	}
	closed := make([]bool, conns) // the broker closed it; each writer sets its own
	var wg sync.WaitGroup
	for w := range 4 { // four writers, so one slow write does not stall the rest
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < conns; i += 4 {
				c := cs[i]
				_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				_, err := c.Write(pkt[:len(pkt)-1])
				if err == nil {
					// A refused connection may take all the bytes into the
					// kernel before the broker's close arrives.
					_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
					var one [1]byte
					if _, rerr := c.Read(one[:]); rerr != nil && !isTimeout(rerr) {
						err = rerr
					}
				}
				closed[i] = err != nil
			}
		}()
	}
	wg.Wait()
	if b.name == "gust" {
		// A loaded machine's broker may still be reading what the kernel
		// took: wait until it has met its budget (the test fails without).
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) &&
			!strings.Contains(b.Log(), "max_partial_bytes reached"); {
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	// A close can come after the writer's short read above (a loaded
	// machine's broker is slow to act): look again at every connection.
	for i, c := range cs {
		if !closed[i] {
			_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
			var one [1]byte
			_, err := c.Read(one[:])
			closed[i] = err != nil && !isTimeout(err)
		}
		if closed[i] {
			f.refused++
		}
	}
	f.start, f.peak = rs.Stop()
	for _, c := range cs {
		_ = c.Close()
	}
	t0 := time.Now()
	for {
		f.after = b.RSS()
		f.back = time.Since(t0)
		if f.after <= f.start+backSlack || f.back > 20*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	f.probe = p.Stop()
	return f
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestHostilePartialMemory: 300 connections each hold all but one byte of
// a 1 MiB PUBLISH. The broker's memory grows by no more than
// max_partial_bytes (default 256 MiB) plus 64 MiB of slack, connections
// past the budget are closed and logged, and once the attackers leave the
// memory comes back within seconds although the probe keeps publishing
// (so the idle trim never runs).
func TestHostilePartialMemory(t *testing.T) {
	const conns, budget, slack, backSlack = 300, 256 << 20, 64 << 20, 32 << 20
	b := startBroker(t, brokerOpts{})
	f := partialFlood(t, b, conns, backSlack)
	t.Logf("gust: RSS start %s, peak %s (+%s), %s after %v; refused %d of %d; probe %v",
		mib(f.start), mib(f.peak), mib(f.peak-f.start), mib(f.after), f.back.Round(100*time.Millisecond), f.refused, conns, f.probe)
	if f.peak-f.start > budget+slack {
		t.Errorf("RSS grew by %s, want at most %s", mib(f.peak-f.start), mib(budget+slack))
	}
	if f.refused == 0 || !strings.Contains(b.Log(), "max_partial_bytes reached") {
		t.Errorf("no connection refused (%d) or no log line past max_partial_bytes", f.refused)
	}
	if f.after > f.start+backSlack {
		t.Errorf("RSS %s 20 s after the attackers left, want within %s of the start %s", mib(f.after), mib(backSlack), mib(f.start))
	}
	if f.probe.Received < 50 || f.probe.Errors > 0 {
		t.Errorf("probe not served: %v", f.probe)
	}
	if peerWanted() {
		m := startMosquitto(t)
		f := partialFlood(t, m, conns, backSlack)
		t.Logf("mosquitto: RSS start %s, peak %s (+%s), %s after %v; refused %d of %d; probe %v",
			mib(f.start), mib(f.peak), mib(f.peak-f.start), mib(f.after), f.back.Round(100*time.Millisecond), f.refused, conns, f.probe)
	}
}
