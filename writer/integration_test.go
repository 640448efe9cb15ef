package writer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/pki"
)

func TestMain(m *testing.M) { labtest.Main(m) }

var all = labtest.Sites

// up lists the servers UP in each site's HAProxy.
func up(l *labtest.Lab) map[string][]string {
	out := map[string][]string{}
	for _, s := range all {
		rows, err := l.HAProxy(s).ShowStat(context.Background(), "galera")
		if err != nil {
			out[s] = []string{"error: " + err.Error()}
			continue
		}
		for _, r := range rows {
			if r.Status == "UP" {
				out[s] = append(out[s], r.Server)
			}
		}
	}
	return out
}

// agreeOn waits until every HAProxy in `at` sends to exactly one node, the same, and returns it.
// want "" accepts any node; "!X" any node but X.
func agreeOn(t *testing.T, l *labtest.Lab, at []string, want string, timeout time.Duration) (string, time.Duration) {
	t.Helper()
	var got string
	took := labtest.Eventually(t, timeout, fmt.Sprintf("HAProxies %v agree on one writer %s", at, want), func() (bool, string) {
		u := up(l)
		got = ""
		for _, s := range at {
			if len(u[s]) != 1 || (got != "" && u[s][0] != got) {
				return false, fmt.Sprint(u)
			}
			got = u[s][0]
		}
		if not, ok := strings.CutPrefix(want, "!"); ok {
			return got != not, fmt.Sprint(u)
		}
		return want == "" || got == want, fmt.Sprint(u)
	})
	return got, took
}

// commit is one acknowledged write through a site's HAProxy, with the node that served it.
type commit struct {
	via, node string
	at        time.Time
}

// client writes through every site's HAProxy until stop, recording each acknowledged commit.
type client struct {
	mu      sync.Mutex
	commits []commit
	fails   int
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startClient(t *testing.T, l *labtest.Lab) *client {
	db := l.DB(t, l.Sites["lngs"].SQL, "app")
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS keyha_writertest",
		"CREATE TABLE IF NOT EXISTS keyha_writertest.c (id BIGINT AUTO_INCREMENT PRIMARY KEY, via VARCHAR(16), node VARCHAR(64), at DATETIME(6))",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	c := &client{stop: make(chan struct{})}
	for _, s := range all {
		db := l.DB(t, l.Sites[s].HAProxyDB, "app")
		db.SetMaxOpenConns(1)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				var node string
				err := func() error {
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						return err
					}
					defer tx.Rollback()
					if err := tx.QueryRowContext(ctx, "SELECT @@wsrep_node_name").Scan(&node); err != nil {
						return err
					}
					if _, err := tx.ExecContext(ctx, "INSERT INTO keyha_writertest.c (via, node, at) VALUES (?, ?, NOW(6))", s, node); err != nil {
						return err
					}
					return tx.Commit()
				}()
				cancel()
				c.mu.Lock()
				if err != nil {
					c.fails++
				} else {
					c.commits = append(c.commits, commit{via: s, node: node, at: time.Now()})
				}
				c.mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond) // back off a failed connection, then retry
				}
			}
		}()
	}
	return c
}

func (c *client) halt() { close(c.stop); c.wg.Wait() }

func (c *client) snapshot() ([]commit, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]commit(nil), c.commits...), c.fails
}

// twoWriters finds two nodes committing at once: commits a, b, x in acknowledgement order with a
// and x on one node, b on another, and x less than within after a. A handover moves the writes
// once; a node writing again after another took over needs a new record and a takeover wait,
// seconds, not a moment.
func twoWriters(cs []commit, within time.Duration) (a, b, x commit, ok bool) {
	sorted := append([]commit(nil), cs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].at.Before(sorted[j].at) })
	last := map[string]commit{} // each node's latest commit so far
	for i, c := range sorted {
		if i > 0 && sorted[i-1].node != c.node {
			if p, seen := last[c.node]; seen && c.at.Sub(p.at) < within {
				return p, sorted[i-1], c, true
			}
		}
		last[c.node] = c
	}
	return commit{}, commit{}, commit{}, false
}

// nodesAfter lists the nodes that served commits acknowledged after t.
func nodesAfter(cs []commit, t time.Time) map[string]int {
	out := map[string]int{}
	for _, c := range cs {
		if c.at.After(t) {
			out[c.node]++
		}
	}
	return out
}

// gap is the longest time without any acknowledged commit between from and to.
func gap(cs []commit, from, to time.Time) time.Duration {
	var ts []time.Time
	for _, c := range cs {
		if c.at.After(from) && c.at.Before(to) {
			ts = append(ts, c.at)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var worst time.Duration
	prev := from
	for _, t := range ts {
		if d := t.Sub(prev); d > worst {
			worst = d
		}
		prev = t
	}
	if d := to.Sub(prev); d > worst {
		worst = d
	}
	return worst
}

// watchServer samples server's state in every HAProxy until the returned stop, which gives the
// first state other than UP each showed.
func watchServer(l *labtest.Lab, server string) (stop func() map[string]string) {
	done := make(chan struct{})
	seen := map[string]string{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			for _, s := range all {
				if r, err := l.Server(s, server); err == nil && r.Status != "UP" && seen[s] == "" {
					seen[s] = fmt.Sprintf("%s (check %s %s) at %s", r.Status, r.CheckStatus, r.CheckDesc, time.Now().Format("15:04:05.000"))
				}
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
	return func() map[string]string { close(done); wg.Wait(); return seen }
}

// agentPID is the pid of the agent running at site ("" when none is recorded).
func agentPID(l *labtest.Lab, site string) string {
	b, _ := os.ReadFile(filepath.Join(l.Dir, site, "agent.pid"))
	return strings.TrimSpace(string(b))
}

func keyha(t *testing.T, l *labtest.Lab, args ...string) string {
	t.Helper()
	out, err := exec.Command(l.Bin, append([]string{"--config", l.Config}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("keyha %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestOneWriter(t *testing.T) {
	l := labtest.Get(t)
	w, _ := agreeOn(t, l, all, "", 30*time.Second)
	t.Logf("writer: %s", w)

	c := startClient(t, l)
	labtest.Eventually(t, 20*time.Second, "commits through every HAProxy", func() (bool, string) {
		cs, _ := c.snapshot()
		via := map[string]int{}
		for _, x := range cs {
			via[x.via]++
		}
		return via["lngs"] > 20 && via["bari"] > 20 && via["padova"] > 20, fmt.Sprint(via)
	})

	t.Run("a steady state: one node serves all three HAProxies", func(t *testing.T) {
		cs, _ := c.snapshot()
		if n := nodesAfter(cs, time.Time{}); len(n) != 1 || n[w] == 0 {
			t.Fatalf("commits landed on %v, want all on %s", n, w)
		}
	})

	t.Run("b kill the writer's mysqld", func(t *testing.T) {
		killed := time.Now()
		l.Lab(t, "kill", w)
		nw, took := agreeOn(t, l, all, "!"+w, 30*time.Second)
		t.Logf("kill -9 %s: all HAProxies agree on %s after %v", w, nw, took)
		if took > 2*time.Second {
			t.Errorf("agreement took %v, want at most 2s", took)
		}
		agreed := time.Now()
		labtest.Eventually(t, 30*time.Second, "commits on the new writer", func() (bool, string) {
			cs, _ := c.snapshot()
			n := nodesAfter(cs, agreed)
			return n[nw] > 30, fmt.Sprint(n)
		})
		cs, _ := c.snapshot()
		if n := nodesAfter(cs, agreed); len(n) != 1 {
			t.Errorf("after agreement commits landed on %v, want only %s", n, nw)
		}
		t.Logf("write-unavailability window (longest gap without a commit): %v", gap(cs, killed.Add(-time.Second), time.Now()))
		// Without keyha's eviction every commit waits for Galera's evs.suspect_timeout (2.5 s in the
		// lab, as keyha advises), so the bound is under it.
		for _, via := range all {
			g := gap(viaOnly(cs, via), killed.Add(-time.Second), time.Now())
			t.Logf("writes through %s's HAProxy: longest gap %v", via, g)
			if g > 2*time.Second {
				t.Errorf("writes through %s's HAProxy stopped for %v after %s's mysqld was killed, want at most 2s (the dead member is evicted at once)", via, g, w)
			}
		}
		if n := evictions(t, l, all, w); n < 1 {
			t.Errorf("no survivor evicted %s's dead member", w)
		}

		// (e) the old writer returns: no failback.
		l.Lab(t, "start", w)
		labtest.Eventually(t, 60*time.Second, w+"'s agent judges its node healthy again", func() (bool, string) {
			out := keyha(t, l, "status")
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, w+" ") {
					return strings.Contains(line, "Synced") && strings.Contains(line, " up "), line
				}
			}
			return false, out
		})
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if u := up(l); len(u["lngs"]) != 1 || u["lngs"][0] == w {
				t.Fatalf("failback without failback configured: %v", u)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("c a standby's mysqld killed", func(t *testing.T) {
		w, _ := agreeOn(t, l, all, "", 10*time.Second)
		sb := "padova"
		if w == sb {
			sb = "bari"
		}
		before := evictions(t, l, all, sb)
		killed := time.Now()
		l.Lab(t, "kill", sb)
		// Past Galera's own suspect timeout: a stall it would cause is over by then.
		labtest.Eventually(t, 30*time.Second, "commits through every HAProxy 6 s after the kill", func() (bool, string) {
			cs, _ := c.snapshot()
			n := map[string]int{}
			for _, x := range cs {
				if x.at.After(killed.Add(6 * time.Second)) {
					n[x.via]++
				}
			}
			return n["lngs"] > 0 && n["bari"] > 0 && n["padova"] > 0, fmt.Sprint(n)
		})
		cs, _ := c.snapshot()
		for _, via := range all {
			g := gap(viaOnly(cs, via), killed.Add(-time.Second), killed.Add(6*time.Second))
			t.Logf("standby %s killed: writes through %s's HAProxy, longest gap %v", sb, via, g)
			if g > 2*time.Second {
				t.Errorf("writes through %s's HAProxy stopped for %v after standby %s's mysqld was killed, want at most 2s (Galera alone: 2.5 s)", via, g, sb)
			}
		}
		if n := evictions(t, l, all, sb); n <= before {
			t.Errorf("no survivor evicted standby %s's dead member", sb)
		}
		l.Lab(t, "start", sb)
		l.AllSynced(t, 2*time.Minute)

		labtest.Eventually(t, 30*time.Second, "every agent names the same writer", func() (bool, string) {
			names := map[string]string{}
			for _, s := range all {
				var st struct {
					Writer string `json:"writer"`
				}
				if err := l.AgentStatus(t, s, &st); err != nil {
					return false, err.Error()
				}
				names[s] = st.Writer
			}
			return names["lngs"] != "" && names["lngs"] == names["bari"] && names["bari"] == names["padova"], fmt.Sprint(names)
		})
	})

	t.Run("d switchover there and back", func(t *testing.T) {
		cur, _ := agreeOn(t, l, all, "", 10*time.Second)
		target := "bari"
		if cur == "bari" {
			target = "lngs"
		}
		for _, to := range []string{target, cur} {
			_, f0 := c.snapshot()
			start := time.Now()
			out := keyha(t, l, "switchover", "--to", to)
			t.Logf("switchover --to %s in %v: %s", to, time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
			agreeOn(t, l, all, to, 5*time.Second)
			done := time.Now()
			labtest.Eventually(t, 10*time.Second, "commits on "+to, func() (bool, string) {
				cs, _ := c.snapshot()
				n := nodesAfter(cs, done)
				return n[to] > 10, fmt.Sprint(n)
			})
			cs, f1 := c.snapshot()
			if n := nodesAfter(cs, done); len(n) != 1 {
				t.Errorf("after the switchover commits landed on %v", n)
			}
			t.Logf("failed attempts during it (each a reconnect): %d; longest gap %v", f1-f0, gap(cs, start, done))
		}
	})

	t.Run("e each site's HAProxy restarted under load", func(t *testing.T) {
		// A writer that is not the first server listed: a restarted HAProxy that trusted its
		// servers before checking them would send its first connections to lngs.
		w, _ := agreeOn(t, l, all, "", 10*time.Second)
		if w == "lngs" {
			keyha(t, l, "switchover", "--to", "bari")
			w, _ = agreeOn(t, l, all, "bari", 10*time.Second)
		}
		for _, s := range all {
			start := time.Now()
			l.Lab(t, "haproxy-restart", s)
			restarted := time.Now()
			labtest.Eventually(t, 20*time.Second, "commits through "+s+"'s restarted HAProxy", func() (bool, string) {
				n := 0
				cs, _ := c.snapshot()
				for _, x := range viaOnly(cs, s) {
					if x.at.After(restarted) {
						n++
					}
				}
				return n > 10, fmt.Sprint(n)
			})
			cs, _ := c.snapshot()
			via := viaOnly(cs, s)
			if n := nodesAfter(via, start); len(n) != 1 || n[w] == 0 {
				t.Errorf("after %s's HAProxy restarted, its commits landed on %v, want only the writer %s", s, n, w)
			}
			for _, x := range via {
				if x.at.After(restarted) {
					t.Logf("%s's HAProxy restarted: first commit %v after it was started again, on %s", s, x.at.Sub(restarted).Round(time.Millisecond), x.node)
					break
				}
			}
		}
	})

	// The agent is no single point of failure: systemd (the lab's scripts/supervise) holds its
	// sockets and starts it again, so HAProxy's checks wait for the new process instead of
	// failing. The writer's agent crashing, then every agent restarted one after the other (an
	// upgrade), must cost no write at all: the writer stays UP everywhere, nothing lands elsewhere.
	t.Run("f the writer's agent killed, then every agent restarted in turn", func(t *testing.T) {
		w, _ := agreeOn(t, l, all, "", 10*time.Second)
		watch := watchServer(l, w)
		_, fails0 := c.snapshot()
		start := time.Now()
		steps := append([]string{"agent-kill " + w}, func() (r []string) {
			for _, s := range all {
				r = append(r, "agent-restart "+s)
			}
			return r
		}()...)
		for _, step := range steps {
			verb, site, _ := strings.Cut(step, " ")
			old := agentPID(l, site)
			at := time.Now()
			l.Lab(t, verb, site)
			labtest.Eventually(t, 10*time.Second, site+"'s new agent answering, writer "+w, func() (bool, string) {
				st, err := readStatus(l, site)
				if err != nil {
					return false, err.Error()
				}
				return agentPID(l, site) != old && st.Writer == w, fmt.Sprintf("writer %q", st.Writer)
			})
			t.Logf("%s %s: the new agent answered %v later, naming %s", verb, site, time.Since(at).Round(time.Millisecond), w)
		}
		labtest.Eventually(t, 10*time.Second, "commits through every HAProxy after the last restart", func() (bool, string) {
			cs, _ := c.snapshot()
			n := map[string]int{}
			for _, x := range cs {
				if x.at.After(start) {
					n[x.via]++
				}
			}
			return n["lngs"] > 20 && n["bari"] > 20 && n["padova"] > 20, fmt.Sprint(n)
		})
		downs := watch()
		cs, fails := c.snapshot()
		for s, st := range downs {
			if strings.HasPrefix(st, "UP") { // "UP 1/2": a check failed, not enough to drop it
				t.Logf("%s's HAProxy: the writer %s went %s while agents restarted", s, w, st)
				continue
			}
			t.Errorf("%s's HAProxy had the writer %s %s while agents restarted", s, w, st)
		}
		if n := nodesAfter(cs, start); len(n) != 1 || n[w] == 0 {
			t.Errorf("while agents restarted, commits landed on %v, want only the writer %s", n, w)
		}
		if fails != fails0 {
			t.Errorf("%d attempts failed while agents restarted, want none", fails-fails0)
		}
		for _, via := range all {
			g := gap(viaOnly(cs, via), start, time.Now())
			t.Logf("agents killed and restarted: writes through %s's HAProxy, longest gap %v", via, g)
			if g > 1500*time.Millisecond {
				t.Errorf("writes through %s's HAProxy stopped for %v while agents restarted, want at most 1.5s", via, g)
			}
		}
	})

	// A writer drained while its node still commits (wsrep_desync, maintenance, a blocking SST's
	// donor) answers "down" at once, but each HAProxy hears it only at its next check: the
	// successor takes the writes once every HAProxy has dropped the old writer, never beside it.
	t.Run("g the writer desynced: its successor never writes beside it", func(t *testing.T) {
		w, _ := agreeOn(t, l, all, "", 10*time.Second)
		t0 := time.Now()
		l.Lab(t, "sql", w, "SET GLOBAL wsrep_desync=ON")
		t.Cleanup(func() { labtest.Script(l.Root, l.Bin, "sql", w, "SET GLOBAL wsrep_desync=OFF") })
		nw, took := agreeOn(t, l, all, "!"+w, 30*time.Second)
		t.Logf("%s desynced: every HAProxy sends to %s alone after %v", w, nw, took)
		labtest.Eventually(t, 10*time.Second, "commits on "+nw, func() (bool, string) {
			cs, _ := c.snapshot()
			n := nodesAfter(cs, t0)
			return n[nw] > 20, fmt.Sprint(n)
		})
		cs, _ := c.snapshot()
		var lastOld, firstNew time.Time
		for _, x := range cs {
			switch {
			case x.at.Before(t0):
			case x.node == w && x.at.After(lastOld):
				lastOld = x.at
			case x.node == nw && (firstNew.IsZero() || x.at.Before(firstNew)):
				firstNew = x.at
			}
		}
		if !lastOld.IsZero() && !lastOld.Before(firstNew) {
			t.Errorf("two writers: %s committed until %s, %s from %s", w, lastOld.Format("15:04:05.000000"), nw, firstNew.Format("15:04:05.000000"))
		}
		t.Logf("last commit on %s %v after the desync, first on %s %v after it; longest gap %v",
			w, lastOld.Sub(t0).Round(time.Millisecond), nw, firstNew.Sub(t0).Round(time.Millisecond), gap(cs, t0, time.Now()))
		l.Lab(t, "sql", w, "SET GLOBAL wsrep_desync=OFF")
		agreeOn(t, l, all, nw, 10*time.Second) // no failback: the writer stays where it went
	})

	// A path that drops only the agents' gossip at the writer's site (Galera, checks and clients
	// pass): the others hear its agent no more and name a successor, while that agent, alive,
	// still answers every HAProxy "up" until it reads the new record. The successor takes the
	// writes only once the old writer is out of every HAProxy (the takeover wait), so no two
	// nodes commit at once, however the writes move while the drop lasts.
	t.Run("h gossip dropped at the writer's site: never two writers", func(t *testing.T) {
		w, _ := agreeOn(t, l, all, "", 10*time.Second)
		t0 := time.Now()
		l.Lab(t, "partition", w, "--gossip")
		healed := false
		heal := func() {
			if !healed {
				healed = true
				l.Lab(t, "heal", w)
			}
		}
		defer heal()
		labtest.Eventually(t, 60*time.Second, "commits on another node than "+w, func() (bool, string) {
			cs, _ := c.snapshot()
			n := nodesAfter(cs, t0)
			return len(n) > 1, fmt.Sprint(n)
		})
		moved := time.Since(t0)
		// The writes stay where they went (or move again, one writer at a time) for a while.
		labtest.Eventually(t, 30*time.Second, "200 more commits", func() (bool, string) {
			cs, _ := c.snapshot()
			n := 0
			for _, x := range cs {
				if x.at.After(t0.Add(moved)) {
					n++
				}
			}
			return n >= 200, fmt.Sprint(n)
		})
		heal()
		agreeOn(t, l, all, "", 30*time.Second)
		cs, _ := c.snapshot()
		var after []commit
		for _, x := range cs {
			if x.at.After(t0) {
				after = append(after, x)
			}
		}
		if a, b, x, ok := twoWriters(after, time.Second); ok {
			t.Errorf("two writers while gossip was dropped at %s: %s at %s, %s at %s, %s again at %s", w,
				a.node, a.at.Format("15:04:05.000000"), b.node, b.at.Format("15:04:05.000000"), x.node, x.at.Format("15:04:05.000000"))
		}
		t.Logf("gossip dropped at %s: the writes left it %v later; commits by node %v; longest gap %v", w, moved.Round(time.Millisecond),
			nodesAfter(cs, t0), gap(after, t0, time.Now()))
	})

	t.Run("refusals", func(t *testing.T) {
		out, err := exec.Command(l.Bin, "--config", l.Config, "switchover", "--to", "nosuchsite").CombinedOutput()
		if err == nil || !strings.Contains(string(out), `no site "nosuchsite"`) {
			t.Errorf("unknown site: %v %s", err, out)
		}
		// A standby in maintenance is refused as a target.
		cur, _ := agreeOn(t, l, all, "", 10*time.Second)
		target := "padova"
		if cur == target {
			target = "bari"
		}
		keyha(t, l, "agent", "maint", "on", "--site", target)
		defer keyha(t, l, "agent", "maint", "off", "--site", target)
		labtest.Eventually(t, 5*time.Second, target+" in maintenance", func() (bool, string) {
			r, err := l.Server("lngs", target)
			return err == nil && r.Status == "MAINT", r.Status
		})
		out, err = exec.Command(l.Bin, "--config", l.Config, "switchover", "--to", target).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "refused") {
			t.Errorf("switchover to a node in maintenance: %v %s", err, out)
		}
	})

	c.halt()
	cs, fails := c.snapshot()
	t.Logf("client: %d commits, %d failed attempts", len(cs), fails)
}

func TestPartitionOfTheWritersSite(t *testing.T) {
	l := labtest.Get(t)
	w, _ := agreeOn(t, l, all, "", 30*time.Second)
	var others []string
	for _, s := range all {
		if s != w {
			others = append(others, s)
		}
	}
	cut := time.Now()
	l.Lab(t, "partition", w)
	healed := false
	t.Cleanup(func() {
		if !healed {
			labtest.Script(l.Root, l.Bin, "heal", w)
		}
	})
	nw, took := agreeOn(t, l, others, "!"+w, 30*time.Second)
	// Whether an agent or HAProxy's own checks took the cut-off writer out first is a race of
	// about a second: logged, not asserted (haproxy/TestMarkDown shows the mark-down).
	t.Logf("partition of %s: %v agree on %s after %v; the survivors' agents marked %s down in %d of their HAProxies", w, others, nw, took,
		w, counted(t, l, all, w, `keyha_haproxy_marked_down_total{result="ok"}`))
	labtest.Eventually(t, 30*time.Second, "the cut-off site's HAProxy sends nothing anywhere", func() (bool, string) {
		u := up(l)
		return len(u[w]) == 0, fmt.Sprint(u[w])
	})
	t.Logf("cut-off site serves no writes after %v", time.Since(cut))
	l.Lab(t, "heal", w)
	healed = true
	agreeOn(t, l, all, nw, 60*time.Second)
}

// The switchover's hold protects in any time zone. With every node's sessions at UTC+1 (Italy in
// winter), then UTC-5, the agents honour the hold ("no writer until it completes") while the
// switchover runs, and it completes. (The hold was once written in UTC and judged in the session's
// zone: at UTC+1 it had expired an hour before it was written, and protected nothing.)
func TestSwitchoverHoldInAnyTimeZone(t *testing.T) {
	l := labtest.Get(t)
	setZone := func(zone string) {
		for _, s := range all {
			if _, err := l.DB(t, l.Sites[s].SQL, "lab").ExecContext(context.Background(), "SET GLOBAL time_zone = '"+zone+"'"); err != nil {
				t.Fatalf("time zone %s at %s: %v", zone, s, err)
			}
			// The agents' pooled sessions took the zone at connect time: a restart opens new ones.
			l.Lab(t, "agent-restart", s)
		}
		// Restarted agents wait writer.grace before they name a writer; a switchover refuses
		// while they disagree.
		labtest.Eventually(t, 45*time.Second, "every agent up and naming the same writer", func() (bool, string) {
			seen := map[string]string{}
			for _, s := range all {
				st, err := readStatus(l, s)
				if err != nil {
					return false, err.Error()
				}
				seen[s] = st.Health + "/" + st.Writer
			}
			w := seen[all[0]]
			for _, v := range seen {
				if v != w || !strings.HasPrefix(v, "up/") || v == "up/" {
					return false, fmt.Sprint(seen)
				}
			}
			return true, ""
		})
	}
	t.Cleanup(func() { setZone("SYSTEM") })
	for _, zone := range []string{"+01:00", "-05:00"} {
		setZone(zone)
		cur, _ := agreeOn(t, l, all, "", 30*time.Second)
		to := "bari"
		if cur == "bari" {
			to = "padova"
		}
		done := make(chan string, 1)
		go func() {
			out, err := exec.Command(l.Bin, "--config", l.Config, "switchover", "--to", to).CombinedOutput()
			if err != nil {
				out = append(out, []byte(err.Error())...)
			}
			done <- string(out)
		}()
		held, out := false, ""
	watch:
		for {
			select {
			case out = <-done:
				break watch
			default:
			}
			for _, s := range all {
				if strings.Contains(decisionReason(l, s), "switchover in progress") {
					held = true
				}
			}
			time.Sleep(20 * time.Millisecond) // sampling the agents while the switchover runs
		}
		t.Logf("zone %s: switchover %s -> %s: %s", zone, cur, to, strings.TrimSpace(out))
		if !held {
			t.Errorf("zone %s: no agent ever honoured the switchover's hold", zone)
		}
		agreeOn(t, l, all, to, 10*time.Second)
	}
}

// agentStatus is the part of an agent's /status these tests read.
type agentStatus struct {
	Health string `json:"health"`
	Writer string `json:"writer"`
	Detail struct {
		Decision struct {
			Reason string `json:"reason"`
		} `json:"writer_decision"`
	} `json:"detail"`
}

func readStatus(l *labtest.Lab, site string) (agentStatus, error) {
	var st agentStatus
	c, err := config.Load(l.Config)
	if err != nil {
		return st, err
	}
	hc, base, err := pki.AgentClient(c, site, 5*time.Second)
	if err != nil {
		return st, err
	}
	resp, err := hc.Get(base + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// decisionReason is the writer decision's reason at a site's agent ("" when it cannot be read).
func decisionReason(l *labtest.Lab, site string) string {
	st, _ := readStatus(l, site)
	return st.Detail.Decision.Reason
}

// An agent with the wrong gossip key is rejected by the others and cannot move the writer.
func TestWrongGossipKeyIsRejected(t *testing.T) {
	l := labtest.Get(t)
	w, _ := agreeOn(t, l, all, "", 30*time.Second)
	raw, err := os.ReadFile(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "wrong.key")
	os.WriteFile(key, []byte("d3JvbmctZ29zc2lwLWtleS0wMTIzNDU2Nzg5YWJjZGU=\n"), 0o600)
	cfg := strings.Replace(string(raw), "key_file: "+filepath.Join(l.Dir, "secrets", "gossip.key"), "key_file: "+key, 1)
	// A rogue agent posing as padova on other ports, in padova's namespace.
	for _, port := range []string{"9200", "9250", "9260", "7946"} {
		cfg = strings.ReplaceAll(cfg, "10.77.0.3:"+port, "10.77.0.3:1"+port)
	}
	cfgPath := filepath.Join(dir, "rogue.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	// Only what the real agents log from now on counts.
	offsets := map[string]int{}
	for _, s := range []string{"lngs", "bari"} {
		b, _ := os.ReadFile(filepath.Join(l.Dir, s, "agent.log"))
		offsets[s] = len(b)
	}
	logPath := filepath.Join(dir, "rogue.log")
	logf, _ := os.Create(logPath)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", "kh-padova", l.Bin, "--config", cfgPath, "agent", "--site", "padova")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait(); logf.Close() })

	labtest.Eventually(t, 20*time.Second, "the real agents log the rogue's undecryptable gossip", func() (bool, string) {
		for _, s := range []string{"lngs", "bari"} {
			b, _ := os.ReadFile(filepath.Join(l.Dir, s, "agent.log"))
			if len(b) > offsets[s] && strings.Contains(strings.ToLower(string(b[offsets[s]:])), "decrypt") {
				return true, s
			}
		}
		b, _ := os.ReadFile(logPath)
		return false, "rogue log: " + lastLines(string(b), 3)
	})
	out := keyha(t, l, "status", "--json")
	if strings.Count(out, "\"status\": \"alive\"") > 9 {
		t.Errorf("more members than sites appear alive:\n%s", out)
	}
	if got, _ := agreeOn(t, l, all, "", 5*time.Second); got != w {
		t.Errorf("writer moved from %s to %s with a rogue agent present", w, got)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// viaOnly keeps the commits made through one site's HAProxy.
func viaOnly(cs []commit, via string) []commit {
	var out []commit
	for _, c := range cs {
		if c.via == via {
			out = append(out, c)
		}
	}
	return out
}

// evictions sums keyha_galera_evictions_total{result="ok"} over the agents of sites other than gone.
func evictions(t *testing.T, l *labtest.Lab, sites []string, gone string) int {
	t.Helper()
	return counted(t, l, sites, gone, `keyha_galera_evictions_total{result="ok"}`)
}

// counted sums one counter series over the agents of sites other than gone.
func counted(t *testing.T, l *labtest.Lab, sites []string, gone, series string) int {
	t.Helper()
	n := 0
	for _, s := range sites {
		if s == gone {
			continue
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}).Get("http://" + l.Sites[s].Metrics + "/metrics")
		if err != nil {
			t.Fatalf("metrics of %s's agent: %v", s, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, series+" "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				n += int(f)
			}
		}
	}
	return n
}

// impostor answers on a site's agent addresses as a fake agent would: "up ready" on the
// agent-check port and HTTP 200 to anything, in clear (it has no key of the cluster).
const impostor = `
import http.server, socket, sys, threading
ah, ap, hh, hp = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{"state":"up"}')
    def log_message(self, *a): pass
def agent():
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind((ah, ap)); l.listen(64)
    while True:
        c, _ = l.accept(); c.sendall(b"up ready 100%\n"); c.close()
threading.Thread(target=agent, daemon=True).start()
http.server.HTTPServer((hh, hp), H).serve_forever()
`

// With a standby's agent stopped, an impostor on its addresses answering "up" and HTTP 200 never
// gets the standby a single connection: HAProxy's check verifies the agent's TLS certificate.
func TestImpostorAgent(t *testing.T) {
	l := labtest.Get(t)
	if !l.Cluster(t).TLS.On() {
		labtest.SkipOrFail(t, "the lab runs without TLS (no keyha binary?)")
	}
	w, _ := agreeOn(t, l, all, "", 30*time.Second)
	sb := "padova"
	if w == sb {
		sb = "bari"
	}
	c := startClient(t, l)
	defer c.halt()
	l.Lab(t, "agent-stop", sb) // its sockets closed too, so an impostor can take the addresses
	defer l.Lab(t, "agent-start", sb)

	ah, ap, _ := net.SplitHostPort(l.Sites[sb].Agent)
	hh, hp, _ := net.SplitHostPort(l.Sites[sb].HTTP)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", l.Sites[sb].Namespace, "python3", "-c", impostor, ah, ap, hh, hp)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // an *os.File: no copying goroutine
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	// The impostor answers in clear: a plain client would take its word.
	labtest.Eventually(t, 10*time.Second, "the impostor answers 200 in clear", func() (bool, string) {
		resp, err := (&http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}).Get("http://" + l.Sites[sb].HTTP + "/health")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	start := time.Now()
	// Watch for 6 s, several checks (inter 1 s, rise 2): the standby never comes UP anywhere.
	for time.Since(start) < 6*time.Second {
		for _, s := range all {
			if r, err := l.Server(s, sb); err == nil && strings.HasPrefix(r.Status, "UP") {
				t.Fatalf("%s's HAProxy has %s %s (check %s %s) with an impostor for its agent", s, sb, r.Status, r.CheckStatus, r.CheckDesc)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	cs, _ := c.snapshot()
	if n := nodesAfter(cs, start); n[sb] > 0 || n[w] == 0 {
		t.Errorf("commits while the impostor answered: %v, want all on %s", n, w)
	}
	r, _ := l.Server("lngs", sb)
	t.Logf("impostor on %s's agent addresses for %v: %s stayed %s in every HAProxy (lngs's check: %s %s); commits %v",
		sb, time.Since(start).Round(time.Millisecond), sb, r.Status, r.CheckStatus, r.CheckDesc, nodesAfter(cs, start))
}

// A stopped (SIGSTOP) node is alive and its port still accepts: keyha never evicts it; Galera may,
// after its own timeout. Last in the package: the stall it causes moves the writer around.
func TestStoppedNodeNotEvicted(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	w, _ := agreeOn(t, l, all, "", 30*time.Second)
	sb := "padova"
	if w == sb {
		sb = "bari"
	}
	// SIGSTOP: the process is alive, its port still accepts: keyha never evicts it (Galera
	// may, after its own timeout).
	before := evictions(t, l, all, sb)
	b, err := os.ReadFile(filepath.Join(l.Dir, sb, "mysqld.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	labtest.Eventually(t, 30*time.Second, sb+"'s agent finds its stopped node does not answer", func() (bool, string) {
		var st struct {
			Reason string `json:"reason"`
			Detail struct {
				Snapshot struct {
					ErrClass string `json:"err_class"`
				} `json:"snapshot"`
			} `json:"detail"`
		}
		if err := l.AgentStatus(t, sb, &st); err != nil {
			return false, err.Error()
		}
		return st.Detail.Snapshot.ErrClass == "timeout", st.Reason
	})
	// Watch for 3 s, more than a false claim needs to be acted on (a poll, a gossip round, a
	// poll): no eviction.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if n := evictions(t, l, all, sb); n != before {
			t.Errorf("keyha evicted the member of %s, whose mysqld was only stopped (SIGSTOP): evictions %d -> %d", sb, before, n)
			break
		}
	}
	syscall.Kill(pid, syscall.SIGCONT)
	t.Logf("%s stopped for %v: not evicted by keyha", sb, time.Since(stopped).Round(time.Millisecond))
	l.AllSynced(t, 2*time.Minute)
}

// Operator commands work from a host that is none of the sites: only the cluster file, the key,
// the admin credential and the operator's certificates are there; every site's HAProxy is read
// through its agent, maintenance goes through the signed endpoint.
func TestOperatorFromAnywhere(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	w, _ := agreeOn(t, l, all, "", 30*time.Second)
	if r := l.Operator(t, "status"); r.Code != 0 || !strings.Contains(r.Stdout, "writer: "+w) {
		t.Fatalf("status from the operator host: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	to := "bari"
	if w == to {
		to = "lngs"
	}
	r := l.Operator(t, "switchover", "--to", to)
	if r.Code != 0 || !strings.Contains(r.Stdout, "the only server UP in every HAProxy") {
		t.Fatalf("switchover from the operator host: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("switchover from the operator host: %s", strings.TrimSpace(r.Stdout))
	agreeOn(t, l, all, to, 10*time.Second)
	for _, on := range []string{"on", "off"} {
		if r := l.Operator(t, "agent", "maint", on, "--site", w); r.Code != 0 {
			t.Fatalf("maint %s from the operator host: exit %d\n%s%s", on, r.Code, r.Stdout, r.Stderr)
		}
	}
}
