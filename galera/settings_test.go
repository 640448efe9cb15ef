package galera

import (
	"strings"
	"testing"
	"time"
)

func node(site string, size int, prov string, vars map[string]string) NodeSettings {
	if vars == nil {
		vars = map[string]string{"binlog_format": "ROW", "innodb_autoinc_lock_mode": "2", "wsrep_sst_method": "rsync"}
	}
	return NodeSettings{Site: site, ClusterSize: size, Provider: ParseProviderOptions(prov), Vars: vars}
}

func has(fs []Finding, level, text string) bool {
	for _, f := range fs {
		if f.Level == level && strings.Contains(f.What, text) {
			return true
		}
	}
	return false
}

func TestJudgeSettings(t *testing.T) {
	base := "evs.suspect_timeout = PT2.5S; evs.join_retrans_period = PT0.3S; evs.inactive_timeout = PT15S; evs.keepalive_period = PT0.5S; gmcast.listen_addr = tcp://10.0.0.%d:4567; gmcast.segment = 0"
	three := []NodeSettings{node("a", 3, strings.ReplaceAll(base, "%d", "1"), nil), node("b", 3, strings.ReplaceAll(base, "%d", "2"), nil), node("c", 3, strings.ReplaceAll(base, "%d", "3"), nil)}
	fs := JudgeSettings(three, time.Millisecond)
	for _, f := range fs {
		if f.Level != "OK" {
			t.Errorf("a sound three-site LAN cluster: %+v", f)
		}
	}

	two := three[:2]
	for i := range two {
		two[i].ClusterSize = 2
	}
	if fs := JudgeSettings(two, 0); !has(fs, "ERROR", "no arbitrator") {
		t.Errorf("two sites without garbd: %+v", fs)
	}
	for i := range two {
		two[i].ClusterSize = 3 // garbd counts in the cluster size
	}
	if fs := JudgeSettings(two, 0); has(fs, "ERROR", "no arbitrator") || !has(fs, "OK", "1 arbitrators") {
		t.Errorf("two sites with garbd: %+v", fs)
	}

	if fs := JudgeSettings(three, 200*time.Millisecond); !has(fs, "WARN", "evs.suspect_timeout=2.5s is short for a 200ms round trip between sites: use at least 10s") || !has(fs, "WARN", "gmcast.segment=0") {
		t.Errorf("WAN RTT with LAN timeouts: %+v", fs)
	}
	// Galera's default 5 s: every commit would wait 2 s longer than needed when a site is cut off.
	slow := []NodeSettings{node("a", 3, strings.ReplaceAll(strings.ReplaceAll(base, "PT2.5S", "PT5S"), "%d", "1"), nil), three[1], three[2]}
	slow[0].Provider["evs.join_retrans_period"] = "PT1S"
	if fs := JudgeSettings(slow, 20*time.Millisecond); !has(fs, "INFO", "evs.suspect_timeout=5s: every commit waits that long when a site is cut off; with a 20ms round trip, 2.5s is enough") ||
		!has(fs, "INFO", "evs.join_retrans_period=1s: a view change after an eviction waits up to that long; with a 20ms round trip, 300ms is enough") {
		t.Errorf("Galera's default suspect timeout at 20 ms: %+v", fs)
	}
	// Galera's 1 s keepalive: an idle peer is silent that long before a lost segment's resends,
	// so 2.5 s is short, and 3 s is what it needs; 0.5 s would allow 2.5 s.
	idle := func(suspect string) []NodeSettings {
		n := node("a", 3, strings.ReplaceAll(base, "%d", "1"), nil)
		n.Provider["evs.keepalive_period"], n.Provider["evs.suspect_timeout"] = "PT1S", suspect
		return []NodeSettings{n, three[1], three[2]}
	}
	if fs := JudgeSettings(idle("PT2.5S"), 20*time.Millisecond); !has(fs, "WARN", "evs.suspect_timeout=2.5s is short for a 20ms round trip between sites: use at least 3s") {
		t.Errorf("2.5 s with a 1 s keepalive at 20 ms: %+v", fs)
	}
	if fs := JudgeSettings(idle("PT3S"), 20*time.Millisecond); has(fs, "WARN", "evs.suspect_timeout=3s") ||
		!has(fs, "INFO", "evs.keepalive_period=1s: with 500ms, evs.suspect_timeout=2.5s rides out 1% loss as well, and a cut-off site stalls commits 500ms less") {
		t.Errorf("3 s with a 1 s keepalive at 20 ms: %+v", fs)
	}

	// Over a WAN: distinct segments and wide send windows are sound; Galera's default windows are not.
	wan := "evs.suspect_timeout = PT2.5S; evs.inactive_timeout = PT15S; evs.keepalive_period = PT0.5S; gmcast.segment = %d; evs.send_window = W; evs.user_send_window = W"
	wide := strings.ReplaceAll(wan, "W", "512")
	tuned := []NodeSettings{node("a", 3, strings.ReplaceAll(wide, "%d", "1"), nil), node("b", 3, strings.ReplaceAll(wide, "%d", "2"), nil), node("c", 3, strings.ReplaceAll(wide, "%d", "3"), nil)}
	for _, f := range JudgeSettings(tuned, 20*time.Millisecond) {
		if f.Level != "OK" {
			t.Errorf("a WAN-tuned cluster at 20 ms: %+v", f)
		}
	}
	narrow := strings.ReplaceAll(strings.Replace(wan, "W", "4", 1), "W", "2")
	untuned := []NodeSettings{node("a", 3, strings.ReplaceAll(narrow, "%d", "1"), nil), tuned[1], tuned[2]}
	if fs := JudgeSettings(untuned, 20*time.Millisecond); !has(fs, "WARN", "evs.send_window=4: at most 4 messages in flight per 20ms") || !has(fs, "WARN", "evs.user_send_window=2") {
		t.Errorf("default send windows at 20 ms: %+v", fs)
	}
	if fs := JudgeSettings(untuned, time.Millisecond); has(fs, "WARN", "messages in flight") {
		t.Errorf("default send windows on a LAN were judged: %+v", fs)
	}

	odd := []NodeSettings{three[0], three[1], node("c", 3, strings.ReplaceAll(base, "PT15S", "PT2S"), map[string]string{"binlog_format": "STATEMENT", "innodb_autoinc_lock_mode": "1", "wsrep_sst_method": "mariabackup"})}
	fs = JudgeSettings(odd, 0)
	for _, want := range []struct{ level, text string }{
		{"ERROR", "inactive_timeout (2s) is shorter"},
		{"ERROR", "binlog_format=STATEMENT"},
		{"WARN", "innodb_autoinc_lock_mode=1"},
		{"WARN", `wsrep_sst_method differs between sites: a,b="rsync" c="mariabackup"`},
		{"WARN", "evs.inactive_timeout differs"},
	} {
		if !has(fs, want.level, want.text) {
			t.Errorf("missing %s %q in %+v", want.level, want.text, fs)
		}
	}
	if has(fs, "WARN", "gmcast.listen_addr differs") {
		t.Error("a per-node option was reported as a difference")
	}
	if fs := JudgeSettings([]NodeSettings{{Site: "a", Err: "refused"}}, 0); !has(fs, "ERROR", "could not be read") {
		t.Errorf("unreadable node: %+v", fs)
	}
}

func TestParseISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"PT5S": 5 * time.Second, "PT1M": time.Minute, "PT0.5S": 500 * time.Millisecond, "P1D": 24 * time.Hour, "PT1H2M3S": time.Hour + 2*time.Minute + 3*time.Second} {
		if got, err := ParseISODuration(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "5s", "PT", "P", "PTxS"} {
		if _, err := ParseISODuration(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// Percona XtraDB Cluster (version_comment names it): pxc_strict_mode and its SST methods judged;
// a MariaDB node with rsync is not.
func TestJudgePXC(t *testing.T) {
	pxc := func(site, strict, sst string) NodeSettings {
		return node(site, 3, "gmcast.segment = 0", map[string]string{"binlog_format": "ROW", "innodb_autoinc_lock_mode": "2",
			"wsrep_sst_method": sst, "pxc_strict_mode": strict, "version_comment": "Percona XtraDB Cluster (GPL), Release rel12, Revision 4d973e2, WSREP version 26.4.3"})
	}
	fs := JudgeSettings([]NodeSettings{pxc("a", "ENFORCING", "xtrabackup-v2"), pxc("b", "ENFORCING", "xtrabackup-v2"), pxc("c", "ENFORCING", "clone")}, 0)
	if has(fs, "ERROR", "wsrep_sst_method") || has(fs, "WARN", "pxc_strict_mode") {
		t.Errorf("a sound PXC cluster: %+v", fs)
	}
	fs = JudgeSettings([]NodeSettings{pxc("a", "PERMISSIVE", "xtrabackup-v2"), pxc("b", "ENFORCING", "rsync"), pxc("c", "ENFORCING", "xtrabackup-v2")}, 0)
	if !has(fs, "WARN", "pxc_strict_mode=PERMISSIVE") || !has(fs, "ERROR", "wsrep_sst_method=rsync: Percona XtraDB Cluster 8.0") {
		t.Errorf("PXC with PERMISSIVE and rsync: %+v", fs)
	}
	maria := node("a", 3, "gmcast.segment = 0", nil)
	if fs := JudgeSettings([]NodeSettings{maria}, 0); has(fs, "ERROR", "Percona") || IsPXC(maria) {
		t.Errorf("MariaDB judged as PXC: %+v", fs)
	}
}

func TestSuspectTimeout(t *testing.T) {
	for _, c := range []struct {
		rtt, keepalive, want time.Duration
	}{
		{time.Millisecond, 500 * time.Millisecond, 2500 * time.Millisecond}, // 0.5 + 7 x 0.201 + 0.3 = 2.21 s
		{20 * time.Millisecond, 500 * time.Millisecond, 2500 * time.Millisecond},
		{20 * time.Millisecond, time.Second, 3 * time.Second}, // Galera's keepalive: 2.84 s
		{60 * time.Millisecond, time.Second, 3500 * time.Millisecond},
		{200 * time.Millisecond, time.Second, 10 * time.Second}, // 50 round trips
	} {
		if got := SuspectTimeout(c.rtt, c.keepalive); got != c.want {
			t.Errorf("SuspectTimeout(%s, %s) = %s, want %s", c.rtt, c.keepalive, got, c.want)
		}
	}
}
