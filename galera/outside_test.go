package galera

import (
	"slices"
	"testing"
)

func TestOutside(t *testing.T) {
	nodes := map[string]string{"lngs": "lngs", "bari": "bari", "padova": "node-padova"}
	view := func(names ...string) []Member {
		var m []Member
		for _, n := range names {
			m = append(m, Member{Name: n})
		}
		return m
	}
	good := Snapshot{NodeName: "bari", ClusterStatus: "Primary", Members: view("bari", "node-padova")}
	cases := []struct {
		name string
		snap func(Snapshot) Snapshot
		want []string
	}{
		{"lngs cut off", func(s Snapshot) Snapshot { return s }, []string{"lngs"}},
		{"everyone in", func(s Snapshot) Snapshot { s.Members = view("lngs", "bari", "node-padova"); return s }, nil},
		{"two out", func(s Snapshot) Snapshot { s.Members = view("bari"); return s }, []string{"lngs", "padova"}},
		{"non-Primary: it knows nothing", func(s Snapshot) Snapshot { s.ClusterStatus = "non-Primary"; return s }, nil},
		{"failed poll", func(s Snapshot) Snapshot { s.ErrClass, s.Members = ErrTimeout, nil; return s }, nil},
		{"no view read", func(s Snapshot) Snapshot { s.Members = nil; return s }, nil},
		{"a view without this node: not its own", func(s Snapshot) Snapshot { s.NodeName = "other"; return s }, nil},
		{"a node the cluster file does not name: the names are off", func(s Snapshot) Snapshot {
			s.NodeName, s.Members = "bari.example", view("bari.example", "node-padova")
			return s
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Outside(c.snap(good), nodes); !slices.Equal(got, c.want) {
				t.Errorf("Outside = %v, want %v", got, c.want)
			}
		})
	}
}
