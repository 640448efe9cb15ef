// Package swift is a small client of an OpenStack Swift proxy, enough for keyha's lab and drill:
// a container, objects put and read back whole, each checked against its MD5 (Swift's ETag for
// an object uploaded in one piece).
package swift

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client talks to one Swift proxy for one account (AUTH_ and the Keystone project's ID).
type Client struct {
	URL     string // the proxy, e.g. http://10.77.0.1:8080
	Account string
	HTTP    *http.Client
}

// New returns a client of the proxy at addr (HOST:PORT) for the account of project.
func New(addr, project string) *Client {
	return &Client{URL: "http://" + addr, Account: "AUTH_" + project, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Issuer issues a project-scoped token: the token and the project's ID (a site's Keystone).
type Issuer interface {
	IssueScoped(ctx context.Context, user, password string) (token, project string, err error)
}

// Login returns a client of the proxy at addr for the project a token from iss is scoped to, and
// that token.
func Login(ctx context.Context, iss Issuer, addr, user, password string) (*Client, string, error) {
	tok, project, err := iss.IssueScoped(ctx, user, password)
	if err != nil {
		return nil, "", err
	}
	return New(addr, project), tok, nil
}

// Refused reports whether err is the proxy refusing the token (401): get a fresh one.
func Refused(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusUnauthorized
}

// ErrCorrupt is a read whose bytes are not the object's: their MD5 differs from the ETag, or
// from the MD5 the caller expected.
var ErrCorrupt = errors.New("corrupt or different object")

// StatusError is the proxy's answer with an unexpected HTTP status.
type StatusError struct {
	What string
	Code int
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s: HTTP %d", e.What, e.Code) }

func (c *Client) path(container, object string) string {
	p := c.URL + "/v1/" + url.PathEscape(c.Account) + "/" + url.PathEscape(container)
	if object != "" {
		p += "/" + url.PathEscape(object)
	}
	return p
}

func (c *Client) do(ctx context.Context, method, u, token string, body []byte, hdr map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Auth-Token", token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.HTTP.Do(req)
}

// CreateContainer creates container (or finds it there).
func (c *Client) CreateContainer(ctx context.Context, token, container string) error {
	resp, err := c.do(ctx, "PUT", c.path(container, ""), token, nil, nil)
	if err != nil {
		return fmt.Errorf("create container %s: %w", container, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		return &StatusError{What: "create container " + container, Code: resp.StatusCode}
	}
	return nil
}

// Sum is the MD5 of body in hex: the ETag Swift gives an object stored in one piece.
func Sum(body []byte) string {
	h := md5.Sum(body)
	return hex.EncodeToString(h[:])
}

// Put stores body as container/name. It sends the MD5 as ETag, so the proxy refuses (422) a
// body that arrived altered, and checks the ETag of the answer: a 201 with the right ETag is an
// acknowledged object.
func (c *Client) Put(ctx context.Context, token, container, name string, body []byte) error {
	sum := Sum(body)
	resp, err := c.do(ctx, "PUT", c.path(container, name), token, body, map[string]string{"ETag": sum, "Content-Type": "application/octet-stream"})
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", container, name, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return &StatusError{What: "put " + container + "/" + name, Code: resp.StatusCode}
	}
	if got := resp.Header.Get("Etag"); got != sum {
		return fmt.Errorf("put %s/%s: the proxy acknowledged ETag %q, want %s", container, name, got, sum)
	}
	return nil
}

// Get reads container/name whole and checks it: its MD5 must be the ETag the proxy gives, and
// want (when not "") too.
func (c *Client) Get(ctx context.Context, token, container, name, want string) ([]byte, error) {
	resp, err := c.do(ctx, "GET", c.path(container, name), token, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", container, name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil, &StatusError{What: "get " + container + "/" + name, Code: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: read: %w", container, name, err)
	}
	sum := Sum(body)
	if etag := resp.Header.Get("Etag"); etag != sum {
		return body, fmt.Errorf("get %s/%s: %w: %d bytes with MD5 %s, but ETag %q", container, name, ErrCorrupt, len(body), sum, etag)
	}
	if want != "" && sum != want {
		return body, fmt.Errorf("get %s/%s: %w: MD5 %s, want %s (a different object)", container, name, ErrCorrupt, sum, want)
	}
	return body, nil
}
