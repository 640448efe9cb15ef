package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/capool"
)

// keyPair serves a certificate and key from files, read again when either changes: a renewed
// certificate is taken at the next handshake, with no restart.
type keyPair struct {
	cert, key string
	mu        sync.Mutex
	stamp     string
	last      *tls.Certificate
}

func (k *keyPair) get() (*tls.Certificate, error) {
	stamp := ""
	for _, p := range []string{k.cert, k.key} {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("TLS key pair: %w", err)
		}
		stamp += fmt.Sprintf("%d.%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.last != nil && stamp == k.stamp {
		return k.last, nil
	}
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.last != nil {
			return k.last, nil // a half-written renewal: keep serving the one that worked
		}
		return nil, fmt.Errorf("load TLS key pair %s: %w", k.cert, err)
	}
	k.last, k.stamp = &c, stamp
	return k.last, nil
}

// Pool reads a CA file into a pool.
func Pool(caFile string) (*x509.CertPool, error) { return capool.Load(caFile) }

// ServerConfig is an agent's TLS: its site certificate, and client certificates verified against
// the cluster CA when given (HAProxy's checks give none; control requests must, see VerifiedClient).
func ServerConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := Pool(caFile)
	if err != nil {
		return nil, err
	}
	kp := &keyPair{cert: certFile, key: keyFile}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		ClientCAs:      pool,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() },
	}, nil
}

// ClientConfig is the TLS of a caller of site's agent: the server must present a certificate of
// the cluster CA naming the site; the caller presents its own (an operator's or a site's).
func ClientConfig(caFile, certFile, keyFile, site string) (*tls.Config, error) {
	pool, err := Pool(caFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: site}
	if certFile != "" {
		kp := &keyPair{cert: certFile, key: keyFile}
		if _, err := kp.get(); err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() }
	}
	return cfg, nil
}

// ExpiresIn is how long until the certificate in path expires.
func ExpiresIn(path string, now time.Time) (time.Duration, error) {
	t, err := Expiry(path)
	if err != nil {
		return 0, err
	}
	return t.Sub(now), nil
}

// AgentClient is an HTTP client for site's agent and the base URL to reach it: with the cluster
// on TLS, https verified against the cluster CA and the site's name, presenting the operator's
// certificate. Agents are reached directly: an operator's HTTP_PROXY never stands in between.
func AgentClient(c *config.Cluster, site string, timeout time.Duration) (*http.Client, string, error) {
	s, err := c.Site(site)
	if err != nil {
		return nil, "", err
	}
	if s.HTTP == "" {
		return nil, "", fmt.Errorf("site %s has no agent http address in the cluster file", site)
	}
	// One connection per request: callers make a client per call, and idle connections of
	// dropped transports would pile up at the agents.
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	if c.TLS.On() {
		cfg, err := ClientConfig(c.TLS.CA, c.TLS.OperatorCert, c.TLS.OperatorKey, site)
		if err != nil {
			return nil, "", err
		}
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Timeout: timeout, Transport: tr}, c.TLS.Scheme() + "://" + s.HTTP, nil
}
