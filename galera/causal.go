package galera

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/keyha/keyha/config"
)

// causalRead is how long the causal read of the designated writer may hold the server: Galera's
// own bound on a causal wait (repl.causal_read_timeout, 30 s by default).
const causalRead = 30 * time.Second

// causal reads the designated writer with wsrep_sync_wait=1: after every change the cluster
// committed before the read, even one this node has not applied yet. A node whose applier lags
// would otherwise still show an old writer, and its agent could answer "writer" after another was
// recorded. The wait is as long as any stall of the cluster, so it runs in the background, one
// read at a time (a read cancelled early would leave its server thread waiting all the same),
// and each poll takes what the last one brought back.
type causal struct {
	db     *sql.DB
	ctx    context.Context // ended by close
	cancel context.CancelFunc

	mu   sync.Mutex
	busy bool // a read runs
	row  WriterRow
	ok   bool // row came from a read that succeeded
}

func newCausal(addr string, c config.Credential, connect time.Duration) (*causal, error) {
	db, err := Open(addr, c, connect, causalRead, map[string]string{"wsrep_sync_wait": "1"})
	if err != nil {
		return nil, err
	}
	OneConn(db)
	ctx, cancel := context.WithCancel(context.Background())
	return &causal{db: db, ctx: ctx, cancel: cancel}, nil
}

// read starts a causal read unless one runs, and returns the result of the latest read that
// succeeded since the previous call (ok false: none came back). It never waits: while the cluster
// stalls (a dead member not yet evicted) a causal read waits with it, and the poll must not, or
// the agents would see the death and evict late. The value is at most one poll old.
func (c *causal) read() (WriterRow, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.busy {
		c.busy = true
		go func() {
			ctx, cancel := context.WithTimeout(c.ctx, causalRead)
			row, err := readWriter(ctx, c.db)
			cancel()
			c.mu.Lock()
			c.row, c.ok, c.busy = row, err == nil, false
			c.mu.Unlock()
		}()
	}
	row, ok := c.row, c.ok
	c.ok = false // each result serves one poll: a later poll must not take an old one as news
	return row, ok
}

func (c *causal) close() error {
	c.cancel()
	return c.db.Close()
}

// newer returns whichever of the node's own row and the causal one records the later choice:
// every change moves the epoch, so the higher epoch is the later record.
func newer(own, causal WriterRow, ok bool) WriterRow {
	if ok && causal.Epoch > own.Epoch {
		return causal
	}
	return own
}
