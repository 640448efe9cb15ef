package labtest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLabLifecycle is the lab's own acceptance: up, replicate, partition, heal, kill, restart, bad
// input, down with nothing left behind.
func TestLabLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if p := Prerequisites(); p != "" {
		SkipOrFail(t, p)
	}
	if err := Lock(); err != nil {
		t.Fatal(err)
	}
	defer Unlock()
	bin, err := BuildKeyha(root)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(filepath.Dir(bin))
	if out, err := Script(root, bin, "down"); err != nil {
		t.Fatalf("clear an old lab: %v\n%s", err, out)
	}

	start := time.Now()
	if out, err := Script(root, bin, "up"); err != nil {
		Script(root, bin, "down")
		t.Fatalf("scripts/lab up: %v\n%s", err, out)
	}
	t.Logf("lab up in %.1fs", time.Since(start).Seconds())
	downed := false
	defer func() {
		if !downed {
			Script(root, bin, "down")
		}
	}()
	l, err := Info(root, bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Sites) != 3 {
		t.Fatalf("info lists %d sites, want 3: %+v", len(l.Sites), l.Sites)
	}
	if _, err := l.Cluster(t).Site("bari"); err != nil {
		t.Fatalf("cluster file: %v", err)
	}
	db := map[string]*sql.DB{}
	for _, s := range Sites {
		db[s] = l.DB(t, l.Sites[s].SQL, "lab")
	}

	t.Run("replicates", func(t *testing.T) {
		ctx := context.Background()
		mark := fmt.Sprintf("row-%d", time.Now().UnixNano())
		for _, q := range []string{
			"CREATE DATABASE IF NOT EXISTS keyha_labtest",
			"CREATE TABLE IF NOT EXISTS keyha_labtest.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))",
		} {
			if _, err := db["lngs"].ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db["lngs"].ExecContext(ctx, "INSERT INTO keyha_labtest.t (v) VALUES (?)", mark); err != nil {
			t.Fatal(err)
		}
		// With wsrep_sync_wait the read at padova waits for what the cluster committed before it.
		out := l.Lab(t, "sql", "padova", "SET SESSION wsrep_sync_wait=1; SELECT v FROM keyha_labtest.t WHERE v='"+mark+"'")
		if strings.TrimSpace(out) != mark {
			t.Fatalf("padova read %q, want %q", out, mark)
		}
	})

	// Each site's namespace drops what the port plan does not name: a listener on a port outside
	// the plan at lngs is not reachable from bari, while a planned port is, and the host reaches
	// the ports the plan gives the operator.
	t.Run("firewall: only the planned ports", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		lngs := strings.Split(l.Sites["lngs"].SQL, ":")[0]
		listen := exec.CommandContext(ctx, "ip", "netns", "exec", l.Sites["lngs"].Namespace, "socat", "TCP-LISTEN:9999,fork,reuseaddr", "SYSTEM:echo open")
		if err := listen.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); listen.Wait() }()
		dial := func(ns, addr string) error {
			out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "socat", "-T", "2", "-", "TCP:"+addr+",connect-timeout=2").CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		}
		// The listener is up: reachable from inside lngs itself (loopback is not filtered).
		Eventually(t, 10*time.Second, "the unplanned listener answers inside lngs", func() (bool, string) {
			err := dial(l.Sites["lngs"].Namespace, "127.0.0.1:9999")
			return err == nil, fmt.Sprint(err)
		})
		if err := dial(l.Sites["bari"].Namespace, lngs+":9999"); err == nil {
			t.Errorf("bari reaches port 9999 at lngs, a port outside the plan")
		}
		if err := dial(l.Sites["bari"].Namespace, lngs+":4567"); err != nil {
			t.Errorf("bari cannot reach Galera's 4567 at lngs, a planned port: %v", err)
		}
		rules, err := exec.CommandContext(ctx, "ip", "netns", "exec", l.Sites["lngs"].Namespace, "nft", "list", "table", "inet", "keyha").CombinedOutput()
		if err != nil || !strings.Contains(string(rules), "policy drop") {
			t.Errorf("lngs's namespace has no keyha table with policy drop: %v\n%s", err, rules)
		}
	})

	t.Run("partition and heal", func(t *testing.T) {
		l.Lab(t, "partition", "bari")
		took := Eventually(t, 60*time.Second, "bari leaves the Primary component, lngs+padova stay Primary with size 2", func() (bool, string) {
			seen := fmt.Sprintf("bari=%s lngs=%s/%s padova=%s/%s",
				l.Status(t, db["bari"], "wsrep_cluster_status"),
				l.Status(t, db["lngs"], "wsrep_cluster_status"), l.Status(t, db["lngs"], "wsrep_cluster_size"),
				l.Status(t, db["padova"], "wsrep_cluster_status"), l.Status(t, db["padova"], "wsrep_cluster_size"))
			return seen == "bari=non-Primary lngs=Primary/2 padova=Primary/2", seen
		})
		t.Logf("partition seen in %.1fs", took.Seconds())
		l.Lab(t, "heal", "bari")
		took = Eventually(t, 60*time.Second, "all three Synced in a Primary component of size 3", func() (bool, string) {
			return allSynced(t, l, db, 3)
		})
		t.Logf("heal to all Synced in %.1fs", took.Seconds())
	})

	t.Run("kill and restart", func(t *testing.T) {
		l.Lab(t, "kill", "padova")
		Eventually(t, 30*time.Second, "padova is gone and the others count 2", func() (bool, string) {
			s := l.Status(t, db["lngs"], "wsrep_cluster_size")
			return l.Status(t, db["padova"], "wsrep_cluster_size") == "" && s == "2", "lngs size " + s
		})
		start := time.Now()
		l.Lab(t, "start", "padova")
		Eventually(t, 60*time.Second, "padova rejoins and all are Synced", func() (bool, string) {
			return allSynced(t, l, db, 3)
		})
		t.Logf("padova rejoined in %.1fs", time.Since(start).Seconds())
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		before := l.Lab(t, "status")
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"partition", "nosuchsite"}, "unknown site 'nosuchsite'"},
			{[]string{"heal", "lngs"}, "lngs is not cut off"},
			{[]string{"frobnicate"}, "unknown verb 'frobnicate'"},
			{[]string{"up"}, "a lab is already up"},
			{[]string{"start", "lngs"}, "already running"},
			{[]string{"sql", "lngs"}, "sql needs the statements"},
			{[]string{"kill"}, "kill needs a site"},
		} {
			out, err := Script(root, bin, c.args...)
			if err == nil {
				t.Errorf("scripts/lab %v succeeded, want an error", c.args)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("scripts/lab %v said %q, want it to contain %q", c.args, out, c.want)
			}
		}
		if after := l.Lab(t, "status"); after != before {
			t.Errorf("status changed after bad input:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})

	start = time.Now()
	if out, err := Script(root, bin, "down"); err != nil {
		t.Fatalf("scripts/lab down: %v\n%s", err, out)
	}
	downed = true
	t.Logf("lab down in %.1fs", time.Since(start).Seconds())
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "kh-") {
		t.Errorf("namespaces left after down: %s", out)
	}
	if out, _ := exec.Command("pgrep", "-af", l.Dir+"/").Output(); len(out) > 0 {
		t.Errorf("processes left after down:\n%s", out)
	}
	if out, _ := exec.Command("ip", "-br", "link").Output(); strings.Contains(string(out), "kh-") {
		t.Errorf("links left after down:\n%s", out)
	}
	if out, err := Script(root, bin, "down"); err != nil {
		t.Errorf("a second down is not idempotent: %v\n%s", err, out)
	}
}

func allSynced(t testing.TB, l *Lab, db map[string]*sql.DB, size int) (bool, string) {
	var seen []string
	ok := true
	for _, s := range Sites {
		st := l.Status(t, db[s], "wsrep_local_state_comment")
		cs := l.Status(t, db[s], "wsrep_cluster_status")
		n := l.Status(t, db[s], "wsrep_cluster_size")
		seen = append(seen, fmt.Sprintf("%s=%s/%s/%s", s, st, cs, n))
		ok = ok && st == "Synced" && cs == "Primary" && n == fmt.Sprint(size)
	}
	return ok, strings.Join(seen, " ")
}
