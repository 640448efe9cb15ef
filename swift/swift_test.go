package swift

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The client's checks, against a stand-in proxy that stores what it is given (the lab's tests run
// the real Swift): an acknowledged put carries the body's MD5, and a read whose bytes do not match
// the ETag, or the MD5 the caller expects, is an error.
func TestPutGetChecked(t *testing.T) {
	store := map[string][]byte{}
	corrupt := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "tok" {
			w.WriteHeader(401)
			return
		}
		switch r.Method {
		case "PUT":
			b, _ := io.ReadAll(r.Body)
			if strings.Count(r.URL.Path, "/") == 3 {
				w.WriteHeader(201)
				return
			}
			if r.Header.Get("ETag") != Sum(b) {
				w.WriteHeader(422)
				return
			}
			store[r.URL.Path] = b
			w.Header().Set("Etag", Sum(b))
			w.WriteHeader(201)
		case "GET":
			b, ok := store[r.URL.Path]
			if !ok {
				w.WriteHeader(404)
				return
			}
			w.Header().Set("Etag", Sum(b))
			if corrupt {
				b = append([]byte("x"), b[1:]...)
			}
			w.Write(b)
		}
	}))
	defer srv.Close()
	c := New(strings.TrimPrefix(srv.URL, "http://"), "p1")
	ctx := t.Context()
	if err := c.CreateContainer(ctx, "tok", "drill"); err != nil {
		t.Fatal(err)
	}
	body := []byte("an object")
	if err := c.Put(ctx, "tok", "drill", "o 1", body); err != nil {
		t.Fatal(err)
	}
	if _, ok := store["/v1/AUTH_p1/drill/o 1"]; !ok {
		t.Fatalf("stored under %v", store)
	}
	if got, err := c.Get(ctx, "tok", "drill", "o 1", Sum(body)); err != nil || string(got) != "an object" {
		t.Errorf("get: %q, %v", got, err)
	}
	if _, err := c.Get(ctx, "tok", "drill", "o 1", Sum([]byte("another"))); err == nil || !strings.Contains(err.Error(), "a different object") {
		t.Errorf("get of an unexpected object: %v", err)
	}
	corrupt = true
	if _, err := c.Get(ctx, "tok", "drill", "o 1", ""); err == nil || !strings.Contains(err.Error(), "but ETag") {
		t.Errorf("get of a corrupt body: %v", err)
	}
	var se *StatusError
	if err := c.Put(ctx, "bogus", "drill", "o2", body); err == nil || !errors.As(err, &se) || se.Code != 401 || !Refused(err) {
		t.Errorf("put with a bogus token: %v, want HTTP 401, refused", err)
	}
	if _, err := c.Get(ctx, "bogus", "drill", "o 1", ""); !Refused(err) {
		t.Errorf("get with a bogus token: %v, want refused", err)
	}
	if Refused(fmt.Errorf("get: %w", ErrCorrupt)) {
		t.Error("a corrupt read taken for a refused token")
	}
}
