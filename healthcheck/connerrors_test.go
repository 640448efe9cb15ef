package healthcheck

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Every failed connection is counted; the log gets the first at once, then one line per Every
// saying how many failed since the last line.
func TestConnErrors(t *testing.T) {
	var logged strings.Builder
	now := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	counted := 0
	e := &ConnErrors{Log: slog.New(slog.NewTextHandler(&logged, nil)), Count: func() { counted++ }, Every: time.Minute, Now: func() time.Time { return now }}
	l := e.Logger()
	line := "http: TLS handshake error from 10.77.0.1:50466: read: connection reset by peer"
	l.Print(line)
	for range 4 {
		now = now.Add(10 * time.Second)
		l.Print(line)
	}
	now = now.Add(21 * time.Second) // 61 s after the first line
	l.Print(line)
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if counted != 6 || len(lines) != 2 {
		t.Fatalf("counted %d, logged %d lines, want 6 and 2:\n%s", counted, len(lines), logged.String())
	}
	if !strings.Contains(lines[0], "failed=1") || !strings.Contains(lines[1], "failed=5") || !strings.Contains(lines[1], "connection reset by peer") {
		t.Errorf("lines do not say how many failed, and the last error:\n%s", logged.String())
	}
}
