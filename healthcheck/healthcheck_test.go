package healthcheck

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fixed struct {
	mu sync.Mutex
	r  Report
}

func (f *fixed) Report() Report { f.mu.Lock(); defer f.mu.Unlock(); return f.r }

func TestAgentReply(t *testing.T) {
	for _, c := range []struct {
		r    Report
		want string
	}{
		{Report{State: StateUp, Weight: 100, Reason: "synced"}, "up ready 100% #synced\n"},
		{Report{State: StateUp, Weight: 10, Reason: "behind"}, "up ready 10% #behind\n"},
		{Report{State: StateUp, Weight: 0, Reason: "x"}, "up ready 100% #x\n"},
		{Report{State: StateDrain, Reason: "donor"}, "up drain #donor\n"},
		{Report{State: StateDown, Reason: "non-Primary"}, "down #non-Primary\n"},
		{Report{State: StateMaint, Reason: "op"}, "maint #op\n"},
		{Report{State: "bogus", Reason: "?"}, "down #?\n"},
		{Report{State: StateDown, Reason: "line\nbreak\x00é"}, "down #line break  \n"},
	} {
		if got := AgentReply(c.r); got != c.want {
			t.Errorf("AgentReply(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
	long := AgentReply(Report{State: StateDown, Reason: strings.Repeat("x", 500)})
	if len(long) > 130 {
		t.Errorf("reason not cut: %d bytes", len(long))
	}
}

func startAgent(t *testing.T, src Source) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var served atomic.Int64
	s := &AgentServer{Source: src, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Served: func() { served.Add(1) }, Timeout: 500 * time.Millisecond}
	done := make(chan struct{})
	go func() { s.Serve(ctx, l); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return l.Addr().String(), &served
}

func ask(t *testing.T, addr string, send []byte) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if send != nil {
		c.Write(send)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return line
}

func TestAgentServerFollowsSource(t *testing.T) {
	src := &fixed{r: Report{State: StateUp, Weight: 100, Reason: "ok"}}
	addr, served := startAgent(t, src)
	if got := ask(t, addr, nil); got != "up ready 100% #ok\n" {
		t.Errorf("got %q", got)
	}
	src.mu.Lock()
	src.r = Report{State: StateDown, Reason: "dead"}
	src.mu.Unlock()
	if got := ask(t, addr, nil); got != "down #dead\n" {
		t.Errorf("got %q", got)
	}
	// The server counts an answer after writing it: the client may read it first.
	for deadline := time.Now().Add(2 * time.Second); served.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if served.Load() != 2 {
		t.Errorf("served %d, want 2", served.Load())
	}
}

// Garbage, oversized input and thousands of idle clients: no crash, the goroutines come back down,
// and a real checker is still answered meanwhile.
func TestAgentServerAbuse(t *testing.T) {
	src := &fixed{r: Report{State: StateUp, Weight: 100, Reason: "ok"}}
	addr, _ := startAgent(t, src)
	before := runtime.NumGoroutine()

	if got := ask(t, addr, []byte("\x00\xff garbage \r\n\r\n")); !strings.HasPrefix(got, "up") {
		t.Errorf("after garbage: %q", got)
	}
	if got := ask(t, addr, []byte(strings.Repeat("A", 1<<20))); !strings.HasPrefix(got, "up") {
		t.Errorf("after 1 MiB: %q", got)
	}

	var idle []net.Conn
	for i := 0; i < 2000; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break // the test process's own fd limit: enough clients made
		}
		idle = append(idle, c)
	}
	if len(idle) < 500 {
		t.Fatalf("only %d idle clients could connect", len(idle))
	}
	if got := ask(t, addr, nil); !strings.HasPrefix(got, "up") {
		t.Errorf("with %d idle clients: %q", len(idle), got)
	}
	for _, c := range idle {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after the idle clients left", before, runtime.NumGoroutine())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHTTP(t *testing.T) {
	src := &fixed{}
	srv := httptest.NewServer(HTTPHandler(src, nil))
	defer srv.Close()
	for _, c := range []struct {
		state, path string
		code        int
	}{
		{StateUp, "/health", 200},
		{StateDrain, "/health", 503},
		{StateDrain, "/health?drain=ok", 200},
		{StateDown, "/health?drain=ok", 503},
		{StateMaint, "/health?drain=ok", 503},
		{StateMaint, "/health", 503},
		{StateDown, "/status", 200},
	} {
		src.mu.Lock()
		src.r = Report{Site: "bari", State: c.state, Reason: "because"}
		src.mu.Unlock()
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.code || body["state"] != c.state || body["reason"] != "because" {
			t.Errorf("%s %s: %d %v, want %d", c.state, c.path, resp.StatusCode, body, c.code)
		}
	}
}

// The HTTP check's listener survives what a hostile or broken client sends: a header that never
// ends, an oversized header, garbage instead of HTTP, and hundreds of idle connections.
func TestServeHTTPAbuse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &fixed{r: Report{Site: "a", State: StateUp, Reason: "synced"}}
	done := make(chan error, 1)
	go func() { done <- ServeHTTP(ctx, l, HTTPHandler(src, nil), nil) }()
	addr := l.Addr().String()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	healthy := func(what string) {
		t.Helper()
		resp, err := client.Get("http://" + addr + "/health")
		if err != nil {
			t.Fatalf("after %s: /health: %v", what, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("after %s: /health answered %d", what, resp.StatusCode)
		}
	}

	// A header that never ends is cut off by ReadHeaderTimeout (2 s).
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	slow.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "))
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.Copy(io.Discard, slow)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("a never-ending header held the connection %v", took)
	}
	slow.Close()
	healthy("a slow header")

	// An oversized header: refused (431), nothing else.
	req, _ := http.NewRequest("GET", "http://"+addr+"/health", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("a 64 KiB header: HTTP %d, want 431", resp.StatusCode)
		}
	}
	healthy("a big header")

	// Garbage: answered 400 or closed.
	g, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	g.Write([]byte("\x00\xff\x13garbage\r\n\r\n"))
	g.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(g)
	g.Close()
	if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 400") {
		t.Errorf("garbage answered %q", b)
	}
	healthy("garbage")

	// 300 idle connections, then a check still answers.
	var idle []net.Conn
	for range 300 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	healthy("300 idle connections")
	for _, c := range idle {
		c.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeHTTP: %v", err)
	}
}

// A healthy standby (its node up, its role not the writer) fails the TLS check even with drain=ok:
// only the writer and a drained node pass it, so the clear-text agent-check cannot raise a standby.
func TestStandbyFailsTheCheck(t *testing.T) {
	src := &fixed{r: Report{Site: "bari", State: StateDown, Health: StateUp, Role: "standby", Reason: "standby: writer is lngs"}}
	srv := httptest.NewServer(HTTPHandler(src, nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/health?drain=ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("a healthy standby: %d, want 503", resp.StatusCode)
	}
}
