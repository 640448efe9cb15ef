package galera

import (
	"testing"
	"time"
)

func TestEvictions(t *testing.T) {
	const (
		lngs = "11111111-1111-1111-1111-111111111111"
		bari = "22222222-2222-2222-2222-222222222222"
		pad  = "33333333-3333-3333-3333-333333333333"
	)
	view := []Member{{NodeUUID: lngs, Name: "lngs"}, {NodeUUID: bari, Name: "bari"}, {NodeUUID: pad, Name: "padova"}}
	healthy := Snapshot{ClusterStatus: "Primary", GcommUUID: pad, Members: view}
	claim := DeadClaim{Site: "lngs", Node: "lngs", UUID: lngs}
	for _, c := range []struct {
		name   string
		snap   func(Snapshot) Snapshot
		claims []DeadClaim
		want   int
	}{
		{"a dead member in the view", nil, []DeadClaim{claim}, 1},
		{"no claim", nil, nil, 0},
		{"this node is not Primary", func(s Snapshot) Snapshot { s.ClusterStatus = "non-Primary"; return s }, []DeadClaim{claim}, 0},
		{"this node's poll failed", func(s Snapshot) Snapshot { s.ErrClass = ErrTimeout; return s }, []DeadClaim{claim}, 0},
		{"already out of the view", func(s Snapshot) Snapshot { s.Members = view[1:]; return s }, []DeadClaim{claim}, 0},
		{"already evicted", func(s Snapshot) Snapshot { s.EvictList = "x, " + lngs; return s }, []DeadClaim{claim}, 0},
		{"a restarted node has a new UUID", nil, []DeadClaim{{Site: "lngs", Node: "lngs", UUID: "44444444-4444-4444-4444-444444444444"}}, 0},
		{"the UUID is another site's member", nil, []DeadClaim{{Site: "lngs", Node: "lngs", UUID: bari}}, 0},
		{"never itself", nil, []DeadClaim{{Site: "padova", Node: "padova", UUID: pad}}, 0},
		{"not a UUID", nil, []DeadClaim{{Site: "lngs", Node: "lngs", UUID: lngs + "'; DROP TABLE x; --"}}, 0},
		{"two dead", nil, []DeadClaim{claim, {Site: "bari", Node: "bari", UUID: bari}}, 2},
	} {
		s := healthy
		if c.snap != nil {
			s = c.snap(s)
		}
		if got := Evictions(s, c.claims); len(got) != c.want {
			t.Errorf("%s: %d evictions %+v, want %d", c.name, len(got), got, c.want)
		}
	}
	if _, err := EvictStatement("x'"); err == nil {
		t.Error("EvictStatement took a non-UUID")
	}
}

func TestClearEvictList(t *testing.T) {
	const (
		dead  = "11111111-1111-1111-1111-111111111111"
		dead2 = "44444444-4444-4444-4444-444444444444"
		bari  = "22222222-2222-2222-2222-222222222222"
	)
	view := []Member{{NodeUUID: bari, Name: "bari"}}
	known := map[string]bool{dead: true, dead2: true}
	for _, c := range []struct {
		name string
		snap Snapshot
		want bool
	}{
		{"dead members gone from the view", Snapshot{ClusterStatus: "Primary", Members: view, EvictList: dead + "," + dead2}, true},
		{"empty list", Snapshot{ClusterStatus: "Primary", Members: view}, false},
		{"the evicted member still in the view", Snapshot{ClusterStatus: "Primary", Members: append(view, Member{NodeUUID: dead}), EvictList: dead}, false},
		{"an operator's eviction", Snapshot{ClusterStatus: "Primary", Members: view, EvictList: dead + ",33333333-3333-3333-3333-333333333333"}, false},
		{"not Primary", Snapshot{ClusterStatus: "non-Primary", Members: view, EvictList: dead}, false},
		{"poll failed", Snapshot{ErrClass: ErrUnreachable, EvictList: dead}, false},
	} {
		if got := ClearEvictList(c.snap, known); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestStallEviction(t *testing.T) {
	const (
		lngs = "11111111-1111-1111-1111-111111111111"
		bari = "22222222-2222-2222-2222-222222222222"
		pad  = "33333333-3333-3333-3333-333333333333"
	)
	view := []Member{{NodeUUID: lngs, Name: "lngs"}, {NodeUUID: bari, Name: "bari"}, {NodeUUID: pad, Name: "padova"}}
	// lngs, the writer, held by flow control; padova's applier stuck.
	held := Snapshot{ClusterStatus: "Primary", LocalState: StateSynced, FlowControlActive: true, GcommUUID: lngs, Members: view}
	claim := StallClaim{Site: "padova", Node: "padova", UUID: pad, For: 31 * time.Second}
	const after = 30 * time.Second
	for _, c := range []struct {
		name   string
		snap   func(Snapshot) Snapshot
		claims []StallClaim
		after  time.Duration
		want   bool
	}{
		{"stuck past the window, this node held", nil, []StallClaim{claim}, after, true},
		{"eviction off", nil, []StallClaim{claim}, 0, false},
		{"not stuck long enough", nil, []StallClaim{{Site: "padova", Node: "padova", UUID: pad, For: 29 * time.Second}}, after, false},
		{"no claim", nil, nil, after, false},
		{"flow control does not hold this node", func(s Snapshot) Snapshot { s.FlowControlActive = false; return s }, []StallClaim{claim}, after, false},
		{"this node's own applier is stuck too", func(s Snapshot) Snapshot { s.StalledSince = time.Now(); return s }, []StallClaim{claim}, after, false},
		{"two sites stuck (a DDL every node runs)", nil, []StallClaim{claim, {Site: "bari", Node: "bari", UUID: bari, For: time.Minute}}, after, false},
		{"this node is not Primary", func(s Snapshot) Snapshot { s.ClusterStatus = "non-Primary"; return s }, []StallClaim{claim}, after, false},
		{"this node is a donor", func(s Snapshot) Snapshot { s.LocalState = StateDonor; return s }, []StallClaim{claim}, after, false},
		{"this node's poll failed", func(s Snapshot) Snapshot { s.ErrClass = ErrTimeout; return s }, []StallClaim{claim}, after, false},
		{"two members: the rest would lose the majority", func(s Snapshot) Snapshot { s.Members = []Member{view[0], view[2]}; return s }, []StallClaim{claim}, after, false},
		{"already evicted", func(s Snapshot) Snapshot { s.EvictList = pad; return s }, []StallClaim{claim}, after, false},
		{"out of the view", func(s Snapshot) Snapshot { s.Members = append(view[:2:2], Member{NodeUUID: bari, Name: "x"}); return s }, []StallClaim{claim}, after, false},
		{"the UUID is another site's member", nil, []StallClaim{{Site: "padova", Node: "padova", UUID: bari, For: time.Minute}}, after, false},
		{"never itself", nil, []StallClaim{{Site: "lngs", Node: "lngs", UUID: lngs, For: time.Minute}}, after, false},
		{"not a UUID", nil, []StallClaim{{Site: "padova", Node: "padova", UUID: pad + "'", For: time.Minute}}, after, false},
	} {
		s := held
		if c.snap != nil {
			s = c.snap(s)
		}
		e, ok := StallEviction(s, c.claims, c.after)
		if ok != c.want {
			t.Errorf("%s: evicts %v (%+v), want %v", c.name, ok, e, c.want)
		}
		if ok && (e.UUID != pad || e.Site != "padova") {
			t.Errorf("%s: evicts %+v, want padova's member", c.name, e)
		}
	}
}
