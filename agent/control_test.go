package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/control"
	"github.com/keyha/keyha/membership"
)

// The control channel end to end over HTTP: a signed request acts once, at its site, and its
// answer is signed; what a listener on the path says without the key is never taken as an answer.
func TestControlChannel(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "cluster.key")
	if err := os.WriteFile(keyFile, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newGuard(&config.Cluster{Gossip: config.Gossip{KeyFile: keyFile}}, "lngs", slog.New(slog.NewTextHandler(io.Discard, nil)))
	acted := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /galera/bootstrap", g.handle(func(r *http.Request) (any, string, error) {
		acted++
		return map[string]int{"acted": acted}, "", nil
	}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	key, err := membership.ReadKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	c := &control.Client{Keys: control.Derive(key)}

	var out map[string]int
	if _, err := c.Call(ctx, "lngs", addr, "POST", "/galera/bootstrap", &out); err != nil || out["acted"] != 1 {
		t.Fatalf("a signed request: %v %v", out, err)
	}
	// Signed for bari, sent to lngs (a request redirected on the path): refused, and the refusal
	// is itself signed, so the operator reads why.
	if _, err := c.Call(ctx, "bari", addr, "POST", "/galera/bootstrap", nil); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Errorf("a request for bari at lngs: %v, want a signed refusal naming a bad signature", err)
	}
	// A captured request replayed as it was.
	sig, _ := control.Sign(c.Keys.Control, "lngs", "POST", "/galera/bootstrap", nil, time.Now())
	for i, want := range []int{http.StatusOK, http.StatusForbidden} {
		req, _ := http.NewRequest("POST", srv.URL+"/galera/bootstrap", nil)
		req.Header.Set(control.Header, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("send %d of one captured request: HTTP %d %s, want %d", i+1, resp.StatusCode, b, want)
		}
	}
	if acted != 2 {
		t.Errorf("the action ran %d times, want 2 (the replay must not act)", acted)
	}

	// An impostor on the agent's address, without the key, answering "done".
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"result":{"acted":1}}`))
	}))
	defer fake.Close()
	_, err = c.Call(ctx, "lngs", strings.TrimPrefix(fake.URL, "http://"), "POST", "/galera/bootstrap", &out)
	var ce *control.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "not signed by the agent") {
		t.Errorf("an unsigned answer: %v, want a refusal", err)
	}
}
