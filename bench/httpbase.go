package bench

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gust-mqtt/gust/loadgen"
)

// HTTPBroker is the HTTP/1.1 baseline: the same job as an MQTT broker at
// QoS 0 with standard web mechanisms. POST /pub?topic=T hands the body to
// every matching subscriber; GET /sub?filter=F streams Server-Sent Events,
// one "data: <base64 payload>" event per message. A subscriber whose queue
// is full loses the message (counted in Dropped), as a QoS 0 broker would.
// Safe from any goroutine.
type HTTPBroker struct {
	mu      sync.RWMutex
	subs    map[*httpSub]struct{}
	Dropped atomic.Int64
}

type httpSub struct {
	filter string
	ch     chan []byte
}

// httpQueue is the per-subscriber queue of encoded events.
const httpQueue = 4096

// NewHTTPBroker returns an empty HTTP baseline broker.
func NewHTTPBroker() *HTTPBroker { return &HTTPBroker{subs: map[*httpSub]struct{}{}} }

// ServeHTTP implements http.Handler.
func (b *HTTPBroker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/pub":
		b.publish(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/sub":
		b.subscribe(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (b *HTTPBroker) publish(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || topic == "" {
		http.Error(w, "bad publish", http.StatusBadRequest)
		return
	}
	ev := make([]byte, 0, 8+base64.StdEncoding.EncodedLen(len(body)))
	ev = append(ev, "data: "...)
	ev = base64.StdEncoding.AppendEncode(ev, body)
	ev = append(ev, '\n', '\n')
	b.mu.RLock()
	for s := range b.subs {
		if loadgen.MatchTopic(s.filter, topic) {
			select {
			case s.ch <- ev:
			default:
				b.Dropped.Add(1)
			}
		}
	}
	b.mu.RUnlock()
	w.WriteHeader(http.StatusNoContent)
}

func (b *HTTPBroker) subscribe(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	filter := r.URL.Query().Get("filter")
	if !ok || filter == "" {
		http.Error(w, "bad subscribe", http.StatusBadRequest)
		return
	}
	s := &httpSub{filter: filter, ch: make(chan []byte, httpQueue)}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
	}()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	if _, err := io.WriteString(w, ": ok\n\n"); err != nil {
		return
	}
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-s.ch:
			if _, err := w.Write(ev); err != nil {
				return
			}
			// Write whatever else is queued, then flush once.
			for more := true; more; {
				select {
				case ev := <-s.ch:
					if _, err := w.Write(ev); err != nil {
						return
					}
				default:
					more = false
				}
			}
			fl.Flush()
		}
	}
}

// ServeHTTPBaseline runs the HTTP baseline broker on addr until ctx ends.
func ServeHTTPBaseline(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: NewHTTPBroker(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
