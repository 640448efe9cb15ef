package healthcheck

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net"
	"net/http"
	"time"
)

// HTTPHandler serves:
//   - GET /health: 200 when the node may take traffic, 503 otherwise, with a JSON body. Like
//     Percona's clustercheck, only "up" is 200 (in single-writer mode: only the writer).
//   - GET /health?drain=ok: 200 also when the node is drained: for an HAProxy whose agent-check
//     carries drain, maint and weight (haproxy.Config). A standby gets 503 here too: this check
//     runs over TLS and verifies the agent, while the agent-check is clear text any host on the
//     path could answer, so it is this check that says who may take writes, and a forged agent
//     "up" can never raise a standby.
//   - GET /health/island: 200 only while the node serves reads alone as an island (island mode:
//     the site is cut off, the node read-only with dirty reads), for HAProxy's island backend.
//   - GET /status: the full report, snapshot included, as JSON.
func HTTPHandler(src Source, served func()) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		rep := src.Report()
		ok := rep.State == StateUp || rep.State == StateDrain && r.URL.Query().Get("drain") == "ok"
		code := http.StatusServiceUnavailable
		if ok {
			code = http.StatusOK
		}
		body := struct {
			Site   string `json:"site"`
			State  string `json:"state"`
			Reason string `json:"reason"`
			Role   string `json:"role,omitempty"`
			Writer string `json:"writer,omitempty"`
		}{rep.Site, rep.State, rep.Reason, rep.Role, rep.Writer}
		writeJSON(w, code, body)
		if served != nil {
			served()
		}
	})
	mux.HandleFunc("/health/island", func(w http.ResponseWriter, r *http.Request) {
		rep := src.Report()
		code := http.StatusServiceUnavailable
		if rep.Island {
			code = http.StatusOK
		}
		writeJSON(w, code, struct {
			Site   string `json:"site"`
			Island bool   `json:"island"`
			Reason string `json:"reason"`
		}{rep.Site, rep.Island, rep.Reason})
		if served != nil {
			served()
		}
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, src.Report())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ServeHTTP runs h on l with limits that keep slow or oversized clients from piling up, until ctx
// is cancelled. errLog takes the server's own errors (nil: the log package's default).
func ServeHTTP(ctx context.Context, l net.Listener, h http.Handler, errLog *log.Logger) error {
	srv := &http.Server{
		ErrorLog:          errLog,
		Handler:           h,
		ReadHeaderTimeout: 2 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      5 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
