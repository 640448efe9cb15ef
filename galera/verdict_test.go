package galera

import (
	"strings"
	"testing"
	"time"
)

func synced(at time.Time) Snapshot {
	return Snapshot{At: at, LocalState: StateSynced, LocalStateComment: "Synced", ClusterStatus: "Primary",
		Ready: true, Connected: true, ClusterSize: 3, RejectQueries: "NONE"}
}

func TestJudge(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	pol := Policy{StaleAfter: 2 * time.Second, Weighting: true, RecvQueueHigh: 100, FlowControlHigh: 0.25}
	with := func(f func(*Snapshot)) Snapshot { s := synced(now.Add(-200 * time.Millisecond)); f(&s); return s }
	cases := []struct {
		name   string
		snap   Snapshot
		pol    Policy
		maint  bool
		state  State
		weight int
		reason string
	}{
		{"synced primary", with(func(*Snapshot) {}), pol, false, Up, 100, "synced"},
		{"maintenance wins over healthy", with(func(*Snapshot) {}), pol, true, Maint, 0, "maintenance"},
		{"maintenance wins over dead", Snapshot{}, pol, true, Maint, 0, "maintenance"},
		{"never polled", Snapshot{}, pol, false, Down, 0, "no poll"},
		{"stale", with(func(s *Snapshot) { s.At = now.Add(-3 * time.Second) }), pol, false, Down, 0, "stale"},
		{"unreachable", with(func(s *Snapshot) { s.ErrClass, s.Err = ErrUnreachable, "connection refused" }), pol, false, Down, 0, "unreachable"},
		{"auth failure", with(func(s *Snapshot) { s.ErrClass, s.Err = ErrAuth, "Access denied" }), pol, false, Down, 0, "auth"},
		{"poll timeout", with(func(s *Snapshot) { s.ErrClass, s.Err = ErrTimeout, "i/o timeout" }), pol, false, Down, 0, "timeout"},
		{"not connected", with(func(s *Snapshot) { s.Connected = false }), pol, false, Down, 0, "wsrep_connected=OFF"},
		{"non-primary", with(func(s *Snapshot) { s.ClusterStatus = "non-Primary" }), pol, false, Down, 0, "non-Primary"},
		{"disconnected", with(func(s *Snapshot) { s.ClusterStatus = "Disconnected"; s.Connected = false }), pol, false, Down, 0, "wsrep_connected=OFF"},
		{"not ready", with(func(s *Snapshot) { s.Ready = false }), pol, false, Down, 0, "wsrep_ready=OFF"},
		{"reject queries", with(func(s *Snapshot) { s.RejectQueries = "ALL" }), pol, false, Down, 0, "wsrep_reject_queries=ALL"},
		{"joining", with(func(s *Snapshot) { s.LocalState = StateJoining }), pol, false, Down, 0, "joining"},
		{"joined", with(func(s *Snapshot) { s.LocalState = StateJoined }), pol, false, Down, 0, "catching up"},
		{"unknown state", with(func(s *Snapshot) { s.LocalState = 0; s.LocalStateComment = "Initialized" }), pol, false, Down, 0, "unknown"},
		{"donor drains", with(func(s *Snapshot) { s.LocalState = StateDonor }), pol, false, Drain, 0, "donor"},
		{"applier stuck past the drain", with(func(s *Snapshot) { s.StalledSince, s.RecvQueue = now.Add(-6*time.Second), 31 }), Policy{StaleAfter: time.Second, StallDrain: 5 * time.Second}, false, Drain, 0, "applier stuck for 6s with 31 write-sets waiting"},
		{"applier stuck a moment", with(func(s *Snapshot) { s.StalledSince, s.RecvQueue = now.Add(-4*time.Second), 31 }), Policy{StaleAfter: time.Second, StallDrain: 5 * time.Second}, false, Up, 100, "synced"},
		{"applier stuck, drain off", with(func(s *Snapshot) { s.StalledSince, s.RecvQueue = now.Add(-time.Minute), 31 }), Policy{StaleAfter: time.Second}, false, Up, 100, "synced"},
		{"donor kept up", with(func(s *Snapshot) { s.LocalState = StateDonor }), Policy{StaleAfter: time.Second, AvailableWhenDonor: true}, false, Up, 100, "available_when_donor"},
		{"donor within its grace", with(func(s *Snapshot) { s.LocalState = StateDonor; s.DonorSince = now.Add(-time.Second) }), Policy{StaleAfter: time.Second, DonorGrace: 5 * time.Second}, false, Up, 100, "donor_grace"},
		{"donor past its grace", with(func(s *Snapshot) { s.LocalState = StateDonor; s.DonorSince = now.Add(-5 * time.Second) }), Policy{StaleAfter: time.Second, DonorGrace: 5 * time.Second}, false, Drain, 0, "donor"},
		{"donor since unknown", with(func(s *Snapshot) { s.LocalState = StateDonor }), Policy{StaleAfter: time.Second, DonorGrace: 5 * time.Second}, false, Drain, 0, "donor"},
		{"donor within its grace, rejecting queries", with(func(s *Snapshot) { s.LocalState = StateDonor; s.DonorSince = now; s.SSTDonorRejectsQueries = true }), Policy{StaleAfter: time.Second, DonorGrace: 5 * time.Second}, false, Down, 0, "donor rejecting"},
		{"operator desync within a donor grace", with(func(s *Snapshot) { s.LocalState = StateDonor; s.Desync = true; s.DonorSince = now }), Policy{StaleAfter: time.Second, DonorGrace: 5 * time.Second}, false, Drain, 0, "wsrep_desync=ON"},
		{"donor rejecting queries", with(func(s *Snapshot) { s.LocalState = StateDonor; s.SSTDonorRejectsQueries = true }), Policy{StaleAfter: time.Second, AvailableWhenDonor: true}, false, Down, 0, "donor rejecting"},
		{"operator desync", with(func(s *Snapshot) { s.LocalState = StateDonor; s.Desync = true }), Policy{StaleAfter: time.Second, AvailableWhenDonor: true}, false, Drain, 0, "wsrep_desync=ON"},
		{"read only", with(func(s *Snapshot) { s.ReadOnly = true }), pol, false, Drain, 0, "read_only"},
		{"behind: recv queue", with(func(s *Snapshot) { s.RecvQueue = 500 }), pol, false, Up, 10, "receive queue"},
		{"behind: flow control", with(func(s *Snapshot) { s.FlowControlPaused = 0.5 }), pol, false, Up, 10, "flow control"},
		{"weighting off", with(func(s *Snapshot) { s.RecvQueue = 500 }), Policy{StaleAfter: time.Second}, false, Up, 100, "synced"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.snap, c.pol, c.maint, now)
			if v.State != c.state || v.Weight != c.weight || !strings.Contains(v.Reason, c.reason) {
				t.Errorf("got %+v, want %s %d%% with reason containing %q", v, c.state, c.weight, c.reason)
			}
		})
	}
}

// Never up on doubt: any single field off its healthy value must not leave the node up at 100%.
func TestJudgeNeverUpOnDoubt(t *testing.T) {
	now := time.Now()
	pol := Policy{StaleAfter: time.Second}
	breaks := []func(*Snapshot){
		func(s *Snapshot) { s.At = time.Time{} },
		func(s *Snapshot) { s.ErrClass = ErrQuery },
		func(s *Snapshot) { s.Connected = false },
		func(s *Snapshot) { s.Ready = false },
		func(s *Snapshot) { s.ClusterStatus = "" },
		func(s *Snapshot) { s.LocalState = 0 },
		func(s *Snapshot) { s.LocalState = 99 },
		func(s *Snapshot) { s.RejectQueries = "ALL_KILL" },
	}
	for i, b := range breaks {
		s := synced(now)
		b(&s)
		if v := Judge(s, pol, false, now); v.State == Up {
			t.Errorf("break %d: judged up: %+v", i, v)
		}
	}
}
