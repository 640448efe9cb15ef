package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
cluster: lab
credentials:
  monitor: /etc/keyha/monitor.cnf
gossip:
  key_file: /etc/keyha/cluster.key
sites:
  - name: lngs
    priority: 300
    sql: 10.0.0.1:3306
    agent: 10.0.0.1:9250
    gossip: 10.0.0.1:7946
  - name: bari
    sql: 10.0.0.2:3306
    gossip: 10.0.0.2:7946
`

func TestParseGood(t *testing.T) {
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SiteNames(); strings.Join(got, ",") != "lngs,bari" {
		t.Errorf("sites %v", got)
	}
	if c.Mode != "galera" || c.Gossip.Preset != "lan" || c.Agent.StateDir != "/var/lib/keyha" || c.Agent.PollInterval != DefaultAgent().PollInterval {
		t.Errorf("defaults not applied: %+v", c)
	}
	if len(c.Hash) != 64 {
		t.Errorf("hash %q", c.Hash)
	}
	if c.Agent.EvictStalledAfter != 30*time.Second {
		t.Errorf("agent.evict_stalled_after defaults to %s, want 30s", c.Agent.EvictStalledAfter)
	}
	// 0s is a value, not "unset": it turns the eviction off.
	if off, err := Parse([]byte(good + "agent:\n  evict_stalled_after: 0s\n")); err != nil || off.Agent.EvictStalledAfter != 0 {
		t.Errorf("evict_stalled_after: 0s gives %v, %v; want 0 (off)", off, err)
	}
	if _, err := c.Site("padova"); err == nil || !strings.Contains(err.Error(), "lngs bari") {
		t.Errorf("unknown site error %v does not list the sites", err)
	}
}

func TestParseBad(t *testing.T) {
	for _, c := range []struct{ name, edit, want string }{
		{"empty", "", "empty"},
		{"unknown key", good + "colour: blue\n", "field colour not found"},
		{"bad port", strings.Replace(good, "10.0.0.2:3306", "10.0.0.2:99999", 1), `sites[1] (bari).sql: "10.0.0.2:99999"`},
		{"no port", strings.Replace(good, "10.0.0.2:3306", "10.0.0.2", 1), "is not HOST:PORT"},
		{"dup site", strings.Replace(good, "name: bari", "name: lngs", 1), `"lngs" appears twice`},
		{"bad name", strings.Replace(good, "name: bari", "name: Bari!", 1), `sites[1].name: "Bari!"`},
		{"bad mode", good + "mode: nfs\n", `mode: "nfs"`},
		{"stall eviction too soon", good + "agent:\n  evict_stalled_after: 2s\n", "agent.evict_stalled_after: 2s is out of range"},
		{"keepalive too long", good + "galera:\n  suspect_timeout: 2500ms\n  keepalive_period: 1s\n", "galera.keepalive_period: 1s is over a third of suspect_timeout (2.5s)"},
		{"bad preset", strings.Replace(good, "  key_file:", "  preset: moon\n  key_file:", 1), `gossip.preset: "moon"`},
		// Gossip picks the writer: a stranger on the WAN must not be able to join it.
		{"single writer, gossip without a key", strings.Replace(good, "  key_file: /etc/keyha/cluster.key\n", "", 1), "gossip.key_file: missing; in mode galera"},
		{"no monitor", strings.Replace(good, "monitor:", "admin:", 1), "credentials.monitor: missing"},
		{"bad interval", good + "agent:\n  poll_interval: 1ms\n", "agent.poll_interval: 1ms"},
		{"bad duration", good + "agent:\n  poll_interval: soon\n", "line 17: cannot unmarshal !!str `soon` into time.Duration"},
		{"stale too short", good + "agent:\n  stale_after: 100ms\n", "agent.stale_after: 100ms"},
		{"no sites", "cluster: x\ncredentials:\n  monitor: /x\n", "sites: empty"},
		{"check interval too short", good + "haproxy:\n  check_interval: 10ms\n", "haproxy.check_interval: 10ms"},
		{"fall zero after default", good + "haproxy:\n  fall: 11\n", "haproxy.fall 11"},
		// A single writer needs every site's agent to gossip: without it a site answers up alone.
		{"single writer, a site without gossip", strings.Replace(good, "    gossip: 10.0.0.2:7946\n", "", 1), "sites[1] (bari).gossip: missing"},
		{"two sites, one node name", strings.Replace(good, "    gossip: 10.0.0.2:7946\n", "    gossip: 10.0.0.2:7946\n    node_name: lngs\n", 1),
			`sites[1] (bari).node_name: "lngs" is also lngs's node name`},
		{"node name with a space", strings.Replace(good, "    gossip: 10.0.0.2:7946\n", "    gossip: 10.0.0.2:7946\n    node_name: bari node\n", 1),
			`sites[1] (bari).node_name: "bari node" cannot be a wsrep_node_name`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.edit))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

const goodDRBD = `
cluster: lab
mode: drbd
credentials:
  monitor: /etc/keyha/monitor.cnf
gossip:
  key_file: /etc/keyha/cluster.key
sites:
  - {name: lngs, sql: 10.0.0.1:3306, gossip: 10.0.0.1:7946}
  - {name: bari, sql: 10.0.0.2:3306, gossip: 10.0.0.2:7946}
  - {name: padova, witness: true, gossip: 10.0.0.3:7946}
drbd:
  demote_after: 3s
  demote_takes: 12s
  stack:
    - {name: drbd, up: drbdadm primary r0, down: drbdadm secondary r0}
`

// The clock rule's promote_after must outlast the spread of gossip's noticing: its default does,
// and a shorter one is refused, naming the spread.
func TestDRBDPromoteAfter(t *testing.T) {
	c, err := Parse([]byte(goodDRBD))
	if err != nil {
		t.Fatal(err)
	}
	if want := 43 * time.Second; c.DRBD.PromoteAfter != want { // 3 + 12 + 23 (lan, three sites) + 5
		t.Errorf("default promote_after %v, want %v", c.DRBD.PromoteAfter, want)
	}
	_, err = Parse([]byte(strings.Replace(goodDRBD, "  demote_takes: 12s\n", "  demote_takes: 12s\n  promote_after: 18s\n", 1)))
	if err == nil || !strings.Contains(err.Error(), "must exceed demote_after + demote_takes + 23s") {
		t.Errorf("promote_after 18s: %v, want refused", err)
	}
}

// Without a single writer, a site needs no gossip.
func TestAllWritersNeedNoGossip(t *testing.T) {
	noGossip := strings.NewReplacer("    gossip: 10.0.0.1:7946\n", "", "    gossip: 10.0.0.2:7946\n", "").Replace(good)
	if _, err := Parse([]byte(noGossip + "writer:\n  mode: all\n")); err != nil {
		t.Errorf("writer.mode all without gossip: %v", err)
	}
}

func TestLoadNames(t *testing.T) {
	if _, err := Load(""); err == nil || !strings.Contains(err.Error(), EnvConfig) {
		t.Errorf("empty path: %v", err)
	}
	p := filepath.Join(t.TempDir(), "k.yaml")
	os.WriteFile(p, []byte("cluster: [\n"), 0o644)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("bad file: %v does not name %s", err, p)
	}
}

func TestCredential(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.cnf")
	os.WriteFile(p, []byte("[mysqld]\nuser=mysql\n[client]\nuser = mon\npassword=\"s3cr=t\"\nskip-ssl\n"), 0o600)
	c, err := ReadCredential(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "mon" || c.Password != "s3cr=t" {
		t.Errorf("got %+v", c)
	}
	if s := c.String(); strings.Contains(s, "s3cr") {
		t.Errorf("String() shows the password: %s", s)
	}
	os.Chmod(p, 0o644)
	if _, err := ReadCredential(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable file accepted: %v", err)
	}
	os.WriteFile(p, []byte("[client]\npassword=x\n"), 0o600)
	os.Chmod(p, 0o600)
	if _, err := ReadCredential(p); err == nil || !strings.Contains(err.Error(), "no user=") {
		t.Errorf("file without user: %v", err)
	}
}
