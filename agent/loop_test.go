package agent

import (
	"testing"
	"time"

	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/membership"
)

func TestNewerView(t *testing.T) {
	mine := galera.Snapshot{ClusterStatus: "Primary", ClusterStateUUID: "u1", ClusterConfID: 7}
	peer := func(uuid string, conf int64, view ...string) membership.State {
		return membership.State{ClusterUUID: uuid, ConfID: conf, View: view}
	}
	cases := []struct {
		name   string
		snap   galera.Snapshot
		others []membership.State
		want   bool
	}{
		{"a peer in a later view", mine, []membership.State{peer("u1", 7, "a", "b", "c"), peer("u1", 8, "a", "b")}, true},
		{"the same view", mine, []membership.State{peer("u1", 7, "a", "b", "c")}, false},
		{"an earlier view", mine, []membership.State{peer("u1", 6, "a", "b", "c")}, false},
		{"another cluster", mine, []membership.State{peer("u2", 9, "a")}, false},
		{"a peer outside the Primary component (no view)", mine, []membership.State{peer("u1", 9)}, false},
		{"this node outside it: polling faster tells nothing", galera.Snapshot{ClusterStatus: "non-Primary", ClusterStateUUID: "u1", ClusterConfID: 7},
			[]membership.State{peer("u1", 8, "a", "b")}, false},
		{"this node's poll failed", galera.Snapshot{ErrClass: galera.ErrTimeout}, []membership.State{peer("", 8, "a")}, false},
	}
	for _, c := range cases {
		if got := newerView(c.snap, c.others); got != c.want {
			t.Errorf("%s: newerView = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPollEvery(t *testing.T) {
	now := time.Unix(1000, 0)
	cases := []struct {
		name     string
		normal   time.Duration
		silentAt time.Time
		want     time.Duration
	}{
		{"never delayed", 250 * time.Millisecond, time.Time{}, 250 * time.Millisecond},
		{"a site just fell silent", 250 * time.Millisecond, now.Add(-time.Second), fastPoll},
		{"long ago", 250 * time.Millisecond, now.Add(-fastPollFor), 250 * time.Millisecond},
		{"already faster than fastPoll", 20 * time.Millisecond, now, 20 * time.Millisecond},
	}
	for _, c := range cases {
		if got := pollEvery(c.normal, c.silentAt, now); got != c.want {
			t.Errorf("%s: pollEvery = %v, want %v", c.name, got, c.want)
		}
	}
}
