package agent

import (
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/writer"
)

func TestMayCommit(t *testing.T) {
	c := &config.Cluster{Sites: []config.Site{{Name: "lngs", NodeName: "lngs"}, {Name: "bari", NodeName: "bari"}}}
	view := galera.Snapshot{ClusterStatus: "Primary", Members: []galera.Member{{Name: "lngs"}, {Name: "bari"}}}
	alone := galera.Snapshot{ClusterStatus: "Primary", Members: []galera.Member{{Name: "bari"}}}
	lost := view
	lost.ClusterStatus = "non-Primary"
	live := map[string]membership.Peer{"lngs": {Status: "alive", State: membership.State{Site: "lngs", Health: "drain"}}}
	gone := map[string]membership.Peer{"lngs": {Status: "alive", State: membership.State{Site: "lngs", Dead: "u-1"}}}
	garbled := map[string]membership.Peer{"lngs": {Status: "alive", StateErr: "bad state"}}
	for _, c2 := range []struct {
		name  string
		site  string
		snap  galera.Snapshot
		peers map[string]membership.Peer
		want  bool
	}{
		{"drained, in the view, its agent alive", "lngs", view, live, true},
		{"its agent's state unreadable", "lngs", view, garbled, true},
		{"this node out of the Primary component: it cannot tell", "lngs", lost, live, true},
		{"out of this Primary view", "lngs", alone, live, false},
		{"its mysqld reported gone", "lngs", view, gone, false},
		{"its agent declared dead by gossip, its node still in the view", "lngs", view, map[string]membership.Peer{}, true},
		{"its agent declared dead by gossip, its node out of the view", "lngs", alone, map[string]membership.Peer{}, false},
		{"a switchover's hold", writer.Hold, view, live, false},
		{"no writer recorded", "", view, live, false},
		{"a site not in the cluster file", "rome", view, live, true},
	} {
		if got := mayCommit(c, c2.site, c2.snap, c2.peers); got != c2.want {
			t.Errorf("%s: mayCommit = %v, want %v", c2.name, got, c2.want)
		}
	}
}

func TestHandoverWait(t *testing.T) {
	c := &config.Cluster{Agent: config.Agent{PollInterval: 500 * time.Millisecond, PollTimeout: time.Second}}
	// Defaults: inter 1s + fall 2 x check 1s + 1 x fastinter 500ms = 3.5s, after one poll (1.5s).
	if got, want := handoverWait(c), 5*time.Second; got != want {
		t.Errorf("handoverWait = %v, want %v", got, want)
	}
	c.HAProxy.CheckInterval = 1500 * time.Millisecond
	if got, want := handoverWait(c), 5500*time.Millisecond; got != want {
		t.Errorf("with check_interval 1500ms: handoverWait = %v, want %v", got, want)
	}
}
