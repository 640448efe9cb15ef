package galera

import (
	"os"
	"strings"
	"testing"
	"time"
)

// fixture reads "name<TAB>value" lines, # comments skipped.
func fixture(t *testing.T, name string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}

// Percona XtraDB Cluster 8.0: the same Galera status, its own maintenance switch (pxc_maint_mode,
// as ProxySQL reads it), and no wsrep_sst_donor_rejects_queries.
func TestPXCMaintMode(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		mode  string
		state State
		why   string
	}{
		{"DISABLED", Up, "synced"},
		{"MAINTENANCE", Maint, "pxc_maint_mode=MAINTENANCE"},
		{"SHUTDOWN", Drain, "pxc_maint_mode=SHUTDOWN"},
	} {
		s := Snapshot{At: now}
		fill(&s, fixture(t, "pxc80-status.txt"))
		vars := fixture(t, "pxc80-variables.txt")
		vars["pxc_maint_mode"] = c.mode
		if err := fillVars(&s, vars); err != nil {
			t.Fatal(err)
		}
		if s.NodeName != "pxc-lngs" || s.SSTDonorRejectsQueries || s.ReadOnly {
			t.Errorf("variables read as %+v", s)
		}
		v := Judge(s, Policy{StaleAfter: 3 * time.Second, DonorGrace: 5 * time.Second}, false, now)
		if v.State != c.state || !strings.Contains(v.Reason, c.why) {
			t.Errorf("pxc_maint_mode=%s: %s (%s), want %s (%s)", c.mode, v.State, v.Reason, c.state, c.why)
		}
	}
}

// MariaDB has no pxc_maint_mode: its absence changes nothing; a server without wsrep_node_name
// is no Galera node.
func TestVarsWithoutPXC(t *testing.T) {
	var s Snapshot
	if err := fillVars(&s, map[string]string{"wsrep_node_name": "bari", "read_only": "ON", "wsrep_desync": "OFF",
		"wsrep_sst_donor_rejects_queries": "OFF", "wsrep_reject_queries": "NONE"}); err != nil {
		t.Fatal(err)
	}
	if s.MaintMode != "" || !s.ReadOnly || s.Desync {
		t.Errorf("MariaDB variables read as %+v", s)
	}
	if err := fillVars(&s, map[string]string{"read_only": "OFF"}); err == nil || !strings.Contains(err.Error(), "wsrep_node_name") {
		t.Errorf("no wsrep_node_name: err = %v", err)
	}
}

func TestRecoveredPXC80(t *testing.T) {
	b, err := os.ReadFile("testdata/pxc80-wsrep-recover.log")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseRecovered(b)
	if err != nil || p.String() != "15ca005a-3878-11eb-9784-9fe32bcf190c:3" {
		t.Errorf("PXC 8.0's recovery log read as %v, %v", p, err)
	}
}
