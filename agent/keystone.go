package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// KeystoneCheck is the agent's last check of the site's Keystone API (GET /v3).
type KeystoneCheck struct {
	URL     string    `json:"url"`
	OK      bool      `json:"ok"`
	Code    int       `json:"http_status,omitempty"`
	Seconds float64   `json:"seconds"`
	Err     string    `json:"error,omitempty"`
	At      time.Time `json:"at"`
}

// keystoneWatch polls the site's Keystone every interval. It only reports: the database verdict
// does not depend on it.
type keystoneWatch struct {
	url    string
	client *http.Client
	mu     sync.Mutex
	last   KeystoneCheck
}

// newKeystoneWatch checks the site's Keystone at api: over TLS, verified as the site's, when tc
// is set (the cluster runs TLS: Keystone serves the site's certificate).
func newKeystoneWatch(api string, tc *tls.Config) *keystoneWatch {
	if api == "" {
		return nil
	}
	scheme := "http://"
	if tc != nil {
		scheme = "https://"
	}
	return &keystoneWatch{url: scheme + api + "/v3",
		// Keystone on a busy host can take seconds for GET /v3; a check is not a race.
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: tc}}}
}

func (k *keystoneWatch) run(ctx context.Context, every time.Duration) {
	for {
		c := k.check(ctx)
		k.mu.Lock()
		k.last = c
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func (k *keystoneWatch) check(ctx context.Context) KeystoneCheck {
	c := KeystoneCheck{URL: k.url, At: time.Now()}
	req, err := http.NewRequestWithContext(ctx, "GET", k.url, nil)
	if err == nil {
		var resp *http.Response
		resp, err = k.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			c.Code = resp.StatusCode
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET /v3: HTTP %d", resp.StatusCode)
			}
		}
	}
	c.Seconds = time.Since(c.At).Seconds()
	c.OK = err == nil
	if err != nil {
		c.Err = err.Error()
	}
	return c
}

func (k *keystoneWatch) Last() *KeystoneCheck {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.last
	return &c
}

var (
	keystoneUpDesc  = prometheus.NewDesc("keyha_keystone_up", "1 when the site's Keystone answered GET /v3 with 200 at the last check.", nil, nil)
	keystoneDurDesc = prometheus.NewDesc("keyha_keystone_check_duration_seconds", "How long the last Keystone check took.", nil, nil)
)

type keystoneCollector struct{ k *keystoneWatch }

func (c keystoneCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- keystoneUpDesc
	ch <- keystoneDurDesc
}

func (c keystoneCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.k.Last()
	up := 0.0
	if l.OK {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(keystoneUpDesc, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(keystoneDurDesc, prometheus.GaugeValue, l.Seconds)
}
