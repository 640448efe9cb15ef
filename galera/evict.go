package galera

import (
	"fmt"
	"strings"
	"time"
)

// A Galera group stalls every commit when a member stops answering, until it expels the member
// (evs.suspect_timeout, 5 s by default). When a site's agent knows for certain that its own mysqld
// has exited (nothing listens on its port any more), it says so over gossip with the member UUID
// the node last had; a survivor then evicts that UUID at once (evs.evict), and the others commit
// again within a fraction of a second. A node that is only hung, stopped or cut off is never
// claimed dead, and stays Galera's to judge.

// DeadClaim is one site's agent saying its node's process is gone.
type DeadClaim struct {
	Site string // the site whose agent says so
	Node string // that site's wsrep_node_name, from the cluster file
	UUID string // the member UUID the node had in the group (wsrep_gcomm_uuid)
}

// Eviction is a member a survivor removes from the group now.
type Eviction struct {
	DeadClaim
	Reason string
}

// ValidUUID reports whether u is a member UUID as Galera writes it; nothing else reaches SQL.
func ValidUUID(u string) bool { return uuidRE.MatchString(u) }

// Evictions decides, from this node's snapshot, which claimed-dead members it evicts: only from a
// healthy node of the Primary component, only a member of its current view under the claiming
// site's node name, never itself, never one it has already evicted.
func Evictions(snap Snapshot, claims []DeadClaim) []Eviction {
	if snap.ErrClass != ErrNone || snap.ClusterStatus != "Primary" {
		return nil
	}
	var out []Eviction
	for _, c := range claims {
		if evictable(snap, c.UUID, c.Node) {
			out = append(out, Eviction{c, fmt.Sprintf("%s's agent reports its mysqld gone; member %s (%s) is still in this node's view", c.Site, c.UUID, c.Node)})
		}
	}
	return out
}

// evictable reports whether this node may evict member u, claimed by the site whose node is
// named node: a valid UUID, not this node, not evicted already, in this view under that name.
func evictable(snap Snapshot, u, node string) bool {
	if !ValidUUID(u) || u == snap.GcommUUID || inList(snap.EvictList, u) {
		return false
	}
	for _, m := range snap.Members {
		if m.NodeUUID == u && m.Name == node {
			return true
		}
	}
	return false
}

// A node whose applier is stuck (a LOCK TABLES, a stuck disk) holds every site in flow control
// for as long as the cause lasts: Galera has no timeout for it. Its own agent sees it (StallSince)
// and says so over gossip with its member UUID; once it has lasted agent.evict_stalled_after, a
// survivor that is itself held by flow control evicts that member, and the others commit again.
// The evicted node leaves the group for good (Galera: "gcomm backend restart is required") and
// rejoins when restarted, by IST, with a new UUID.

// StallClaim is one site's agent saying its node's applier has not moved, with write-sets waiting,
// for For.
type StallClaim struct {
	Site, Node, UUID string
	For              time.Duration
}

// StallEviction decides whether this node evicts a member whose applier holds the cluster in flow
// control. Only when all of these hold: eviction is on (after > 0); this node is healthy, Synced
// in the Primary component, its own applier moving, and flow control pausing it now (the stall
// costs something); exactly one site claims a stall (two stuck at once is a cause no single
// eviction removes, a DDL every node runs, or doubt), for at least after; the claimed UUID is a
// member of this view under that site's node name, not this node, not evicted already; and the
// view has at least three members, so the rest keep a majority.
func StallEviction(snap Snapshot, claims []StallClaim, after time.Duration) (Eviction, bool) {
	if after <= 0 || snap.ErrClass != ErrNone || snap.ClusterStatus != "Primary" || snap.LocalState != StateSynced ||
		!snap.StalledSince.IsZero() || !snap.FlowControlActive || len(snap.Members) < 3 || len(claims) != 1 {
		return Eviction{}, false
	}
	c := claims[0]
	if c.For < after || !evictable(snap, c.UUID, c.Node) {
		return Eviction{}, false
	}
	return Eviction{DeadClaim{Site: c.Site, Node: c.Node, UUID: c.UUID},
		fmt.Sprintf("%s's applier has been stuck for %s and holds this node in flow control (agent.evict_stalled_after %s)", c.Site, c.For.Round(time.Second), after)}, true
}

// inList reports whether u is in a comma-separated evict list.
func inList(list, u string) bool {
	for _, e := range strings.Split(list, ",") {
		if strings.TrimSpace(e) == u {
			return true
		}
	}
	return false
}

// EvictStatement is the SQL that evicts u (a ValidUUID).
func EvictStatement(u string) (string, error) {
	if !ValidUUID(u) {
		return "", fmt.Errorf("not a Galera member UUID: %q", u)
	}
	return "SET GLOBAL wsrep_provider_options='evs.evict=" + u + "'", nil
}

// ClearEvictList reports whether this node's evict list should be emptied: every member in it
// is one a site's agent reported dead (known), none is in the view any more. Galera keeps evicted
// UUIDs for the life of the process and shares the list; measured in the lab, a stale list made
// the next eviction take Galera's own 5 s instead of a fraction of one. A restarted node has a
// new UUID, so an emptied list lets nothing dead back in. A UUID evicted by an operator (not
// known) keeps the list as it is.
func ClearEvictList(snap Snapshot, known map[string]bool) bool {
	if snap.ErrClass != ErrNone || snap.ClusterStatus != "Primary" || strings.TrimSpace(snap.EvictList) == "" {
		return false
	}
	inView := map[string]bool{}
	for _, m := range snap.Members {
		inView[m.NodeUUID] = true
	}
	for _, u := range strings.Split(snap.EvictList, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if !known[u] || inView[u] {
			return false
		}
	}
	return true
}

// ClearEvictStatement empties the node's evict list.
const ClearEvictStatement = "SET GLOBAL wsrep_provider_options='evs.evict='"
