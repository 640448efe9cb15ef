package agent

import (
	"time"

	"github.com/keyha/keyha/galera"
)

// stallDrain: an applier stuck this long is named in the log (once per stall) and its node
// drained; shorter waits are an ordinary large write-set.
const stallDrain = 5 * time.Second

// stallStep exports how long the node's applier has been stuck with write-sets waiting (the
// poller's galera.StallSince): such a node holds every site in flow control. Its verdict drains
// it (agent.stallDrain), gossip tells the others, and one of them evicts it after
// agent.evict_stalled_after (evict.go); `SET GLOBAL wsrep_desync=ON` at that node is no remedy,
// it waits for the stuck applier too (measured with a LOCK TABLES).
func (a *Agent) stallStep(snap galera.Snapshot, now time.Time) {
	since := snap.StalledSince
	stuck := 0.0
	if !since.IsZero() {
		stuck = now.Sub(since).Seconds()
	}
	a.metrics.stalled.Set(stuck)
	switch {
	case since.IsZero():
		if a.stallLogged {
			a.log.Info("the node's applier moves again")
		}
		a.stallLogged = false
	case !a.stallLogged && now.Sub(since) >= stallDrain:
		a.stallLogged = true
		a.log.Warn("the node's applier has not moved with write-sets waiting: every site waits for it in flow control; end what holds it (a LOCK TABLES, a stuck disk), or the other sites evict this node after agent.evict_stalled_after (docs/recovery.md)",
			"stuck_for", now.Sub(since).Round(time.Millisecond), "recv_queue", snap.RecvQueue, "last_committed", snap.LastCommitted)
	}
}
