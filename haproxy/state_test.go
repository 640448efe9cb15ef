package haproxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/syncbuf"
)

// freeAddr is a loopback address nothing listens on now, for HAProxy's front.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// runHAProxy runs haproxy in the foreground on cfg (written to dir/haproxy.cfg) until the test
// ends, and returns what it prints.
func runHAProxy(t *testing.T, dir string, cfg []byte) *syncbuf.Buffer {
	t.Helper()
	p := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(p, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	out := &syncbuf.Buffer{}
	cmd := exec.Command("haproxy", "-db", "-f", p)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return out
}

// A started HAProxy routes to no node until a check finds the writer: with the server-state file
// every server starts DOWN, and only the writer comes UP. A standby's HTTP check answers 503 (it
// follows the role), and its agent-check here answers "up", as a host on the path could forge it:
// that never raises it. Without the file, HAProxy starts every server UP and "balance first" would
// send the first connections to bari, a standby listed first.
func TestStartsWithEveryServerDown(t *testing.T) {
	needHAProxy(t)
	health := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	writer, standby := health(http.StatusOK), health(http.StatusServiceUnavailable)
	agent := func(answer string) string { // HAProxy's agent-check: one line, then close
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(answer + "\n"))
				c.Close()
			}
		}()
		return l.Addr().String()
	}
	writerAgent, standbyAgent := agent("up ready"), agent("up ready") // the standby's: forged
	front := freeAddr(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "h.sock")
	c, err := config.Parse([]byte(`
cluster: lab
credentials: {monitor: /x}
gossip: {key_file: /x.key}
island: {enabled: true}
sites:
  - {name: bari, sql: "127.0.0.1:1", http: "` + standby + `", agent: "` + standbyAgent + `", gossip: "127.0.0.1:2", haproxy_db: "` + front + `", haproxy_socket: "` + sock + `"}
  - {name: lngs, sql: "127.0.0.1:3", http: "` + writer + `", agent: "` + writerAgent + `", gossip: "127.0.0.1:4"}
  - {name: padova, sql: "127.0.0.1:5", http: "` + standby + `", gossip: "127.0.0.1:6"}
`))
	if err != nil {
		t.Fatal(err)
	}
	// A long interval: a server is judged by the state file until its first check, seconds away.
	tm := WANTimings()
	tm.CheckInter = 10 * time.Second
	cfg, err := Config(c, "bari", tm)
	if err != nil {
		t.Fatal(err)
	}
	st, err := StartState(c, "bari", tm)
	if err != nil {
		t.Fatal(err)
	}
	me, _ := c.Site("bari")
	if me.HAProxyState != filepath.Join(dir, "keyha-servers.state") {
		t.Errorf("default state file %q, want keyha-servers.state beside the socket", me.HAProxyState)
	}
	os.WriteFile(me.HAProxyState, st, 0o644)
	stderr := runHAProxy(t, dir, cfg)
	rt := Runtime{Socket: sock}
	ctx := context.Background()
	var first []ServerStat
	for deadline := time.Now().Add(10 * time.Second); first == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy's socket did not answer:\n%s", stderr.String())
		}
		first, _ = rt.ShowStat(ctx, "galera")
	}
	isl, _ := rt.ShowStat(ctx, "island")
	if len(isl) != 1 {
		t.Errorf("the island backend has %d servers, want bari's own node", len(isl))
	}
	for _, s := range append(first, isl...) {
		if !strings.HasPrefix(s.Status, "DOWN") {
			t.Errorf("at start %s is %s, want DOWN (the state file was not applied?)\n%s", s.Server, s.Status, stderr.String())
		}
	}
	status := func() map[string]string {
		rows, _ := rt.ShowStat(ctx, "galera")
		m := map[string]string{}
		for _, r := range rows {
			m[r.Server] = r.Status
		}
		return m
	}
	deadline := time.Now().Add(30 * time.Second)
	for status()["lngs"] != "UP" {
		if time.Now().After(deadline) {
			ss, _ := rt.Exec(ctx, "show servers state")
			rows, _ := rt.ShowStat(ctx, "galera")
			t.Fatalf("the writer never came UP: %v\n%s\n%+v\n%s", status(), ss, rows, stderr.String())
		}
		if s := status()["bari"]; !strings.HasPrefix(s, "DOWN") {
			t.Fatalf("the standby went %s", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := status()["bari"]; !strings.HasPrefix(s, "DOWN") {
		t.Errorf("the standby is %s, want DOWN", s)
	}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, "server-state") && !strings.Contains(line, "is DOWN, changed from server-state") {
			t.Errorf("HAProxy did not take the state file as written: %s", line)
		}
	}
}
