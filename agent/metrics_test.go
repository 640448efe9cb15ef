package agent

import (
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
)

const galeraCluster = `cluster: t
credentials: {monitor: /nonexistent/monitor.cnf}
gossip: {key_file: /nonexistent/cluster.key}
sites:
  - {name: lngs, sql: 127.0.0.1:1, gossip: 127.0.0.1:2}
  - {name: bari, sql: 127.0.0.1:3, gossip: 127.0.0.1:4}
  - {name: padova, sql: 127.0.0.1:5, gossip: 127.0.0.1:6}
`

// Labels come from small fixed sets: these names, never a free-text value (site: the cluster
// file's sites; hash, like version: one series at a time).
var fixedLabels = map[string]bool{"kind": true, "state": true, "class": true, "version": true, "goversion": true, "mode": true, "action": true, "result": true,
	"site": true, "hash": true}

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		out[f.GetName()] = f
		if !strings.HasPrefix(f.GetName(), "keyha_") && !strings.HasPrefix(f.GetName(), "mysql_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !fixedLabels[l.GetName()] {
					t.Errorf("%s has label %s=%q: not one of the fixed classes", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
	return out
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil || len(f.GetMetric()) == 0 {
		t.Fatalf("no series %s", name)
	}
	m := f.GetMetric()[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	t.Fatalf("%s is neither gauge nor counter", name)
	return 0
}

// common checks what both modes export alike.
func common(t *testing.T, fams map[string]*dto.MetricFamily, mode string) {
	t.Helper()
	bi := fams["keyha_build_info"]
	if bi == nil {
		t.Fatal("no keyha_build_info")
	}
	labels := map[string]string{}
	for _, l := range bi.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["mode"] != mode || labels["version"] == "" || !strings.HasPrefix(labels["goversion"], "go") {
		t.Errorf("keyha_build_info labels %v, want mode %s, a version and a Go version", labels, mode)
	}
	checks := fams["keyha_agent_checks_total"]
	if checks == nil || checks.GetType() != dto.MetricType_COUNTER || len(checks.GetMetric()) != 2 {
		t.Errorf("keyha_agent_checks_total: %v, want a counter with kinds agent and http", checks)
	}
	if _, ok := fams["keyha_checks_served_total"]; ok {
		t.Error("keyha_checks_served_total: the DRBD name for checks served is gone; both modes say keyha_agent_checks_total")
	}
}

// testGaleraAgent is a Galera-mode agent of galeraCluster that logs nowhere and has polled nothing.
func testGaleraAgent(t *testing.T, site string) *Agent {
	t.Helper()
	c, err := config.Parse([]byte(galeraCluster))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(c, site, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestGaleraMetrics(t *testing.T) {
	a := testGaleraAgent(t, "bari")
	now := time.Now()
	a.now = func() time.Time { return now }

	// A failed poll: the wsrep series are not made up, but poll_ok says 0 rather than vanishing.
	a.snap = galera.Snapshot{At: now, ErrClass: galera.ErrUnreachable, Err: "connection refused"}
	fams := gather(t, a.metrics.reg)
	common(t, fams, "galera")
	if v := value(t, fams, "keyha_agent_poll_ok"); v != 0 {
		t.Errorf("keyha_agent_poll_ok = %v after a failed poll, want 0", v)
	}
	if _, ok := fams["mysql_global_status_wsrep_local_state"]; ok {
		t.Error("wsrep series exported from a failed poll")
	}
	if _, ok := fams["keyha_agent_verdict_info"]; ok {
		t.Error("keyha_agent_verdict_info carries the free-text reason as a label")
	}

	a.snap = galera.Snapshot{At: now, LocalState: galera.StateSynced, ClusterStatus: "Primary", Ready: true, Connected: true,
		ClusterSize: 3, ClusterConfID: 7, LastCommitted: 1234, FlowControlSent: 2, CertFailures: 1}
	fams = gather(t, a.metrics.reg)
	if v := value(t, fams, "keyha_agent_poll_ok"); v != 1 {
		t.Errorf("keyha_agent_poll_ok = %v after a good poll, want 1", v)
	}
	for name, want := range map[string]dto.MetricType{
		"mysql_global_status_wsrep_last_committed":      dto.MetricType_COUNTER,
		"mysql_global_status_wsrep_cluster_conf_id":     dto.MetricType_COUNTER,
		"mysql_global_status_wsrep_flow_control_sent":   dto.MetricType_COUNTER,
		"mysql_global_status_wsrep_local_cert_failures": dto.MetricType_COUNTER,
		"mysql_global_status_wsrep_local_state":         dto.MetricType_GAUGE,
		"mysql_global_status_wsrep_flow_control_paused": dto.MetricType_GAUGE,
		"keyha_agent_polls_total":                       dto.MetricType_COUNTER,
		"keyha_agent_poll_errors_total":                 dto.MetricType_COUNTER,
	} {
		if f := fams[name]; f == nil || f.GetType() != want {
			t.Errorf("%s: %v, want type %v", name, f.GetType(), want)
		}
	}
	if v := value(t, fams, "mysql_global_status_wsrep_last_committed"); v != 1234 {
		t.Errorf("wsrep_last_committed = %v, want 1234", v)
	}

	// Who this agent names as writer, one series per site; bari itself does not take the writes.
	a.mu.Lock()
	a.decision.Writer = "lngs"
	a.mu.Unlock()
	fams = gather(t, a.metrics.reg)
	named := map[string]float64{}
	for _, m := range fams["keyha_writer_named"].GetMetric() {
		named[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
	}
	if want := map[string]float64{"lngs": 1, "bari": 0, "padova": 0}; !maps.Equal(named, want) {
		t.Errorf("keyha_writer_named = %v, want %v", named, want)
	}
	if v := value(t, fams, "keyha_agent_writer"); v != 0 {
		t.Errorf("keyha_agent_writer = %v at a standby, want 0", v)
	}
	info := fams["keyha_config_info"].GetMetric()
	if len(info) != 1 || info[0].GetLabel()[0].GetValue() != shortHash(a.cfg().cluster.Hash) {
		t.Errorf("keyha_config_info = %v, want one series with hash %s", info, shortHash(a.cfg().cluster.Hash))
	}
}

func TestDRBDMetrics(t *testing.T) {
	a := testDRBDAgent(t, "lngs")
	fams := gather(t, a.reg)
	common(t, fams, "drbd")
	if v := value(t, fams, "keyha_agent_poll_ok"); v != 0 {
		t.Errorf("keyha_agent_poll_ok = %v before any poll, want 0", v)
	}
	a.mu.Lock()
	a.polled = true
	a.mu.Unlock()
	if v := value(t, gather(t, a.reg), "keyha_agent_poll_ok"); v != 1 {
		t.Errorf("keyha_agent_poll_ok = %v after a good read, want 1", v)
	}
	for _, frozen := range []bool{false, true} {
		a.mu.Lock()
		a.res.Suspended = frozen
		a.mu.Unlock()
		if v := value(t, gather(t, a.reg), "keyha_drbd_io_frozen"); v != b2f(frozen) {
			t.Errorf("keyha_drbd_io_frozen = %v with the device suspended %v", v, frozen)
		}
	}
	if _, ok := fams["keyha_drbd_read_ok"]; ok {
		t.Error("keyha_drbd_read_ok is keyha_agent_poll_ok now")
	}
}

// A node whose wsrep_node_name is not the site's node name is said so in /status (and logged by
// the poll loop): such a site never shows in the Galera view and can never be the writer.
func TestNodeNameMismatchIsShown(t *testing.T) {
	a := testGaleraAgent(t, "bari")
	for _, c := range []struct {
		node, want string
	}{
		{"", ""},     // not polled yet: nothing to say
		{"bari", ""}, // as the cluster file says
		{"db2.bari.example", `wsrep_node_name is "db2.bari.example", the cluster file expects "bari"`},
	} {
		a.snap = galera.Snapshot{At: time.Now(), NodeName: c.node}
		got := a.Report().Detail.(Detail).Problem
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("node name %q: problem %q, want %q", c.node, got, c.want)
		}
		if c.want != "" && !strings.Contains(got, "sites (bari).node_name") {
			t.Errorf("problem %q does not name the key to fix", got)
		}
	}
}

// Every series an agent exports has one row in docs/agent.md.
func TestEverySeriesDocumented(t *testing.T) {
	raw, err := os.ReadFile("../docs/agent.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for mode, reg := range map[string]*prometheus.Registry{"galera": testGaleraAgent(t, "bari").Metrics(), "drbd": testDRBDAgent(t, "bari").reg} {
		for name := range gather(t, reg) {
			if !strings.HasPrefix(name, "keyha_") {
				continue // go_*, process_* and mysqld_exporter's mysql_* are documented as families
			}
			row := "\n| `" + name
			if n := strings.Count(doc, row+"`") + strings.Count(doc, row+"{"); n != 1 {
				t.Errorf("%s (%s mode): %d rows in docs/agent.md, want 1", name, mode, n)
			}
		}
	}
}
