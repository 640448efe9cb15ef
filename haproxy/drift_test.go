package haproxy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
)

func TestParseServersState(t *testing.T) {
	b, err := os.ReadFile("testdata/show-servers-state.txt") // HAProxy 2.6.12, after "set server galera/lngs addr 127.0.0.9 port 13309"
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseServersState(string(b))
	if err != nil {
		t.Fatal(err)
	}
	want := []Server{{"galera", "lngs", "127.0.0.9:13309"}, {"galera", "bari", "[::1]:13307"}, {"keystone", "padova", "127.0.0.1:15001"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("server %d: %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"", "Unknown command\n", "1\n# be_id be_name srv_id\n3 galera 1\n"} {
		if _, err := ParseServersState(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestDrift(t *testing.T) {
	want := []Server{{"galera", "lngs", "10.0.0.1:3306"}, {"galera", "bari", "[::1]:3306"}, {"keystone", "lngs", "10.0.0.1:5001"}}
	for _, c := range []struct {
		name string
		got  []Server
		says []string
	}{
		{"same", []Server{{"keystone", "lngs", "10.0.0.1:5001"}, {"galera", "bari", "[0:0::1]:3306"}, {"galera", "lngs", "10.0.0.1:3306"}}, nil},
		{"moved", []Server{{"galera", "lngs", "10.0.0.9:3306"}, {"galera", "bari", "[::1]:3306"}, {"keystone", "lngs", "10.0.0.1:5001"}},
			[]string{"HAProxy's server galera/lngs is at 10.0.0.9:3306, rendered at 10.0.0.1:3306"}},
		{"missing and extra", []Server{{"galera", "lngs", "10.0.0.1:3306"}, {"galera", "padova", "10.0.0.3:3306"}, {"keystone", "lngs", "10.0.0.1:5001"}},
			[]string{"HAProxy has no server galera/bari (rendered at [::1]:3306)", "HAProxy has server galera/padova at 10.0.0.3:3306, which keyha render does not write"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Drift(want, c.got)
			if strings.Join(d, "\n") != strings.Join(c.says, "\n") {
				t.Errorf("Drift = %q, want %q", d, c.says)
			}
		})
	}
}

// A real HAProxy running the rendered file has exactly the servers Servers lists; moved at
// runtime, one server is named. Every address is on loopback.
func TestServersOfARunningHAProxy(t *testing.T) {
	needHAProxy(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	c, err := config.Parse([]byte(`
cluster: lab
credentials: {monitor: /x}
gossip: {key_file: /x.key}
island: {enabled: true}
sites:
  - {name: lngs, sql: "127.0.0.1:23306", agent: "127.0.0.1:29250", http: "127.0.0.1:29200", gossip: "127.0.0.1:27946",
     haproxy_db: "127.0.0.1:23307", haproxy_socket: ` + sock + `, haproxy_state: ` + filepath.Join(dir, "state") + `,
     keystone: {api: "127.0.0.1:25001", front: "127.0.0.1:25000"}}
  - {name: bari, sql: "127.0.0.2:23306", agent: "127.0.0.2:29250", http: "127.0.0.2:29200", gossip: "127.0.0.2:27946", keystone: {api: "127.0.0.2:25001"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Config(c, "lngs", WANTimings())
	if err != nil {
		t.Fatal(err)
	}
	cfg, pid := filepath.Join(dir, "haproxy.cfg"), filepath.Join(dir, "haproxy.pid")
	os.WriteFile(cfg, b, 0o644)
	if out, err := exec.Command("haproxy", "-q", "-D", "-f", cfg, "-p", pid).CombinedOutput(); err != nil {
		t.Fatalf("start haproxy: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if p, err := os.ReadFile(pid); err == nil {
			exec.Command("kill", strings.TrimSpace(string(p))).Run()
		}
	})
	want, err := Servers(c, "lngs")
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 5 { // galera lngs, bari; island lngs; keystone lngs, bari
		t.Errorf("Servers = %v", want)
	}
	rt := Runtime{Socket: sock}
	ctx := context.Background()
	var got []Server
	deadline := time.Now().Add(10 * time.Second)
	for got, err = rt.ServersState(ctx); err != nil && time.Now().Before(deadline); got, err = rt.ServersState(ctx) {
		time.Sleep(50 * time.Millisecond) // the socket appears once HAProxy has started
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := Drift(want, got); len(d) != 0 {
		t.Errorf("HAProxy runs its rendered file, yet Drift says %q", d)
	}
	if _, err := rt.Exec(ctx, "set server galera/bari addr 127.0.0.3 port 23306"); err != nil {
		t.Fatal(err)
	}
	got, err = rt.ServersState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := Drift(want, got); len(d) != 1 || !strings.Contains(d[0], "galera/bari is at 127.0.0.3:23306") {
		t.Errorf("after moving bari: %q", d)
	}
}
