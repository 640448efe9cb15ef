package galera

import (
	"context"
	"fmt"
	"time"

	"github.com/keyha/keyha/internal/connerr"
)

// The watch: a crash failover starts when the dead node's agent knows its mysqld is gone, and a
// poll finds that out up to a poll interval after the kill. A session held open on the node in a
// query that waits (DO SLEEP) breaks the moment the process dies: the kernel closes its sockets.
// The agent then polls at once, and the poll's own test (the port refuses) still decides "gone":
// the watch only says when to look. A stopped or hung mysqld keeps the session open, so it wakes
// nobody, as it must not.

// watchSleep is how long one waiting query runs (watchQuery); the session is then reused.
const watchSleep = 30 * time.Second

var watchQuery = fmt.Sprintf("DO SLEEP(%d)", int(watchSleep/time.Second))

// Watch calls wake each time the watched session breaks while its query runs, and holds a new one
// after every, until the Poller is closed. A server's error (a KILL, a node that refuses queries
// outside the Primary component) wakes nobody: only a broken connection does.
func (p *Poller) Watch(every time.Duration, wake func()) {
	ctx := p.watchCtx
	for ctx.Err() == nil {
		broke, err := p.watchOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if broke {
			wake()
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(every):
			}
		}
	}
}

// watchOnce holds one session in one waiting query. broke: the session broke while it waited.
func (p *Poller) watchOnce(ctx context.Context) (broke bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	c, err := p.watchDB.Conn(cctx)
	cancel()
	if err != nil {
		return false, err
	}
	defer c.Close()
	_, err = c.ExecContext(ctx, watchQuery)
	return err != nil && connerr.Is(err), err
}
