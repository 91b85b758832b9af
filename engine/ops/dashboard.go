package ops

import (
	"embed"
	"net/http"
)

// web holds the dashboard: one HTML page with its script and styles, no
// build step and nothing fetched from elsewhere.
//
//go:embed web/index.html
var web embed.FS

func (s *Server) routeDashboard(mux *http.ServeMux) {
	page, err := web.ReadFile("web/index.html")
	if err != nil {
		panic("ops: dashboard not embedded: " + err.Error()) // a build error, not peer input
	}
	mux.Handle("GET /{$}", s.guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
		h.Set("X-Frame-Options", "DENY")
		_, _ = w.Write(page)
	})))
}
