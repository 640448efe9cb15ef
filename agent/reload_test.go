package agent

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/writer"
)

// A reload takes a file that changes only what may change while running, and keeps the running
// file, saying why, when the new one is invalid or changes what needs a restart.
func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyha.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(galeraCluster)
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(c, "bari", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	first := a.cfg().cluster

	for _, tc := range []struct {
		name, file, result, pending string
		taken                       bool
	}{
		{"the same file", galeraCluster, "unchanged", "", false},
		{"a priority", strings.Replace(galeraCluster, "{name: padova,", "{name: padova, priority: 50,", 1), "ok", "", true},
		{"broken YAML", "cluster: [", "invalid", "decode YAML", false},
		{"a gossip address", strings.Replace(galeraCluster, "127.0.0.1:4", "127.0.0.1:7", 1), "restart", "sites (bari).gossip", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.cfg().cluster
			write(tc.file)
			err := a.Reload()
			if (err == nil) != (tc.pending == "") {
				t.Errorf("Reload() = %v", err)
			}
			if got := a.cfg().cluster != before; got != tc.taken {
				t.Errorf("file taken = %v, want %v", got, tc.taken)
			}
			p := a.Report().Detail.(Detail).Pending
			if !strings.Contains(p, tc.pending) || (tc.pending == "") != (p == "") {
				t.Errorf("config_pending %q, want it to name %q", p, tc.pending)
			}
			if got := counter(t, a, tc.result); got < 1 {
				t.Errorf("keyha_config_reloads_total{result=%q} = %v", tc.result, got)
			}
		})
	}
	if a.cfg().cluster == first {
		t.Error("the first file is still in force")
	}
	if p, _ := a.cfg().cluster.Site("padova"); p.Priority != 50 {
		t.Errorf("padova's priority %d after the reloads, want 50 (the last file taken)", p.Priority)
	}
}

func counter(t *testing.T, a *Agent, result string) float64 {
	t.Helper()
	for _, m := range gather(t, a.Metrics())["keyha_config_reloads_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "result" && l.GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no keyha_config_reloads_total{result=%q}", result)
	return 0
}

// A peer whose file decides the writer differently holds back a new writer but not the
// designated one; a peer whose file differs elsewhere changes nothing.
func TestDecideWithOtherFiles(t *testing.T) {
	a := testGaleraAgent(t, "bari")
	cf := a.cfg()
	other, err := config.Parse([]byte(strings.Replace(galeraCluster, "{name: padova,", "{name: padova, priority: 50,", 1)))
	if err != nil {
		t.Fatal(err)
	}
	members := []galera.Member{{Name: "lngs"}, {Name: "bari"}, {Name: "padova"}}
	peer := func(site, health, decision string) membership.Peer {
		return membership.Peer{Status: "alive", State: membership.State{Site: site, Health: health, Decision: decision, ConfigHash: "whatever"}}
	}
	for _, tc := range []struct {
		name, designated, lngs, padovaDecision, writer, reason string
	}{
		{"same decision, other hash", "lngs", "up", cf.cluster.Decision(), "lngs", "designated writer, healthy"},
		{"differ: designated kept", "lngs", "up", other.Decision(), "lngs", "no failback or successor"},
		{"differ: no successor", "lngs", "down", other.Decision(), "", "decides the writer differently"},
		{"same: successor", "lngs", "down", cf.cluster.Decision(), "bari", "successor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := galera.Snapshot{ClusterStatus: "Primary", Members: members, Designated: galera.WriterRow{Site: tc.designated}}
			peers := map[string]membership.Peer{"lngs": peer("lngs", tc.lngs, cf.cluster.Decision()), "padova": peer("padova", "up", tc.padovaDecision)}
			d := a.decide(cf, snap, galera.Verdict{State: galera.Up}, peers, a.started)
			if d.Writer != tc.writer || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("decision %+v, want writer %q, reason with %q", d, tc.writer, tc.reason)
			}
		})
	}
}

// A silent writer's agent must be out of every HAProxy before gossip may declare it dead: the
// defaults pass (HAProxy 3.5 s, lan gossip 4.5 s); a slower check or a faster preset is refused.
func TestCheckTimings(t *testing.T) {
	for _, c := range []struct {
		preset string
		ha     config.HAProxy
		want   string
	}{
		{"lan", config.HAProxy{}, ""},
		{"wan", config.HAProxy{CheckInterval: 5 * time.Second, Fall: 3}, ""},
		{"local", config.HAProxy{}, "two writers"},
		{"lan", config.HAProxy{Fall: 3}, "HAProxy may keep a silent agent's node UP for 5s"},
	} {
		cl := &config.Cluster{Mode: "galera", Writer: config.Writer{Mode: "single"}, Gossip: config.Gossip{Preset: c.preset},
			HAProxy: c.ha, Sites: []config.Site{{Name: "a"}, {Name: "b"}}}
		err := CheckTimings(cl)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s %+v: %v, want %q", c.preset, c.ha, err, c.want)
		}
	}
}

// The moment a Primary component forms again, every agent judges its own node up while the others'
// gossip still says "down" from before. Taken as news, that made each agent in turn claim the
// writes (the nemesis caught three writers within 130 ms). Health counts only from a state that
// carries this view's id: lngs and padova wait for news of bari (the designated writer, and first
// by priority here), and bari keeps the writes.
func TestStaleGossipIsNoNews(t *testing.T) {
	members := []galera.Member{{Name: "lngs"}, {Name: "bari"}, {Name: "padova"}}
	peer := func(site, health string, conf int64, decision string) membership.Peer {
		return membership.Peer{Status: "alive", State: membership.State{Site: site, Health: health, ConfID: conf, Decision: decision}}
	}
	for _, tc := range []struct {
		me, designated string
		peerConf       int64
		writer, reason string
	}{
		{"lngs", "bari", 7, "", "waiting for news of bari"},
		{"padova", "bari", 7, "", "waiting for news of bari"},
		{"bari", "bari", 7, "bari", "designated writer, healthy"},
		{"lngs", "", 7, "", "waiting for news of bari"},
		{"lngs", "bari", 9, "lngs", "successor"},      // the same view: bari really is down
		{"lngs", "bari-dead", 7, "lngs", "successor"}, // bari's agent says its mysqld is gone: news in any view
	} {
		a := testGaleraAgent(t, tc.me)
		cf := a.cfg()
		designated, dead := strings.CutSuffix(tc.designated, "-dead")
		snap := galera.Snapshot{ClusterStatus: "Primary", ClusterConfID: 9, Members: members, Designated: galera.WriterRow{Site: designated}}
		peers := map[string]membership.Peer{}
		for _, s := range []string{"lngs", "bari", "padova"} {
			if s != tc.me {
				peers[s] = peer(s, "down", tc.peerConf, cf.cluster.Decision())
			}
		}
		if dead {
			p := peers[designated]
			p.State.Dead = "7f7e3c1a-e95f-11f1-8538-bbf10885956e"
			peers[designated] = p
		}
		d := a.decide(cf, snap, galera.Verdict{State: galera.Up}, peers, a.started)
		if d.Writer != tc.writer || !strings.Contains(d.Reason, tc.reason) {
			t.Errorf("%s, designated %q, peers' view %d: %+v, want writer %q, reason with %q", tc.me, tc.designated, tc.peerConf, d, tc.writer, tc.reason)
		}
	}
}

// Only the writer takes connections in single-writer mode: a drained node that is not the writer
// (the old writer serving a state transfer as donor, say) answers down, which closes its open
// sessions, instead of drain, which would keep them writing beside the successor.
func TestOnlyTheWriterServes(t *testing.T) {
	a := testGaleraAgent(t, "bari")
	now := time.Now()
	a.now = func() time.Time { return now }
	synced := galera.Snapshot{At: now, LocalState: galera.StateSynced, LocalStateComment: "Synced", ClusterStatus: "Primary",
		Ready: true, Connected: true, ClusterSize: 3, RejectQueries: "NONE"}
	donor := synced
	donor.LocalState, donor.LocalStateComment = galera.StateDonor, "Donor/Desynced"
	for _, c := range []struct {
		name   string
		snap   galera.Snapshot
		writer string
		tk     takeover
		state  string
	}{
		{"the writer, synced", synced, "bari", takeover{}, "up"},
		{"a standby, synced", synced, "lngs", takeover{}, "down"},
		{"the old writer as a donor, a successor chosen", donor, "lngs", takeover{}, "down"},
		{"a donor, no writer", donor, "", takeover{}, "down"},
		{"a donor still named writer", donor, "bari", takeover{}, "down"},
		{"the successor, not yet recorded", synced, "bari+record", takeover{}, "down"},
		{"the successor, recording, the old writer may commit", synced, "bari", takeover{from: "lngs"}, "down"},
		{"the successor, recorded, waiting for the HAProxies", synced, "bari", takeover{"lngs", now.Add(time.Millisecond)}, "down"},
		{"the successor, its wait over", synced, "bari", takeover{"lngs", now}, "up"},
	} {
		w, rec := strings.CutSuffix(c.writer, "+record")
		a.mu.Lock()
		a.snap, a.decision, a.takeover = c.snap, writer.Decision{Writer: w, Record: rec}, c.tk
		a.mu.Unlock()
		if r := a.Report(); r.State != c.state {
			t.Errorf("%s: %s (%s), want %s", c.name, r.State, r.Reason, c.state)
		}
	}
}
