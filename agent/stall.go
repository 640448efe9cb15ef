package agent

import (
	"time"

	"github.com/keyha/keyha/galera"
)

// stallLogAfter: an applier stuck this long is named in the log (once per stall); shorter waits
// are an ordinary large write-set.
const stallLogAfter = 5 * time.Second

// stall is this agent's watch on its node's applier: the poll loop's alone.
type stall struct {
	since     time.Time // the applier first seen stuck, zero when it moves
	committed int64     // wsrep_last_committed at the previous poll
	logged    bool
}

// stallStep follows the node's applier (galera.StallSince) and exports how long it has been stuck
// with write-sets waiting: such a node holds every site in flow control (docs/recovery.md says
// what to do; keyha does not act on it: `SET GLOBAL wsrep_desync=ON` at that node waits for the
// stuck applier too, measured with a LOCK TABLES).
func (a *Agent) stallStep(snap galera.Snapshot, now time.Time) {
	st := &a.stall
	st.since = galera.StallSince(st.since, st.committed, snap)
	st.committed = snap.LastCommitted
	stuck := 0.0
	if !st.since.IsZero() {
		stuck = now.Sub(st.since).Seconds()
	}
	a.metrics.stalled.Set(stuck)
	switch {
	case st.since.IsZero():
		if st.logged {
			a.log.Info("the node's applier moves again")
		}
		st.logged = false
	case !st.logged && now.Sub(st.since) >= stallLogAfter:
		st.logged = true
		a.log.Warn("the node's applier has not moved with write-sets waiting: every site waits for it in flow control; end what holds it (a LOCK TABLES, a stuck disk) or restart this node (docs/recovery.md)",
			"stuck_for", now.Sub(st.since).Round(time.Millisecond), "recv_queue", snap.RecvQueue, "last_committed", snap.LastCommitted)
	}
}
