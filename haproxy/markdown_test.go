package haproxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MarkDown takes a server out at once, long before its checks would (they run 10 s apart here),
// closes its sessions (on-marked-down shutdown-sessions, as keyha's config has it), and sticks to
// nothing: the server's next passing check brings it back.
func TestMarkDown(t *testing.T) {
	needHAProxy(t)
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer check.Close()
	node, err := net.Listen("tcp", "127.0.0.1:0") // the database: holds each connection open
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	go func() {
		for {
			c, err := node.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); c.Read(make([]byte, 1)) }()
		}
	}()
	front := freeAddr(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "h.sock")
	checkHost, checkPort, _ := net.SplitHostPort(strings.TrimPrefix(check.URL, "http://"))
	cfg := `global
    stats socket ` + sock + ` mode 600 level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 1m
    timeout server 1m
    timeout check 1s
listen galera
    bind ` + front + `
    balance first
    option httpchk GET /health
    default-server inter 10s downinter 10s fall 2 rise 1 on-marked-down shutdown-sessions
    server lngs ` + node.Addr().String() + ` check addr ` + checkHost + ` port ` + checkPort + `
`
	stderr := runHAProxy(t, dir, []byte(cfg))
	rt := Runtime{Socket: sock}
	ctx := context.Background()
	status := func() string {
		rows, _ := rt.ShowStat(ctx, "galera")
		for _, r := range rows {
			if r.Server == "lngs" {
				return r.Status
			}
		}
		return ""
	}
	await := func(want string, within time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(within); status() != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("lngs is %q, not %s within %s\n%s", status(), want, within, stderr.String())
			}
		}
	}
	await("UP", 10*time.Second)
	sess, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rows, _ := rt.ShowStat(ctx, "galera")
		if len(rows) == 1 && rows[0].ActiveSessions == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session never reached lngs: %+v", rows)
		}
	}

	marked := time.Now()
	if err := rt.MarkDown(ctx, "galera", "lngs"); err != nil {
		t.Fatal(err)
	}
	if s := status(); !strings.HasPrefix(s, "DOWN") {
		t.Fatalf("right after MarkDown lngs is %q, want DOWN", s)
	}
	// Its checks run 10 s apart: only the mark-down can have closed the session this soon.
	sess.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := sess.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Errorf("the session to lngs is still open after MarkDown (read: %v)", err)
	}
	if d := time.Since(marked); d > 5*time.Second {
		t.Errorf("the session closed %s after MarkDown", d)
	}
	// The check still passes: the next one (downinter 10 s) brings it back.
	await("UP", 30*time.Second)
	if err := rt.MarkDown(ctx, "galera", "nosuch"); err == nil {
		t.Error("MarkDown of a server HAProxy does not have: no error")
	}
}
