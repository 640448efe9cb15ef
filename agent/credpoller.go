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

	every time.Duration // how soon the watch is held again after it ended in an error
	wake  chan struct{} // the watch to the poll loop: the node's session broke, poll now

	mu     sync.Mutex
	poller *galera.Poller
	mtime  time.Time
}

func newCredPoller(c *config.Cluster, addr string, timeout, every time.Duration, log *slog.Logger) *credPoller {
	return &credPoller{cluster: c, addr: addr, path: c.Credentials.Monitor, timeout: timeout, every: every, log: log,
		wake: make(chan struct{}, 1)}
}

// Woken is told when the node's watched session breaks (galera.Poller.Watch): its mysqld may
// have died, and a poll now tells the other sites at once.
func (c *credPoller) Woken() <-chan struct{} { return c.wake }

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
	go p.Watch(c.every, func() {
		select {
		case c.wake <- struct{}{}:
		default: // a poll is already due
		}
	})
	c.log.Info("credentials loaded", "file", c.path, "user", cred.User)
	return p, nil
}

func (c *credPoller) drop() {
	if c.poller != nil {
		c.poller.Close()
		c.poller = nil
	}
}
