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
// A writer whose node cannot commit (out of this Primary component, its mysqld gone) is replaced
// at once; one whose agent is only silent is not (mayCommit).

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
	// A silent agent is no proof: a path that drops only gossip silences a live agent that still
	// answers every HAProxy "up" until it reads the new record (the writer test's gossip drop
	// gave two writers for 0.5 s when silence was taken as gone). Only its own word that its
	// mysqld is gone, or its node out of this Primary view, ends the wait.
	p, ok := peers[site]
	return !ok || p.Status != "alive" || p.State.Dead == ""
}
