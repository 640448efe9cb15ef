package galera

import (
	"fmt"
	"time"
)

// State is what the agent tells HAProxy about the node.
type State string

const (
	Up    State = "up"    // send traffic
	Drain State = "drain" // no new connections, let current ones finish
	Down  State = "down"  // no traffic; HAProxy closes current sessions
	Maint State = "maint" // operator maintenance
)

// Policy holds the operator's choices the verdict depends on.
type Policy struct {
	AvailableWhenDonor bool          // a donor (not rejecting queries) stays up instead of drain
	StaleAfter         time.Duration // a snapshot older than this is not trusted
	DonorGrace         time.Duration // a donor stays up for this long (an IST does not block writes)
	// StallDrain drains a Synced node whose applier has been stuck this long with write-sets
	// waiting (Snapshot.StalledSince): it holds every site in flow control, and takes no new
	// clients (nor the writer) before it is evicted or moves again. Zero: never.
	StallDrain time.Duration
	// Weighting lowers the weight of an up node that falls behind: receive queue at or above
	// RecvQueueHigh, or flow control paused for at least FlowControlHigh of the last interval.
	Weighting       bool
	RecvQueueHigh   int64
	FlowControlHigh float64
}

// Verdict is the judgement of one snapshot.
type Verdict struct {
	State  State  `json:"state"`
	Weight int    `json:"weight"` // percent of the configured weight, for an up node
	Reason string `json:"reason"`
}

// Judge decides what the node may take. It is the whole policy of the agent, and fail-safe: any
// state it does not positively recognise as healthy is down.
func Judge(s Snapshot, p Policy, maint bool, now time.Time) Verdict {
	down := func(format string, a ...any) Verdict {
		return Verdict{State: Down, Reason: fmt.Sprintf(format, a...)}
	}
	switch {
	case maint:
		return Verdict{State: Maint, Reason: "operator maintenance (keyha agent maint off to end it)"}
	case s.At.IsZero():
		return down("no poll has completed yet")
	case now.Sub(s.At) > p.StaleAfter:
		return down("last poll is %s old (stale after %s): poller stuck?", now.Sub(s.At).Round(time.Millisecond), p.StaleAfter)
	case s.ErrClass != ErrNone:
		return down("poll failed (%s): %s", s.ErrClass, s.Err)
	case !s.Connected:
		return down("not connected to the cluster (wsrep_connected=OFF)")
	case s.ClusterStatus != "Primary":
		return down("not in the Primary component (wsrep_cluster_status=%s)", s.ClusterStatus)
	case !s.Ready:
		return down("not ready for queries (wsrep_ready=OFF)")
	case s.RejectQueries != "" && s.RejectQueries != "NONE":
		return down("rejecting client queries (wsrep_reject_queries=%s)", s.RejectQueries)
	// Percona XtraDB Cluster's own maintenance switch, as ProxySQL reads it: new connections go
	// elsewhere, running ones finish.
	case s.MaintMode == "MAINTENANCE":
		return Verdict{State: Maint, Reason: "pxc_maint_mode=MAINTENANCE: taken out by the operator (SET GLOBAL pxc_maint_mode=DISABLED ends it)"}
	case s.MaintMode == "SHUTDOWN":
		return Verdict{State: Drain, Reason: "pxc_maint_mode=SHUTDOWN: the node is shutting down"}
	}
	switch s.LocalState {
	case StateSynced:
	case StateDonor:
		switch {
		case s.Desync:
			return Verdict{State: Drain, Reason: "desynced by operator (wsrep_desync=ON)"}
		case s.SSTDonorRejectsQueries:
			return down("donor rejecting queries (wsrep_sst_donor_rejects_queries=ON)")
		case p.AvailableWhenDonor:
			return Verdict{State: Up, Weight: 100, Reason: "donor/desynced, kept up (available_when_donor)"}
		case !s.DonorSince.IsZero() && now.Sub(s.DonorSince) < p.DonorGrace:
			// Draining the writer for an IST would move the writes, and the successor must then
			// wait for every HAProxy to drop the old writer: seconds without a writer for a
			// transfer that is over in less than one. A blocking SST outlasts the grace.
			return Verdict{State: Up, Weight: 100, Reason: fmt.Sprintf("donor/desynced for %s, kept up for its first %s (agent.donor_grace: an incremental transfer does not block writes)",
				now.Sub(s.DonorSince).Round(time.Millisecond), p.DonorGrace)}
		default:
			return Verdict{State: Drain, Reason: "donor/desynced: serving a state transfer or paused (e.g. FLUSH TABLES WITH READ LOCK)"}
		}
	case StateJoining:
		return down("joining the cluster (wsrep_local_state=1)")
	case StateJoined:
		return down("joined, catching up (wsrep_local_state=3)")
	default:
		return down("unknown wsrep_local_state %d (%s)", s.LocalState, s.LocalStateComment)
	}
	if s.ReadOnly {
		return Verdict{State: Drain, Reason: "read_only=ON: not taking writes"}
	}
	if p.StallDrain > 0 && !s.StalledSince.IsZero() && now.Sub(s.StalledSince) >= p.StallDrain {
		return Verdict{State: Drain, Reason: fmt.Sprintf("applier stuck for %s with %d write-sets waiting: every site waits for it in flow control (a LOCK TABLES, a stuck disk)",
			now.Sub(s.StalledSince).Round(time.Second), s.RecvQueue)}
	}
	v := Verdict{State: Up, Weight: 100, Reason: "synced, primary"}
	if p.Weighting {
		switch {
		case p.RecvQueueHigh > 0 && s.RecvQueue >= p.RecvQueueHigh:
			v.Weight, v.Reason = 10, fmt.Sprintf("synced, behind: receive queue %d", s.RecvQueue)
		case p.FlowControlHigh > 0 && s.FlowControlPaused >= p.FlowControlHigh:
			v.Weight, v.Reason = 10, fmt.Sprintf("synced, behind: flow control paused %.0f%%", 100*s.FlowControlPaused)
		}
	}
	return v
}
