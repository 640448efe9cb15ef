package drill

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/pki"
)

// Keystone is a client of one site's Keystone API (its HAProxy front).
type Keystone struct {
	URL  string // http://HOST:PORT
	HTTP *http.Client
}

// NewKeystone returns a client with short timeouts that never goes through an HTTP proxy; over
// TLS when tc is set.
func NewKeystone(addr string, tc *tls.Config) *Keystone {
	scheme := "http://"
	if tc != nil {
		scheme = "https://"
	}
	return &Keystone{URL: scheme + addr, HTTP: &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4, TLSClientConfig: tc}}}
}

// KeystoneTLS is the TLS of a client of site's Keystone front: nil when the cluster runs in clear.
func KeystoneTLS(c *config.Cluster, site string) (*tls.Config, error) {
	if !c.TLS.On() {
		return nil, nil
	}
	return pki.ClientConfig(c.TLS.CA, "", "", site)
}

// SiteKeystone is a client of site's Keystone front (sites[].keystone.front), over TLS when the
// cluster has it.
func SiteKeystone(c *config.Cluster, site string) (*Keystone, error) {
	s, err := c.Site(site)
	if err != nil {
		return nil, err
	}
	tc, err := KeystoneTLS(c, site)
	if err != nil {
		return nil, fmt.Errorf("TLS for %s's Keystone: %w", site, err)
	}
	return NewKeystone(s.Keystone.Front, tc), nil
}

// Issue gets a project-scoped token for user (domain Default) with password.
func (k *Keystone) Issue(ctx context.Context, user, password string) (string, error) {
	tok, _, err := k.IssueScoped(ctx, user, password)
	return tok, err
}

// IssueScoped is Issue that also returns the ID of the token's project, the admin project (a
// Swift account is AUTH_ and that ID).
func (k *Keystone) IssueScoped(ctx context.Context, user, password string) (string, string, error) {
	tok, project, _, err := k.issue(ctx, user, password)
	return tok, project, err
}

// IssueBy is Issue that also says which site's Keystone issued the token, as the site's HAProxy
// names it (X-Keyha-Keystone: its own, or another site's as a backup); "" when nothing says.
func (k *Keystone) IssueBy(ctx context.Context, user, password string) (string, string, error) {
	tok, _, by, err := k.issue(ctx, user, password)
	return tok, by, err
}

func (k *Keystone) issue(ctx context.Context, user, password string) (tok, project, by string, err error) {
	var body bytes.Buffer
	json.NewEncoder(&body).Encode(map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "domain": map[string]string{"id": "default"}, "password": password}}},
		"scope": map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]string{"id": "default"}}},
	}})
	req, err := http.NewRequestWithContext(ctx, "POST", k.URL+"/v3/auth/tokens", &body)
	if err != nil {
		return "", "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := k.HTTP.Do(req)
	if err != nil {
		return "", "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return "", "", "", &StatusError{What: "issue a token", Code: resp.StatusCode}
	}
	var answer struct {
		Token struct {
			Project struct {
				ID string `json:"id"`
			} `json:"project"`
		} `json:"token"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer); err != nil {
		return "", "", "", fmt.Errorf("issue a token: read the answer: %w", err)
	}
	tok = resp.Header.Get("X-Subject-Token")
	if tok == "" {
		return "", "", "", fmt.Errorf("issue a token: no X-Subject-Token in the answer")
	}
	return tok, answer.Token.Project.ID, resp.Header.Get("X-Keyha-Keystone"), nil
}

// Validate checks subject (a token issued anywhere) with auth (a token of this site's caller).
func (k *Keystone) Validate(ctx context.Context, auth, subject string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", k.URL+"/v3/auth/tokens", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", auth)
	req.Header.Set("X-Subject-Token", subject)
	resp, err := k.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return &StatusError{What: "validate a token", Code: resp.StatusCode}
	}
	return nil
}

// CreateProject creates a project named name in domain Default: a write to Keystone's database.
func (k *Keystone) CreateProject(ctx context.Context, auth, name string) error {
	var body bytes.Buffer
	json.NewEncoder(&body).Encode(map[string]any{"project": map[string]any{"name": name, "domain_id": "default"}})
	return k.do(ctx, "POST", "/v3/projects", auth, "", &body, http.StatusCreated, "create a project")
}

// Revoke revokes subject (DELETE /v3/auth/tokens).
func (k *Keystone) Revoke(ctx context.Context, auth, subject string) error {
	return k.do(ctx, "DELETE", "/v3/auth/tokens", auth, subject, nil, http.StatusNoContent, "revoke a token")
}

func (k *Keystone) do(ctx context.Context, method, path, auth, subject string, body io.Reader, want int, what string) error {
	req, err := http.NewRequestWithContext(ctx, method, k.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", auth)
	if subject != "" {
		req.Header.Set("X-Subject-Token", subject)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return &StatusError{What: what, Code: resp.StatusCode}
	}
	return nil
}

// StatusError is Keystone's answer with an unexpected HTTP status.
type StatusError struct {
	What string
	Code int
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s: HTTP %d", e.What, e.Code) }

// Refused reports whether Keystone answered and said no (401, 403, 404: a bad password, a token
// it does not accept), as opposed to not answering or failing (timeouts, 5xx): only a refusal
// says something about the token.
func Refused(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && (se.Code == 401 || se.Code == 403 || se.Code == 404)
}
