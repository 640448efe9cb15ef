package writer

import (
	"strings"
	"testing"
)

func sites(mod func(map[string]*Site)) []Site {
	m := map[string]*Site{
		"lngs":   {Name: "lngs", Priority: 300, InView: true, Known: true, Healthy: true, Heard: true},
		"bari":   {Name: "bari", Priority: 200, InView: true, Known: true, Healthy: true, Heard: true},
		"padova": {Name: "padova", Priority: 100, InView: true, Known: true, Healthy: true, Heard: true},
	}
	if mod != nil {
		mod(m)
	}
	return []Site{*m["padova"], *m["lngs"], *m["bari"]} // order must not matter
}

func TestDecide(t *testing.T) {
	for _, c := range []struct {
		name       string
		in         Input
		writer     string
		record     bool
		reasonPart string
	}{
		{"fresh cluster: highest priority", Input{Me: "lngs", Sites: sites(nil)}, "lngs", true, "no designated"},
		{"fresh cluster seen from bari", Input{Me: "bari", Sites: sites(nil)}, "lngs", false, "successor"},
		{"sticky: designated keeps it over a better site", Input{Me: "lngs", Designated: "bari", Sites: sites(nil)}, "bari", false, "designated"},
		{"failback when configured", Input{Me: "lngs", Designated: "bari", Failback: true, Sites: sites(nil)}, "lngs", true, "failback"},
		{"designated down: successor", Input{Me: "bari", Designated: "lngs", Sites: sites(func(m map[string]*Site) { m["lngs"].Healthy = false })}, "bari", true, "not eligible"},
		{"designated out of the view", Input{Me: "padova", Designated: "lngs", Sites: sites(func(m map[string]*Site) { m["lngs"].InView = false })}, "bari", false, "successor"},
		{"designated unknown: wait", Input{Me: "bari", Designated: "lngs", Sites: sites(func(m map[string]*Site) { m["lngs"].Known = false })}, "", false, "waiting"},
		{"better site unknown: do not claim", Input{Me: "padova", Sites: sites(func(m map[string]*Site) { m["lngs"].Healthy = false; m["bari"].Known = false })}, "", false, "waiting for news of bari"},
		{"unknown but out of view is irrelevant", Input{Me: "padova", Designated: "lngs", Sites: sites(func(m map[string]*Site) {
			m["lngs"].InView, m["lngs"].Known = false, false
			m["bari"].InView, m["bari"].Known = false, false
		})}, "padova", true, "successor"},
		{"designated healthy, a better site unknown: kept", Input{Me: "bari", Designated: "bari", Sites: sites(func(m map[string]*Site) { m["lngs"].Known = false })}, "bari", false, "designated writer, healthy"},
		{"failback waits for news of the better site", Input{Me: "bari", Designated: "bari", Failback: true, Sites: sites(func(m map[string]*Site) { m["lngs"].Known = false })}, "bari", false, "designated writer, healthy"},
		{"hold: no writer", Input{Me: "lngs", Designated: Hold, HoldActive: true, Sites: sites(nil)}, "", false, "switchover"},
		{"expired hold: successor", Input{Me: "lngs", Designated: Hold, Sites: sites(nil)}, "lngs", true, "no designated"},
		{"nobody healthy", Input{Me: "lngs", Sites: sites(func(m map[string]*Site) {
			for _, s := range m {
				s.Healthy = false
			}
		})}, "", false, "no eligible"},
		// Gossip dropped at bari alone: it hears no other agent, while Galera's view still holds all three.
		{"hears a minority of the view: names no successor", Input{Me: "bari", Designated: "lngs", Sites: sites(func(m map[string]*Site) {
			for _, n := range []string{"lngs", "padova"} {
				m[n].Healthy, m[n].Heard = false, false
			}
		})}, "", false, "hears only 1 of the 3 agents"},
		{"the designated writer cut off from gossip: the others name the successor", Input{Me: "bari", Designated: "lngs", Sites: sites(func(m map[string]*Site) {
			m["lngs"].Healthy, m["lngs"].Heard = false, false
		})}, "bari", true, "not eligible"},
		{"cut off from gossip but designated: keeps the writes until the record moves", Input{Me: "lngs", Designated: "lngs", Sites: sites(func(m map[string]*Site) {
			for _, n := range []string{"bari", "padova"} {
				m[n].Healthy, m[n].Heard = false, false
			}
		})}, "lngs", false, "designated writer, healthy"},
		{"the others out of the view: one heard of one", Input{Me: "padova", Designated: "lngs", Sites: sites(func(m map[string]*Site) {
			for _, n := range []string{"lngs", "bari"} {
				m[n].InView, m[n].Healthy, m[n].Heard = false, false, false
			}
		})}, "padova", true, "successor"},
		{"designated unknown site name", Input{Me: "bari", Designated: "milano", Sites: sites(nil)}, "lngs", false, "no designated"},
		{"files differ: the healthy designated writer is kept", Input{Me: "padova", Designated: "bari", Differ: []string{"lngs"}, Sites: sites(nil)}, "bari", false, "no failback or successor"},
		{"files differ: no failback", Input{Me: "lngs", Designated: "bari", Failback: true, Differ: []string{"padova"}, Sites: sites(nil)}, "bari", false, "designated"},
		{"files differ: no successor", Input{Me: "bari", Designated: "lngs", Differ: []string{"padova"}, Sites: sites(func(m map[string]*Site) { m["lngs"].Healthy = false })}, "", false, "decides the writer differently"},
		{"files differ: no first writer", Input{Me: "lngs", Differ: []string{"bari"}, Sites: sites(nil)}, "", false, "no successor until"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.in)
			if d.Writer != c.writer || d.Record != c.record || !strings.Contains(d.Reason, c.reasonPart) {
				t.Errorf("got %+v, want writer %q record %v reason containing %q", d, c.writer, c.record, c.reasonPart)
			}
		})
	}
}

// Agents that share their inputs agree; never two writers from one input set.
func TestDecideAgreement(t *testing.T) {
	mods := []func(map[string]*Site){
		nil,
		func(m map[string]*Site) { m["lngs"].Healthy = false },
		func(m map[string]*Site) { m["lngs"].InView = false; m["bari"].Healthy = false },
		func(m map[string]*Site) { m["bari"].Known = false },
		func(m map[string]*Site) { m["lngs"].Known = false; m["bari"].Known = false },
	}
	for i, mod := range mods {
		for _, des := range []string{"", "lngs", "bari", "padova", Hold} {
			var w []string
			for _, me := range []string{"lngs", "bari", "padova"} {
				w = append(w, Decide(Input{Me: me, Designated: des, HoldActive: des == Hold, Sites: sites(mod)}).Writer)
			}
			if w[0] != w[1] || w[1] != w[2] {
				t.Errorf("case %d designated %q: agents disagree: %v", i, des, w)
			}
		}
	}
}
