// Package galera reads a Galera node's state (Poller) and judges it (Judge). The judgement is a pure
// function of a Snapshot: no I/O, no clock.
package galera

import "time"

// wsrep_local_state values (Galera's node state machine).
const (
	StateJoining = 1
	StateDonor   = 2 // Donor/Desynced
	StateJoined  = 3
	StateSynced  = 4
)

// ErrClass says why a poll failed, for the verdict's reason and the poll error metric.
type ErrClass string

const (
	ErrNone        ErrClass = ""
	ErrUnreachable ErrClass = "unreachable" // refused, no route, DNS
	ErrAuth        ErrClass = "auth"        // access denied, bad credentials file
	ErrTimeout     ErrClass = "timeout"     // no answer within the poll deadline
	ErrQuery       ErrClass = "query"       // answered, but not with what we asked
)

// Snapshot is what one poll saw of the node. Names follow the wsrep status variables.
type Snapshot struct {
	At       time.Time     `json:"at"`                  // when the poll finished; zero: never polled
	Took     time.Duration `json:"took_ns"`             // how long the poll took
	ErrClass ErrClass      `json:"err_class,omitempty"` // set when the poll failed; the fields below are then empty
	Err      string        `json:"error,omitempty"`
	// Gone: the poll failed because nothing listens on the node's SQL port (a fresh connection was
	// refused): the mysqld process is not running. Never set for a timeout (hung or stopped).
	Gone bool `json:"process_gone,omitempty"`

	NodeName          string  `json:"node_name"`
	LocalState        int     `json:"wsrep_local_state"`
	LocalStateComment string  `json:"wsrep_local_state_comment"`
	ClusterStatus     string  `json:"wsrep_cluster_status"` // Primary, non-Primary, Disconnected
	Ready             bool    `json:"wsrep_ready"`
	Connected         bool    `json:"wsrep_connected"`
	ClusterSize       int     `json:"wsrep_cluster_size"`
	ClusterConfID     int64   `json:"wsrep_cluster_conf_id"`
	ClusterStateUUID  string  `json:"wsrep_cluster_state_uuid"`
	LastCommitted     int64   `json:"wsrep_last_committed"`
	LocalIndex        int     `json:"wsrep_local_index"`
	RecvQueue         int64   `json:"wsrep_local_recv_queue"`
	FlowControlPaused float64 `json:"wsrep_flow_control_paused"`
	FlowControlSent   int64   `json:"wsrep_flow_control_sent"`
	FlowControlActive bool    `json:"wsrep_flow_control_active"` // the cluster is paused by flow control now
	CertFailures      int64   `json:"wsrep_local_cert_failures"`
	GcommUUID         string  `json:"wsrep_gcomm_uuid"`               // this node's member UUID in the group (changes at each start)
	EvictList         string  `json:"wsrep_evs_evict_list,omitempty"` // UUIDs this node has evicted, comma-separated

	ReadOnly               bool   `json:"read_only"`
	RejectQueries          string `json:"wsrep_reject_queries"` // NONE, ALL, ALL_KILL
	SSTDonorRejectsQueries bool   `json:"wsrep_sst_donor_rejects_queries"`
	Desync                 bool   `json:"wsrep_desync"`
	// MaintMode is Percona XtraDB Cluster's pxc_maint_mode (DISABLED, SHUTDOWN, MAINTENANCE);
	// empty on MariaDB, which has no such variable.
	MaintMode string `json:"pxc_maint_mode,omitempty"`
	// DonorSince is when the poller first found the node Donor/Desynced in the current run of
	// donor states (zero when it is not a donor).
	DonorSince time.Time `json:"donor_since,omitzero"`
	// StalledSince is when the poller first found the node's applier stuck (StallSince): Synced,
	// write-sets waiting, wsrep_last_committed unmoved; zero while it moves.
	StalledSince time.Time `json:"applier_stalled_since,omitzero"`

	Members []Member `json:"members,omitempty"` // mysql.wsrep_cluster_members: the current view

	Designated    WriterRow `json:"designated"`                 // keyha.writer as this node has it
	DesignatedErr string    `json:"designated_error,omitempty"` // why it could not be read: no claim then
}

// InView says whether a node of that name is in the snapshot's Galera view.
func (s Snapshot) InView(node string) bool {
	for _, m := range s.Members {
		if m.Name == node {
			return true
		}
	}
	return false
}

// Member is one row of mysql.wsrep_cluster_members.
type Member struct {
	NodeUUID string `json:"node_uuid"`
	Name     string `json:"node_name"`
	Incoming string `json:"node_incoming_address"`
}
