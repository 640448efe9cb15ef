package galera

import (
	"strings"
	"testing"
	"time"
)

func TestJudgeIsland(t *testing.T) {
	now := time.Now()
	cut := now.Add(-30 * time.Second)
	nonPrimary := Snapshot{At: now, ClusterStatus: "non-Primary", Connected: true}
	for _, c := range []struct {
		name        string
		s           Snapshot
		lastPrimary time.Time
		active      bool
		why         string
	}{
		{"cut off 30 s", nonPrimary, cut, true, "data 30s old"},
		{"in the Primary component", Snapshot{At: now, ClusterStatus: "Primary"}, now, false, "in the Primary component"},
		{"past max_stale", nonPrimary, now.Add(-11 * time.Minute), false, "past island.max_stale"},
		{"mysqld gone", Snapshot{At: now, ErrClass: ErrUnreachable}, cut, false, "does not answer"},
		{"stale poll", Snapshot{At: now.Add(-5 * time.Second), ClusterStatus: "non-Primary"}, cut, false, "no fresh poll"},
		{"never Primary", nonPrimary, time.Time{}, false, "age is unknown"},
	} {
		i := JudgeIsland(c.s, c.lastPrimary, 10*time.Minute, 2*time.Second, now)
		if i.Active != c.active || !strings.Contains(i.Reason, c.why) {
			t.Errorf("%s: %+v, want active %v (%s)", c.name, i, c.active, c.why)
		}
	}
}
