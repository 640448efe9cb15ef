package galera

import (
	"testing"
	"time"
)

func TestStallSince(t *testing.T) {
	t0 := time.Now()
	synced := func(at time.Duration, queue, committed int64) Snapshot {
		return Snapshot{At: t0.Add(at), LocalState: StateSynced, RecvQueue: queue, LastCommitted: committed}
	}
	for _, c := range []struct {
		name      string
		since     time.Time
		committed int64
		s         Snapshot
		want      time.Time
	}{
		{"queue empty", time.Time{}, 10, synced(0, 0, 10), time.Time{}},
		{"applying", time.Time{}, 10, synced(0, 5, 11), time.Time{}},
		{"first stuck poll", time.Time{}, 10, synced(time.Second, 5, 10), t0.Add(time.Second)},
		{"still stuck", t0, 10, synced(3*time.Second, 9, 10), t0},
		{"moving again", t0, 10, synced(4*time.Second, 9, 12), time.Time{}},
		{"a donor holds nobody back", t0, 10, Snapshot{At: t0, LocalState: StateDonor, RecvQueue: 9, LastCommitted: 10}, time.Time{}},
		{"not read", t0, 10, Snapshot{At: t0, ErrClass: ErrTimeout}, time.Time{}},
	} {
		if got := StallSince(c.since, c.committed, c.s); !got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
