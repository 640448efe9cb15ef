package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client calls agents' control endpoints.
type Client struct {
	Keys Keys
	// Agent, when set, gives the HTTP client for a site's agent and its base URL (https with the
	// cluster's certificates); otherwise HTTP (or the default client) goes in clear to addr.
	Agent func(site string) (*http.Client, string, error)
	HTTP  *http.Client
}

// Error is an agent's refusal or failure, as it explained it.
type Error struct {
	Site   string
	Status int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("agent at %s: %s", e.Site, e.Msg) }

// Reply is the body of every control answer: an error text, or the result.
type Reply struct {
	Error  string          `json:"error,omitempty"`
	Output string          `json:"output,omitempty"` // what a command printed
	Result json.RawMessage `json:"result,omitempty"`
}

// Call sends method uri to the agent at addr (its HTTP listener) and decodes the result into out.
func (c *Client) Call(ctx context.Context, site, addr, method, uri string, out any) (Reply, error) {
	return c.CallBody(ctx, site, addr, method, uri, nil, out)
}

// CallBody is Call with a JSON body.
func (c *Client) CallBody(ctx context.Context, site, addr, method, uri string, body any, out any) (Reply, error) {
	var raw []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Reply{}, err
		}
		raw = b
	}
	hc, base := c.HTTP, "http://"+addr
	if c.Agent != nil {
		var err error
		if hc, base, err = c.Agent(site); err != nil {
			return Reply{}, fmt.Errorf("reach the agent at %s: %w", site, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, base+uri, bytes.NewReader(raw))
	if err != nil {
		return Reply{}, err
	}
	sig, nonce := Sign(c.Keys.Control, site, method, uri, raw, time.Now())
	req.Header.Set(Header, sig)
	if hc == nil {
		// Agents are reached directly, never through an operator's HTTP_PROXY.
		hc = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{Proxy: nil}}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("ask the agent at %s (%s): %w", site, addr, err)
	}
	defer resp.Body.Close()
	var r Reply
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return Reply{}, fmt.Errorf("read the answer of the agent at %s (%s): %w", site, addr, err)
	}
	if err := VerifyReply(c.Keys.Reply, site, nonce, resp.StatusCode, b, resp.Header.Get(ReplyHeader)); err != nil {
		// What it said is shown, as unverified text, to help find the cause (an agent without
		// the key answers unsigned).
		return Reply{}, &Error{Site: site, Status: resp.StatusCode, Msg: fmt.Sprintf("%v; it said, unverified: HTTP %d: %.300s", err, resp.StatusCode, strings.TrimSpace(string(b)))}
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Reply{}, &Error{Site: site, Status: resp.StatusCode, Msg: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))}
	}
	if resp.StatusCode != http.StatusOK || r.Error != "" {
		msg := r.Error
		if r.Output != "" {
			msg += ": " + strings.TrimSpace(r.Output)
		}
		return r, &Error{Site: site, Status: resp.StatusCode, Msg: msg}
	}
	if out != nil && len(r.Result) > 0 {
		if err := json.Unmarshal(r.Result, out); err != nil {
			return r, fmt.Errorf("decode the answer of the agent at %s: %w", site, err)
		}
	}
	return r, nil
}
