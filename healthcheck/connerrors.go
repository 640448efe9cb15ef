package healthcheck

import (
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// ConnErrors takes the HTTP server's own error lines (connections that failed before a request: a
// TLS handshake cut by a check's timeout, a client that does not trust the cluster's CA, a port
// scanner) and turns them into a count and at most one log line per Every, saying how many there
// were. One line per failed check buried the agent's log on a starved host, four a second.
type ConnErrors struct {
	Log   *slog.Logger
	Count func() // one more failed connection (a Prometheus counter's Inc)
	Every time.Duration
	Now   func() time.Time // time.Now unless a test says otherwise

	mu    sync.Mutex
	last  time.Time // when the last line was logged
	since int       // failures since then
}

// Logger is the *log.Logger for http.Server's ErrorLog.
func (e *ConnErrors) Logger() *log.Logger { return log.New(e, "", 0) }

func (e *ConnErrors) Write(p []byte) (int, error) {
	if e.Count != nil {
		e.Count()
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	t := now()
	e.mu.Lock()
	e.since++
	if !e.last.IsZero() && t.Sub(e.last) < e.Every {
		e.mu.Unlock()
		return len(p), nil
	}
	n := e.since
	e.since, e.last = 0, t
	e.mu.Unlock()
	e.Log.Warn("HTTP connections failed before any request (TLS handshake, protocol): checks that time out mid-handshake, clients without the cluster's CA, or scanners",
		"failed", n, "last", strings.TrimSpace(string(p)), "next_line_after", e.Every)
	return len(p), nil
}
