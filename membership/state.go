// Package membership joins the sites' agents in a hashicorp/memberlist cluster and gossips each
// site's small, versioned State. No memberlist type leaves this package.
package membership

import (
	"encoding/json"
	"fmt"
)

// Version of the State payload. A peer sending another version is shown but not trusted.
const Version = 1

// State is what a site's agent tells the others. It travels as the node's memberlist metadata,
// which is limited to 512 bytes: keep it small.
type State struct {
	V             int      `json:"v"`
	Site          string   `json:"s"`
	Health        string   `json:"h"`            // the agent's verdict on its node: up, drain, down, maint
	NodeState     string   `json:"n,omitempty"`  // wsrep_local_state_comment
	Writer        string   `json:"w,omitempty"`  // whom this agent takes as writer
	LastCommitted int64    `json:"lc,omitempty"` // wsrep_last_committed
	ClusterUUID   string   `json:"u,omitempty"`  // wsrep_cluster_state_uuid
	ConfID        int64    `json:"c,omitempty"`  // wsrep_cluster_conf_id
	View          []string `json:"m,omitempty"`  // node names in this node's Galera view
	ConfigHash    string   `json:"ch,omitempty"` // first 12 hex digits of the cluster file's SHA-256
	Decision      string   `json:"dd,omitempty"` // config.Cluster.Decision of the file the agent runs
	AgentVersion  string   `json:"av,omitempty"`
	// Dead: the member UUID this site's node last had, sent only when the agent knows its mysqld
	// process is gone (its port refuses connections); the others may evict that member at once.
	Dead string `json:"x,omitempty"`
	// Stall: the member UUID of this site's node while its applier is stuck with write-sets
	// waiting, and for how long (ms); the others may evict it once that passes
	// agent.evict_stalled_after (galera.StallEviction).
	Stall    string `json:"sl,omitempty"`
	StallFor int64  `json:"sf,omitempty"`
	// DRBD mode: the resource's role and disk here, the data site this agent has fenced (its
	// DRBD fence-peer handler asked: that site must not promote), and the fence this agent
	// holds for another ("lngs>bari": lngs fenced bari), which is how a witness votes.
	Role  string `json:"r,omitempty"`
	Disk  string `json:"d,omitempty"`
	Fence string `json:"f,omitempty"`
	Ack   string `json:"k,omitempty"`
	// Beat counts the agent's polls: one that stops moving is a silent agent (Beats).
	Beat uint64 `json:"b,omitempty"`
}

// Encode renders a State for the wire, refusing one that would not fit the metadata limit.
func Encode(s State, limit int) ([]byte, error) {
	s.V = Version
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("gossip state of %s is %d bytes, over memberlist's %d-byte limit", s.Site, len(b), limit)
	}
	return b, nil
}

// Decode parses a peer's State. An empty, malformed or other-version payload is an error: the
// peer is then known to be alive but its state is not trusted.
func Decode(b []byte) (State, error) {
	var s State
	if len(b) == 0 {
		return s, fmt.Errorf("no state yet")
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("decode gossip state: %w", err)
	}
	if s.V != Version {
		return State{}, fmt.Errorf("gossip state version %d, this agent speaks %d", s.V, Version)
	}
	return s, nil
}
