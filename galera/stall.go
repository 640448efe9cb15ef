package galera

import "time"

// StallSince follows a node's applier from one poll to the next: since is when it was first seen
// stuck (its receive queue not empty and wsrep_last_committed unmoved since the previous poll's
// prevCommitted), zero when it is not. Only a Synced node counts: a donor or a desynced node
// sends no flow control, so it holds nobody back. A node that cannot be read is not judged stuck.
func StallSince(prevSince time.Time, prevCommitted int64, s Snapshot) time.Time {
	if s.ErrClass != ErrNone || s.At.IsZero() || s.LocalState != StateSynced || s.RecvQueue == 0 || s.LastCommitted != prevCommitted {
		return time.Time{}
	}
	if prevSince.IsZero() {
		return s.At
	}
	return prevSince
}
