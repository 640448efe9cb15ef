// Package drbd reads DRBD's state from what its tools print, DRBD 8.4 (/proc/drbd, `drbdsetup
// status` text) and DRBD 9 (`drbdsetup status --json`, `drbdsetup events2`), into one model, and
// decides from it, as pure functions, when a site may promote and when a primary must demote.
package drbd

// Resource is one DRBD resource as seen from one node. Every parser fills this model.
type Resource struct {
	Name  string `json:"name"`
	Minor int    `json:"minor"`
	Role  string `json:"role"` // Primary, Secondary, Unknown
	Disk  string `json:"disk"` // UpToDate, Inconsistent, Outdated, Consistent, Diskless, DUnknown, ...
	// Quorum is DRBD 9's own quorum for the device; nil when DRBD does not say (8.4).
	Quorum *bool `json:"quorum,omitempty"`
	// Suspended: the device's I/O is frozen (fencing resource-and-stonith waiting on its handler,
	// lost quorum, or an operator's suspend-io); writes hang until it resumes.
	Suspended bool   `json:"suspended,omitempty"`
	Peers     []Peer `json:"peers"`
}

// Peer is the resource's connection to one peer node.
type Peer struct {
	Name string `json:"name,omitempty"` // DRBD 9's connection name; empty for 8.4
	// Connection: Connected (8.4 also reports the replication state here: SyncSource,
	// WFConnection, StandAlone ...); DRBD 9: Connected, Connecting, StandAlone, ...
	Connection  string  `json:"connection"`
	Replication string  `json:"replication,omitempty"` // Established, SyncSource, SyncTarget, ...
	Role        string  `json:"role"`                  // the peer's role, Unknown when not connected
	Disk        string  `json:"disk"`                  // the peer's disk, DUnknown when not connected
	OutOfSync   uint64  `json:"out_of_sync_kib"`
	SyncedPct   float64 `json:"synced_percent,omitempty"` // during a resync; 0 otherwise
}

// Connected reports whether the replication link to the peer is up: DRBD 9 "Connected", or any
// 8.4 connection state of a live link (Connected, Sync*, PausedSync*, Verify*, WFBitMap*,
// StartingSync*).
func (p Peer) Connected() bool {
	switch p.Connection {
	case "Connected", "SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT", "VerifyS", "VerifyT",
		"WFBitMapS", "WFBitMapT", "WFSyncUUID", "StartingSyncS", "StartingSyncT", "Established", "Ahead", "Behind":
		return true
	}
	return false
}

// State is the link's most telling state: DRBD 9's replication state when it has one (SyncSource,
// Established ...), else the connection state (8.4 reports both in one word).
func (p Peer) State() string {
	if p.Replication != "" {
		return p.Replication
	}
	return p.Connection
}

// StandAlone reports a connection DRBD will not retry by itself: after a split brain it stays
// there until an operator says which side's changes to discard.
func (p Peer) StandAlone() bool { return p.Connection == "StandAlone" }

// Primary reports whether this node holds the resource Primary.
func (r Resource) Primary() bool { return r.Role == "Primary" }

// UpToDate reports whether this node's disk holds the latest data DRBD knows of.
func (r Resource) UpToDate() bool { return r.Disk == "UpToDate" }

// PeerLink reports whether the replication link to the peer is up (the first peer: a keyha
// resource has one).
func (r Resource) PeerLink() bool { return len(r.Peers) > 0 && r.Peers[0].Connected() }

// PeerPrimary reports whether any connected peer is Primary.
func (r Resource) PeerPrimary() bool {
	for _, p := range r.Peers {
		if p.Connected() && p.Role == "Primary" {
			return true
		}
	}
	return false
}
