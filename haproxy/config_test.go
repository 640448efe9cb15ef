package haproxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/prereq"
)

const cluster = `
cluster: lab
credentials:
  monitor: /x
gossip:
  key_file: /x.key
sites:
  - {name: lngs, sql: "10.0.0.1:3306", agent: "10.0.0.1:9250", http: "10.0.0.1:9200", gossip: "10.0.0.1:7946", haproxy_db: "127.0.0.1:13307", haproxy_socket: SOCK}
  - {name: bari, sql: "10.0.0.2:3306", agent: "10.0.0.2:9250", http: "10.0.0.2:9200", gossip: "10.0.0.2:7946"}
`

// The generated file is valid for the real HAProxy (haproxy -c).
func TestConfigValidatesWithHAProxy(t *testing.T) {
	dir := t.TempDir()
	c, err := config.Parse([]byte(strings.Replace(cluster, "SOCK", filepath.Join(dir, "h.sock"), 1)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Config(c, "lngs", WANTimings())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"backend galera", "server lngs 10.0.0.1:3306 check addr 10.0.0.1 port 9200 agent-check agent-addr 10.0.0.1 agent-port 9250",
		"server bari 10.0.0.2:3306", "on-marked-down shutdown-sessions", "level admin"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config lacks %q:\n%s", want, b)
		}
	}
	if _, err := Config(c, "bari", WANTimings()); err == nil || !strings.Contains(err.Error(), "haproxy_db") {
		t.Errorf("site without haproxy_db: %v", err)
	}
	needHAProxy(t)
	p := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(p, b, 0o644)
	if out, err := exec.Command("haproxy", "-c", "-f", p).CombinedOutput(); err != nil {
		t.Errorf("haproxy -c: %v\n%s", err, out)
	}
	// Island mode: the island backend, used only when no galera server is, with lngs's own node.
	ci, err := config.Parse([]byte(strings.Replace(cluster, "SOCK", filepath.Join(dir, "h.sock"), 1) + "island: {enabled: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	bi, err := Config(ci, "lngs", WANTimings())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"use_backend island if { nbsrv(galera) eq 0 }", "backend island\n", "option httpchk GET /health/island",
		"server lngs 10.0.0.1:3306 check addr 10.0.0.1 port 9200\n"} {
		if !strings.Contains(string(bi), want) {
			t.Errorf("island config lacks %q:\n%s", want, bi)
		}
	}
	os.WriteFile(p, bi, 0o644)
	if out, err := exec.Command("haproxy", "-c", "-f", p).CombinedOutput(); err != nil {
		t.Errorf("haproxy -c, island mode: %v\n%s", err, out)
	}
}

// DRBD mode asks DOWN servers and agents less often than Galera mode: its failover takes seconds
// of DRBD and database start, which faster checks do not shorten.
func TestClusterTimingsByMode(t *testing.T) {
	g, d := ClusterTimings(&config.Cluster{Mode: "galera"}), ClusterTimings(&config.Cluster{Mode: "drbd"})
	if g.DownInter != 100*time.Millisecond || g.AgentInter != 100*time.Millisecond {
		t.Errorf("Galera mode: downinter %s, agent-inter %s; want 100ms, 100ms", g.DownInter, g.AgentInter)
	}
	if d.DownInter != 250*time.Millisecond || d.AgentInter != 500*time.Millisecond {
		t.Errorf("DRBD mode: downinter %s, agent-inter %s; want 250ms, 500ms", d.DownInter, d.AgentInter)
	}
}

// The cluster file's haproxy section sets the check timings; without it the defaults hold.
func TestClusterTimings(t *testing.T) {
	for _, c := range []struct {
		extra, want string
	}{
		{"", "default-server inter 1s fastinter 500ms downinter 100ms fall 2 rise 1"},
		{"haproxy:\n  check_interval: 2s\n", "default-server inter 2s fastinter 500ms downinter 100ms fall 2 rise 1"},
		{"haproxy:\n  check_interval: 1500ms\n  fall: 3\n  rise: 1\n", "default-server inter 1500ms fastinter 500ms downinter 100ms fall 3 rise 1"},
	} {
		cl, err := config.Parse([]byte(cluster + c.extra))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Config(cl, "lngs", ClusterTimings(cl))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), c.want) {
			t.Errorf("with %q: config lacks %q:\n%s", c.extra, c.want, b)
		}
	}
}

func TestHATime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		8 * time.Hour: "8h", 2 * time.Minute: "2m", time.Second: "1s", 1500 * time.Millisecond: "1500ms", 250 * time.Millisecond: "250ms",
	} {
		if got := haTime(d); got != want {
			t.Errorf("haTime(%v) = %q, want %q", d, got, want)
		}
	}
	if got, want := WANTimings().DownWithin(), 3500*time.Millisecond; got != want {
		t.Errorf("DownWithin with the defaults = %v, want %v (inter 1s + 2 x check 1s + 1 x fastinter 500ms)", got, want)
	}
}

// needHAProxy skips a test that runs the real HAProxy where it is not installed, and fails it
// under CI=true (prereq.SkipOrFail).
func needHAProxy(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil {
		prereq.SkipOrFail(t, "haproxy is not installed: run scripts/setup")
	}
}
