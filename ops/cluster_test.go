package ops

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
)

// keyha status --json has one shape in both modes: the same top-level keys, and the same keys for
// every site, whatever the mode's detail holds.
func TestClusterStatusShape(t *testing.T) {
	primary := func(site, writer string) AgentStatus {
		s := AgentStatus{Site: site, State: "up", Role: "standby", Writer: writer, Reason: "standby"}
		s.Detail.Snapshot.ClusterStatus = "Primary"
		s.Detail.Snapshot.LocalState = galera.StateSynced
		return s
	}
	gal := GaleraStatus(&config.Cluster{Name: "lab", Mode: "galera"}, []AgentStatus{primary("lngs", "lngs"), primary("bari", "lngs"), {Site: "padova", Err: "connection refused"}})
	drb := DRBDStatusOf(&config.Cluster{Name: "lab", Mode: "drbd"}, []DRBDSite{{Site: "lngs", State: "up", Role: "Primary"}, {Site: "bari", State: "down", Role: "Secondary"}, {Site: "padova", Err: "timeout"}})
	if gal.Writer != "lngs" || drb.Writer != "lngs" {
		t.Errorf("writer: galera %q (%s), drbd %q (%s), want lngs in both", gal.Writer, gal.Problem, drb.Writer, drb.Problem)
	}
	keys := func(st ClusterStatus) (top []string, site []string) {
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		for k := range m {
			top = append(top, k)
		}
		for k := range m["sites"].([]any)[0].(map[string]any) {
			site = append(site, k)
		}
		slices.Sort(top)
		slices.Sort(site)
		return top, site
	}
	gt, gs := keys(gal)
	dt, ds := keys(drb)
	if strings.Join(gt, ",") != strings.Join(dt, ",") || strings.Join(gt, ",") != "cluster,mode,sites,writer" {
		t.Errorf("top-level keys: galera %v, drbd %v", gt, dt)
	}
	for _, k := range []string{"site", "state", "role", "reason", "detail"} {
		if !slices.Contains(gs, k) || !slices.Contains(ds, k) {
			t.Errorf("site key %q: galera %v, drbd %v", k, gs, ds)
		}
	}
	two := DRBDStatusOf(&config.Cluster{Name: "lab", Mode: "drbd"}, []DRBDSite{{Site: "lngs", State: "up"}, {Site: "bari", State: "up"}})
	if two.Writer != "" || !strings.Contains(two.Problem, "lngs, bari") {
		t.Errorf("two sites up: writer %q, problem %q", two.Writer, two.Problem)
	}
}
