package agent

import (
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/haproxy"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/writer"
)

// A successor that replaces a writer whose node can still commit (drained as a state-transfer
// donor, put in maintenance, desynced, or left by a failback) takes the writes only once every
// HAProxy has dropped that writer. The old writer's agent answers "down" as soon as it is not the
// writer, but each HAProxy hears it only at its next check: taking the writes at once gave two
// writers for a few milliseconds (TestRollingRestart caught it, the old writer an IST donor).
// A writer whose node cannot commit (out of this Primary component, its mysqld gone) or whose
// agent is silent (every HAProxy dropped it before gossip declared it dead: CheckTimings) is
// replaced at once.

// takeover is this agent's wait after it recorded itself as the writer in place of from.
type takeover struct {
	from  string
	until time.Time // zero while the record is being made
}

// waiting says whether the takeover still holds the writes back at now.
func (t takeover) waiting(now time.Time) bool {
	return t.from != "" && (t.until.IsZero() || now.Before(t.until))
}

// handoverWait bounds how long a writer's node stays UP in some HAProxy after the record naming
// its successor committed: one poll for its agent to read the record (when it did not drop the
// writes by itself), then HAProxy's bound for a server whose agent answers down or not at all.
func handoverWait(c *config.Cluster) time.Duration {
	return c.Agent.PollInterval + c.Agent.PollTimeout + haproxy.ClusterTimings(c).DownWithin()
}

// mayCommit says whether site's node may still commit writes sent to it by some HAProxy, as far
// as this agent knows from its Primary view and gossip. A live agent's word is taken.
func mayCommit(c *config.Cluster, site string, snap galera.Snapshot, peers map[string]membership.Peer) bool {
	if site == "" || site == writer.Hold {
		return false // nobody was writing: a switchover's hold took the old writer out first
	}
	s, err := c.Site(site)
	if err != nil {
		return true
	}
	if snap.ClusterStatus == "Primary" && snap.ErrClass == galera.ErrNone && !snap.InView(s.NodeName) {
		return false // outside the one Primary component: it commits nothing
	}
	// A silent agent's site is absent: gossip declared it dead only after every HAProxy had
	// dropped its node (CheckTimings), or it was never heard and the writer.grace has passed.
	p, ok := peers[site]
	if !ok || p.Status != "alive" {
		return false
	}
	return p.State.Dead == "" // its agent saw its mysqld gone: it commits nothing
}
