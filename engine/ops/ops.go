// Package ops is the broker's HTTP listener for operations: Prometheus
// metrics (/metrics), health and readiness (/healthz, /readyz), profiling
// (/debug/pprof/, behind Config.Pprof), a JSON admin API (/api/v1/) and a
// live dashboard (/). It runs on net/http's own goroutines, never on an
// event loop, and reads the broker only through engine.Broker's exported
// methods, which hand what loops own to those loops (engine/admin.go).
//
// Every resource has a bound: request header bytes, read, write and idle
// timeouts, and Config.MaxRequests requests served at once (past it: 503
// and a counter, gust_http_rejected_total). Everything but /healthz and
// /readyz needs a bearer token (Config.Token) or a user of the password
// file (HTTP basic authentication) unless the listener is on loopback and
// no token is set.
package ops

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gust-mqtt/gust/engine"
	"github.com/gust-mqtt/gust/engine/auth"
)

// Config is the HTTP listener's configuration.
type Config struct {
	// Listen is the TCP address, host:port; "" turns the listener off.
	Listen string
	// Pprof serves net/http/pprof under /debug/pprof/.
	Pprof bool
	// Token, when set, is the bearer token every protected request must
	// carry (Authorization: Bearer <token>, or ?token=, which the
	// dashboard is opened with).
	Token string
	// Users, when set, lets the users of the password file in with HTTP
	// basic authentication.
	Users *auth.Users
	// MaxRequests bounds the requests served at once; past it a request
	// gets 503.
	MaxRequests int
	// Logger receives the listener's log lines; nil: slog.Default.
	Logger *slog.Logger
}

// Bounds of one request.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 60 * time.Second // a 30 s CPU profile fits
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	maxBodyBytes      = 64 << 10
	// callTimeout bounds one call into the broker (a walk over the loops).
	callTimeout = 10 * time.Second
)

// Errors of Validate and Start.
var (
	ErrConfig = errors.New("ops: bad configuration")
)

// Validate checks c; the error names the setting and its accepted forms.
func (c *Config) Validate() error {
	if c.Listen == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("%w: http_listen %q: want host:port, such as 127.0.0.1:8080: %v", ErrConfig, c.Listen, err)
	}
	if c.MaxRequests < 1 {
		return fmt.Errorf("%w: http_max_requests %d: want 1 or more", ErrConfig, c.MaxRequests)
	}
	if c.Token == "" && c.Users == nil && !loopbackHost(host) {
		return fmt.Errorf("%w: http_listen %q is not a loopback address: set http_token or password_file "+
			"so that the admin API is protected, or listen on 127.0.0.1 or [::1]", ErrConfig, c.Listen)
	}
	return nil
}

// loopbackHost reports whether host names only the loopback interface.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is the HTTP listener of one broker.
type Server struct {
	cfg      Config
	b        *engine.Broker
	log      *slog.Logger
	reg      *prometheus.Registry
	open     bool // protected paths need no credentials (loopback, no token)
	sem      chan struct{}
	rejected atomic.Uint64 // requests refused at MaxRequests
	denied   atomic.Uint64 // requests refused for credentials
	// scrapeErrors counts scrapes whose per-loop counters were not read.
	scrapeErrors atomic.Uint64
	srv          *http.Server
	ln           net.Listener
	done         chan struct{}
}

// New returns the listener of b; cfg must have passed Validate.
func New(cfg Config, b *engine.Broker) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	host, _, _ := net.SplitHostPort(cfg.Listen)
	s := &Server{cfg: cfg, b: b, log: log, sem: make(chan struct{}, cfg.MaxRequests),
		open: cfg.Token == "" && cfg.Users == nil && loopbackHost(host), done: make(chan struct{})}
	s.reg = prometheus.NewRegistry()
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newCollector(b, s, log))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.guard(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), MaxRequestsInFlight: 2, Timeout: callTimeout})))
	if cfg.Pprof {
		mux.Handle("/debug/pprof/", s.guard(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/cmdline", s.guard(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("/debug/pprof/profile", s.guard(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/symbol", s.guard(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("/debug/pprof/trace", s.guard(http.HandlerFunc(pprof.Trace)))
	}
	s.routeAPI(mux)
	s.routeDashboard(mux)
	s.srv = &http.Server{
		Handler:           s.limit(mux),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s
}

// Start binds the listener and serves on its own goroutine.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("ops: http_listen %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		// Accept errors are retried by net/http with a back-off; it returns
		// only when closed.
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http listener stopped", "err", err)
		}
	}()
	s.log.Info("http listening", "addr", ln.Addr().String(), "pprof", s.cfg.Pprof, "auth", !s.open)
	return nil
}

// Addr is the bound address, nil before Start.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops the listener and waits for the requests being served, or
// for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	return err
}

// readyz answers 200 once the broker serves (store recovered, listener
// open) and 503 before and during shutdown.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.b.Ready() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// limit serves at most MaxRequests requests at once; the others get 503
// at once (a load balancer retries elsewhere) and are counted.
func (s *Server) limit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.sem <- struct{}{}:
		default:
			if n := s.rejected.Add(1); n&(n-1) == 0 { // a log line at 1, 2, 4, 8... refusals
				s.log.Warn("http request refused: http_max_requests reached", "limit", s.cfg.MaxRequests, "refused", n)
			}
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests at once (http_max_requests)", http.StatusServiceUnavailable)
			return
		}
		defer func() { <-s.sem }()
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		h.ServeHTTP(w, r)
	})
}

// guard lets a request through when it carries the token or a password
// file user's credentials, or when the listener is open (loopback, no
// token); otherwise 401.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.allowed(r) {
			h.ServeHTTP(w, r)
			return
		}
		s.denied.Add(1)
		if s.cfg.Users != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="gust"`)
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gust"`)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
}

func (s *Server) allowed(r *http.Request) bool {
	if s.open {
		return true
	}
	if s.cfg.Token != "" {
		tok := ""
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
			tok = a[len("Bearer "):]
		} else {
			tok = r.URL.Query().Get("token")
		}
		if tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1 {
			return true
		}
	}
	if s.cfg.Users != nil {
		if u, p, ok := r.BasicAuth(); ok {
			return s.cfg.Users.Authenticate(&auth.ConnectInfo{Username: []byte(u), Password: []byte(p),
				UsernameFlag: true, PasswordFlag: true}) == nil
		}
	}
	return false
}
