package agent

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
)

// credPoller (re)opens the galera.Poller from the credentials file: on first use, after the file
// changes, and after a failure to read it. An operator who fixes a password file sees the node
// come back without restarting the agent; until then every poll fails with the reason.
type credPoller struct {
	addr, path string
	timeout    time.Duration
	log        *slog.Logger
	cluster    *config.Cluster // its tls section: the poll's TLS (restart-only keys)

	mu     sync.Mutex
	poller *galera.Poller
	mtime  time.Time
}

func newCredPoller(c *config.Cluster, addr string, timeout time.Duration, log *slog.Logger) *credPoller {
	return &credPoller{cluster: c, addr: addr, path: c.Credentials.Monitor, timeout: timeout, log: log}
}

func (c *credPoller) Poll(ctx context.Context) galera.Snapshot {
	p, err := c.current()
	if err != nil {
		return galera.Snapshot{At: time.Now(), ErrClass: galera.ErrAuth, Err: err.Error()}
	}
	return p.Poll(ctx)
}

func (c *credPoller) current() (*galera.Poller, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := os.Stat(c.path)
	if err != nil {
		c.drop()
		return nil, err
	}
	if c.poller != nil && st.ModTime().Equal(c.mtime) {
		return c.poller, nil
	}
	cred, err := c.cluster.ReadCredential(c.path) // with the cluster's TLS
	if err != nil {
		c.drop()
		return nil, err
	}
	p, err := galera.NewPoller(c.addr, cred, c.timeout)
	if err != nil {
		c.drop()
		return nil, err
	}
	c.drop()
	c.poller, c.mtime = p, st.ModTime()
	c.log.Info("credentials loaded", "file", c.path, "user", cred.User)
	return p, nil
}

func (c *credPoller) drop() {
	if c.poller != nil {
		c.poller.Close()
		c.poller = nil
	}
}
