package ops

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/trie"
)

// The JSON admin API, under /api/v1/. Client ids and topics travel as
// query parameters, so that any id (with '/' or '?') needs only URL
// encoding. A request that changes something (POST, DELETE) must carry
// the header X-Requested-With, which a page of another origin cannot
// send without a CORS preflight this listener never grants: a browser
// holding basic credentials cannot be made to kick a client by a link.

func (s *Server) routeAPI(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/overview", s.guard(http.HandlerFunc(s.overview)))
	mux.Handle("GET /api/v1/clients", s.guard(http.HandlerFunc(s.clients)))
	mux.Handle("GET /api/v1/client", s.guard(http.HandlerFunc(s.client)))
	mux.Handle("POST /api/v1/client/kick", s.guard(s.mutating(s.kick)))
	mux.Handle("GET /api/v1/subscriptions", s.guard(http.HandlerFunc(s.subscriptions)))
	mux.Handle("GET /api/v1/retained", s.guard(http.HandlerFunc(s.retained)))
	mux.Handle("DELETE /api/v1/retained", s.guard(s.mutating(s.deleteRetained)))
}

// mutating refuses a request without X-Requested-With (see above).
func (s *Server) mutating(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Requested-With") == "" {
			writeError(w, http.StatusForbidden, errors.New("ops: a request that changes state needs the header X-Requested-With"))
			return
		}
		h(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// callError answers an error of a call into the broker.
func callError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, engine.ErrNoLoops):
		code = http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	writeError(w, code, err)
}

func callCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), callTimeout)
}

// Overview is what the dashboard polls: the broker's counters and each
// loop's.
type Overview struct {
	Time        int64          `json:"time_ms"` // unix milliseconds
	Version     string         `json:"version"`
	Uptime      float64        `json:"uptime_s"`
	Connected   int64          `json:"connected"`
	Offline     int64          `json:"offline_sessions"`
	Connects    uint64         `json:"connects"`
	PublishIn   uint64         `json:"publish_received"`
	PublishOut  uint64         `json:"publish_sent"`
	BytesIn     uint64         `json:"bytes_received"`
	BytesOut    uint64         `json:"bytes_sent"`
	Dropped     uint64         `json:"publish_dropped"`
	Subs        int64          `json:"subscriptions"`
	Retained    int64          `json:"retained"`
	SlowClosed  uint64         `json:"slow_consumers_disconnected"`
	QueuedBytes int64          `json:"queued_bytes"`
	Loops       []OverviewLoop `json:"loops"`
}

// OverviewLoop is one loop in Overview.
type OverviewLoop struct {
	Loop      int     `json:"loop"`
	Clients   int     `json:"clients"`
	Busy      float64 `json:"busy_s"`
	Handovers uint64  `json:"handovers"`
	Queued    int     `json:"queued"`
	Inflight  int     `json:"inflight"`
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := callCtx(r)
	defer cancel()
	st := s.b.Stats()
	o := Overview{Time: time.Now().UnixMilli(), Version: engine.Version, Uptime: st.Uptime.Seconds(),
		Connected: st.ClientsConnected, Offline: st.ClientsTotal - st.ClientsConnected, Connects: st.Connects,
		PublishIn: st.PublishReceived, PublishOut: st.PublishSent, BytesIn: st.BytesReceived, BytesOut: st.BytesSent,
		Dropped: st.PublishDropped, Subs: st.Subscriptions, Retained: st.Retained, SlowClosed: st.SlowConsumersClosed,
		QueuedBytes: st.QueuedBytes}
	loops, err := s.b.LoopStats(ctx)
	if err != nil {
		callError(w, err)
		return
	}
	for _, l := range loops {
		o.Loops = append(o.Loops, OverviewLoop{Loop: l.Loop, Clients: l.Clients, Busy: l.Busy.Seconds(),
			Handovers: l.Handovers, Queued: l.Queued, Inflight: l.Inflight})
	}
	writeJSON(w, http.StatusOK, o)
}

func (s *Server) clients(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > engine.MaxClientPage {
			writeError(w, http.StatusBadRequest, errors.New("ops: limit: want 1.."+strconv.Itoa(engine.MaxClientPage)))
			return
		}
		limit = n
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	page, err := s.b.Clients(ctx, engine.ClientQuery{IDPrefix: q.Get("prefix"), User: q.Get("user"),
		Address: q.Get("address"), After: q.Get("after"), Limit: limit})
	if err != nil {
		callError(w, err)
		return
	}
	if page.Clients == nil {
		page.Clients = []engine.ClientSummary{}
	}
	writeJSON(w, http.StatusOK, page)
}

// clientID returns the id query parameter, answering 400 when it is
// missing.
func clientID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.URL.Query().Get("id")
	if id == "" {
		writeError(w, http.StatusBadRequest, errors.New("ops: the query parameter id (a client id) is missing"))
	}
	return id, id != ""
}

func (s *Server) client(w http.ResponseWriter, r *http.Request) {
	id, ok := clientID(w, r)
	if !ok {
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	d, found, err := s.b.Client(ctx, id)
	switch {
	case err != nil:
		callError(w, err)
	case !found:
		writeError(w, http.StatusNotFound, errors.New("ops: no session for this client id"))
	default:
		if d.Subscriptions == nil {
			d.Subscriptions = []engine.SubscriptionInfo{}
		}
		writeJSON(w, http.StatusOK, d)
	}
}

func (s *Server) kick(w http.ResponseWriter, r *http.Request) {
	id, ok := clientID(w, r)
	if !ok {
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	kicked, err := s.b.Kick(ctx, id)
	switch {
	case err != nil:
		callError(w, err)
	case !kicked:
		writeError(w, http.StatusNotFound, errors.New("ops: no connected client with this id"))
	default:
		writeJSON(w, http.StatusOK, map[string]any{"kicked": id})
	}
}

func (s *Server) subscriptions(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	subs, err := s.b.TopicSubscribers(topic)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"topic": topic, "subscribers": subs})
}

func (s *Server) retained(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > engine.MaxClientPage {
			writeError(w, http.StatusBadRequest, errors.New("ops: limit: want 1.."+strconv.Itoa(engine.MaxClientPage)))
			return
		}
		limit = n
	}
	filter := q.Get("filter")
	if filter == "" {
		filter = "#"
	}
	list, next, err := s.b.RetainedMessages(filter, q.Get("after"), limit)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if list == nil {
		list = []engine.RetainedInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"filter": filter, "retained": list, "next": next})
}

func (s *Server) deleteRetained(w http.ResponseWriter, r *http.Request) {
	filter := r.URL.Query().Get("filter")
	if filter == "" {
		writeError(w, http.StatusBadRequest, errors.New("ops: the query parameter filter (a topic filter; # for all) is missing"))
		return
	}
	if err := trie.ValidTopicFilter([]byte(filter)); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	ctx, cancel := callCtx(r)
	defer cancel()
	n, err := s.b.DeleteRetained(ctx, filter)
	if err != nil {
		callError(w, err)
		return
	}
	s.log.Info("retained messages deleted through the admin API", "filter", filter, "deleted", n)
	writeJSON(w, http.StatusOK, map[string]any{"filter": filter, "deleted": n})
}
