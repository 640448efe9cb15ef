package galera

import (
	"fmt"
	"strings"
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
	evicted := map[string]bool{}
	for _, u := range strings.Split(snap.EvictList, ",") {
		evicted[strings.TrimSpace(u)] = true
	}
	var out []Eviction
	for _, c := range claims {
		if !ValidUUID(c.UUID) || c.UUID == snap.GcommUUID || evicted[c.UUID] {
			continue
		}
		for _, m := range snap.Members {
			if m.NodeUUID == c.UUID && m.Name == c.Node {
				out = append(out, Eviction{c, fmt.Sprintf("%s's agent reports its mysqld gone; member %s (%s) is still in this node's view", c.Site, c.UUID, c.Node)})
			}
		}
	}
	return out
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
