package galera_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyha/keyha/control"
	"github.com/keyha/keyha/galera"
	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/load"
	"github.com/keyha/keyha/membership"
	"github.com/keyha/keyha/pki"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// background starts `keyha load run` (rows through HAProxy, or --via) and returns a func that
// interrupts it and returns its report.
func background(t *testing.T, l *labtest.Lab, journal string, args ...string) func() load.Report {
	t.Helper()
	report := journal + ".json"
	cmd := exec.Command(l.Bin, append([]string{"load", "run", "--reset", "--rows", "5000000", "--concurrency", "4",
		"--journal", journal, "--report", report}, args...)...)
	cmd.Env = append(os.Environ(), "KEYHA_CONFIG="+l.Config)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Rows must be flowing before the test breaks anything.
	labtest.Eventually(t, 30*time.Second, "the load journals rows", func() (bool, string) {
		fi, err := os.Stat(journal)
		return err == nil && fi.Size() > 44+12*500, stderr.String()
	})
	return func() load.Report {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		var r load.Report
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("load report: %v\n%s", err, stderr.String())
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
}

func check(t *testing.T, l *labtest.Lab, journal string) load.CheckReport {
	t.Helper()
	r := l.Keyha(t, nil, "load", "check", "--journal", journal, "--json")
	var cr load.CheckReport
	if err := json.Unmarshal([]byte(r.Stdout), &cr); err != nil {
		t.Fatalf("check: %v\n%s", err, r.Stderr)
	}
	if r.Code != 0 || !cr.OK {
		t.Fatalf("acknowledged rows lost or divergent after recovery: %v", cr.Problems)
	}
	return cr
}

var recoveredIn = regexp.MustCompile(`recovered: 3 sites Synced in one Primary component, ([0-9.]+)s from the command`)

func recoverCluster(t *testing.T, l *labtest.Lab, wantBootstrap, wantMethod string) float64 {
	t.Helper()
	r := l.Operator(t, "galera", "recover") // from a host that is none of the sites
	t.Logf("keyha galera recover (as an operator):\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("recover failed (exit %d)", r.Code)
	}
	if want := fmt.Sprintf("plan: bootstrap %s by %s", wantBootstrap, wantMethod); wantBootstrap != "" && !strings.Contains(r.Stdout, want) {
		t.Errorf("recover did not plan %q", want)
	}
	m := recoveredIn.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatal("recover did not report all three sites Synced")
	}
	l.AllSynced(t, 30*time.Second)
	secs, _ := strconv.ParseFloat(m[1], 64)
	return secs
}

// (a) kill -9 every mysqld under load; recover brings all three back; no acknowledged row lost.
// What every node runs is what `keyha render` writes (the lab installs its output): check-config
// finds nothing to say; a cluster file whose Galera settings moved makes it name the setting at
// every site; and a second render writes nothing.
func TestRenderedIsWhatRuns(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	r := l.Keyha(t, nil, "galera", "check-config")
	for _, s := range labtest.Sites {
		if !strings.Contains(r.Stdout, "OK    "+s+": runs what keyha render writes for it") {
			t.Errorf("check-config does not find %s running its rendered galera.cnf:\n%s%s", s, r.Stdout, r.Stderr)
		}
	}
	raw, err := os.ReadFile(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(raw), "suspect_timeout: 2500ms", "suspect_timeout: 4s", 1)
	if moved == string(raw) {
		t.Fatal("the lab's cluster file has no galera.suspect_timeout: 2500ms to move")
	}
	alt := filepath.Join(t.TempDir(), "keyha.yaml")
	if err := os.WriteFile(alt, []byte(moved), 0o600); err != nil {
		t.Fatal(err)
	}
	r = l.Keyha(t, []string{"KEYHA_CONFIG=" + alt}, "galera", "check-config")
	for _, s := range labtest.Sites {
		want := "WARN  " + s + `: provider option evs.suspect_timeout is "PT2.5S", rendered "PT4S"`
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("check-config with suspect_timeout moved does not say %q:\n%s%s", want, r.Stdout, r.Stderr)
		}
	}
	out := t.TempDir()
	for i, want := range []string{"written ", "unchanged "} {
		r = l.Keyha(t, nil, "render", "--site", "bari", "--out", out)
		if r.Code != 0 {
			t.Fatalf("render: %s", r.Stderr)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if !strings.HasPrefix(line, want) {
				t.Errorf("render #%d: %q, want every file %q", i+1, line, want)
			}
		}
	}
	got, _ := os.ReadFile(filepath.Join(out, "galera.cnf"))
	runs, _ := os.ReadFile(filepath.Join(l.Dir, "bari", "galera.cnf"))
	if len(got) == 0 || !bytes.Equal(got, runs) {
		t.Errorf("bari's node runs a galera.cnf other than what render writes now:\n%s\nvs\n%s", runs, got)
	}

	// Every agent finds its site's HAProxy running the servers of its rendered haproxy.cfg; a
	// server moved by hand at bari is named by bari's agent (restarted: it compares at start, then
	// every minute), and no longer once it is back.
	drift := func(site string) []string {
		var st struct {
			Detail struct {
				Rendered []string `json:"rendered_drift"`
			} `json:"detail"`
		}
		if err := l.AgentStatus(t, site, &st); err != nil {
			t.Fatalf("%s's /status: %v", site, err)
		}
		return st.Detail.Rendered
	}
	for _, s := range labtest.Sites {
		if d := drift(s); len(d) != 0 {
			t.Errorf("%s: rendered_drift %q with the lab's rendered files running", s, d)
		}
	}
	addr := l.Sites["padova"].SQL
	host, port, _ := net.SplitHostPort(addr)
	away := false
	move := func(to string) {
		if _, err := l.HAProxy("bari").Exec(context.Background(), "set server galera/padova addr "+to+" port "+port); err != nil {
			t.Fatal(err)
		}
		away = to != host
		l.Lab(t, "agent-restart", "bari")
	}
	move("10.77.0.99")
	t.Cleanup(func() {
		if away {
			move(host)
		}
	})
	want := "HAProxy's server galera/padova is at " + net.JoinHostPort("10.77.0.99", port) + ", rendered at " + addr
	labtest.Eventually(t, 30*time.Second, "bari's agent names the moved server", func() (bool, string) {
		d := drift("bari")
		return slices.Contains(d, want), strings.Join(d, "; ")
	})
	move(host)
	labtest.Eventually(t, 30*time.Second, "bari's agent finds its HAProxy as rendered again", func() (bool, string) {
		d := drift("bari")
		return len(d) == 0, strings.Join(d, "; ")
	})
}

// stallLab is a table the writer writes to and a standby whose applier a test can stall with a
// session holding LOCK TABLES ... WRITE on it (Galera does not abort an explicit lock for its
// applier): the faithful stuck applier of docs/recovery.md.
type stallLab struct {
	l                *labtest.Lab
	writer, stalled  string
	wdb, sdb         *sql.DB
	acked            atomic.Int64
	longest, current atomic.Int64 // the longest insert so far and the one in flight (its start, ns)
	stop             chan struct{}
	done             chan error
}

func newStallLab(t *testing.T, l *labtest.Lab) *stallLab {
	l.AllSynced(t, 2*time.Minute)
	s := &stallLab{l: l, writer: l.Writer(t, 30*time.Second), stalled: "padova"}
	if s.writer == s.stalled {
		s.stalled = "bari"
	}
	ctx := t.Context()
	// The writes wait for the whole stall: a read timeout longer than any the tests hold it.
	c, err := l.Cluster(t).ReadCredential(filepath.Join(l.Dir, "secrets", "lab.cnf"))
	if err != nil {
		t.Fatal(err)
	}
	if s.wdb, err = galera.Open(l.Sites[s.writer].SQL, c, 3*time.Second, 2*time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.wdb.Close() })
	for _, q := range []string{"CREATE DATABASE IF NOT EXISTS keyha_stall", "DROP TABLE IF EXISTS keyha_stall.t",
		"CREATE TABLE keyha_stall.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)"} {
		if _, err := s.wdb.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.sdb = l.DB(t, l.Sites[s.stalled].SQL, "lab")
	labtest.Eventually(t, 10*time.Second, "the table reaches "+s.stalled, func() (bool, string) {
		_, err := s.sdb.ExecContext(ctx, "SELECT 1 FROM keyha_stall.t LIMIT 1")
		return err == nil, fmt.Sprint(err)
	})
	return s
}

// lock takes the table lock at the stalled node; the returned session holds it until closed.
func (s *stallLab) lock(t *testing.T) *sql.Conn {
	lock, err := s.sdb.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	if _, err := lock.ExecContext(t.Context(), "LOCK TABLES keyha_stall.t WRITE"); err != nil {
		t.Fatal(err)
	}
	return lock
}

// write inserts at the writer from another goroutine until finish: the inserts stall once the
// stalled node's queue passes fc_limit.
func (s *stallLab) write() {
	s.stop, s.done = make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-s.stop:
				s.done <- nil
				return
			default:
			}
			start := time.Now()
			s.current.Store(start.UnixNano())
			if _, err := s.wdb.ExecContext(context.Background(), "INSERT INTO keyha_stall.t (v) VALUES (1)"); err != nil {
				s.done <- err
				return
			}
			s.current.Store(0)
			if d := int64(time.Since(start)); d > s.longest.Load() {
				s.longest.Store(d)
			}
			s.acked.Add(1)
		}
	}()
}

// finish stops the writes and checks that every acknowledged row is on every node.
func (s *stallLab) finish(t *testing.T) {
	close(s.stop)
	if err := <-s.done; err != nil {
		t.Fatalf("insert at %s: %v", s.writer, err)
	}
	n := s.acked.Load()
	labtest.Eventually(t, 60*time.Second, "every acknowledged row on every node", func() (bool, string) {
		var why []string
		for _, site := range labtest.Sites {
			var c int64
			s.l.DB(t, s.l.Sites[site].SQL, "lab").QueryRowContext(t.Context(), "SELECT COUNT(*) FROM keyha_stall.t").Scan(&c)
			if c != n {
				why = append(why, fmt.Sprintf("%s %d", site, c))
			}
		}
		return len(why) == 0, fmt.Sprintf("want %d rows: %v", n, why)
	})
}

// metric reads one sample of a site's agent metrics (plain HTTP, what Prometheus scrapes); -1 when
// it cannot.
func metric(l *labtest.Lab, site, series string) float64 {
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := hc.Get("http://" + l.Sites[site].Metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// A session at a standby holding LOCK TABLES ... WRITE on a table the writer writes to stalls that
// node's applier, and Galera's flow control makes every site wait for it (docs/recovery.md). Its
// agent names it: keyha_applier_stalled_seconds climbs at that node only, and falls back to 0
// once the lock is gone (before agent.evict_stalled_after); every acknowledged row is then on
// every node.
func TestStalledApplierNamed(t *testing.T) {
	l := labtest.Get(t)
	s := newStallLab(t, l)
	stalledFor := func(site string) float64 { return metric(l, site, "keyha_applier_stalled_seconds") }
	lock := s.lock(t)
	s.write()
	took := labtest.Eventually(t, 30*time.Second, s.stalled+"'s agent names its stalled applier", func() (bool, string) {
		v := stalledFor(s.stalled)
		return v >= 3, fmt.Sprintf("keyha_applier_stalled_seconds %v", v)
	})
	for _, site := range labtest.Sites {
		if site != s.stalled {
			if v := stalledFor(site); v != 0 {
				t.Errorf("%s reports its applier stalled for %vs: only %s's is", site, v, s.stalled)
			}
		}
	}
	t.Logf("%s's applier named stalled %.1fs after its table was locked (%d commits acknowledged at %s by then)", s.stalled, took.Seconds(), s.acked.Load(), s.writer)
	if _, err := lock.ExecContext(t.Context(), "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 30*time.Second, s.stalled+"'s applier moves again", func() (bool, string) {
		v := stalledFor(s.stalled)
		return v == 0, fmt.Sprintf("keyha_applier_stalled_seconds %v", v)
	})
	s.finish(t)
}

// The same stuck applier, held: its agent drains the node after 5 s, and once it has held every
// site for agent.evict_stalled_after (10 s in the lab) a survivor evicts it. The writer commits
// again, no acknowledged row is lost, the evicted node leaves the group for good and rejoins
// once restarted, and the survivors' evict list is emptied after that restart.
func TestStalledApplierEvicted(t *testing.T) {
	l := labtest.Get(t)
	after := l.Cluster(t).Agent.EvictStalledAfter
	if after <= 0 {
		t.Fatalf("the lab's agent.evict_stalled_after is %s: eviction off", after)
	}
	s := newStallLab(t, l)
	uuid := l.Status(t, s.sdb, "wsrep_gcomm_uuid")
	if !galera.ValidUUID(uuid) {
		t.Fatalf("%s's wsrep_gcomm_uuid %q", s.stalled, uuid)
	}
	health := func(site string) string {
		var st struct {
			Health string `json:"health"`
		}
		if err := l.AgentStatus(t, site, &st); err != nil {
			return err.Error()
		}
		return st.Health
	}
	evicted := func() float64 {
		n := 0.0
		for _, site := range labtest.Sites {
			if v := metric(l, site, `keyha_galera_stall_evictions_total{result="ok"}`); v > 0 && site != s.stalled {
				n += v
			}
		}
		return n
	}
	before := evicted()
	lock := s.lock(t)
	locked := time.Now()
	s.write()
	drained := labtest.Eventually(t, 30*time.Second, s.stalled+"'s agent drains its node", func() (bool, string) {
		h := health(s.stalled)
		return h == "drain", "health " + h
	})
	wdb := s.wdb
	var size string
	labtest.Eventually(t, after+30*time.Second, s.stalled+" evicted, the others in a Primary component of two", func() (bool, string) {
		list := l.Status(t, wdb, "wsrep_evs_evict_list")
		size = l.Status(t, wdb, "wsrep_cluster_size")
		return strings.Contains(list, uuid) && size == "2", fmt.Sprintf("at %s: evict list %q, size %s", s.writer, list, size)
	})
	out := time.Since(locked)
	// The writer commits again: rows acknowledged after the eviction, none waiting long.
	n := s.acked.Load()
	labtest.Eventually(t, 10*time.Second, s.writer+" commits again", func() (bool, string) {
		cur := s.current.Load()
		waiting := time.Duration(0)
		if cur != 0 {
			waiting = time.Since(time.Unix(0, cur))
		}
		return s.acked.Load() >= n+20 && waiting < time.Second, fmt.Sprintf("%d rows since, the insert in flight waiting %s", s.acked.Load()-n, waiting)
	})
	longest := time.Duration(s.longest.Load())
	t.Logf("%s drained %.1fs after its table was locked; evicted %.1fs after the lock (agent.evict_stalled_after %s); the longest insert at %s waited %.1fs",
		s.stalled, drained.Seconds(), out.Seconds(), after, s.writer, longest.Seconds())
	if longest > after+10*time.Second {
		t.Errorf("an insert at %s waited %s: the eviction did not end the stall", s.writer, longest)
	}
	if got := evicted() - before; got != 1 {
		t.Errorf("%v stall evictions counted by the survivors' agents, want 1", got)
	}
	// The evicted node's own view: out of the group for good, even once its applier moves.
	if _, err := lock.ExecContext(t.Context(), "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 30*time.Second, s.stalled+" reported down", func() (bool, string) {
		h := health(s.stalled)
		return h == "down", "health " + h
	})
	// It leaves the group on its own once its applier takes the eviction in; docs/recovery.md has
	// the operator restart it after that (a shutdown begun within the second of its eviction
	// hung once here, until the lab's kill -9 120 s later).
	labtest.Eventually(t, 30*time.Second, s.stalled+" disconnected from the group", func() (bool, string) {
		c, st := l.Status(t, s.sdb, "wsrep_connected"), l.Status(t, s.sdb, "wsrep_cluster_status")
		return c == "OFF" && st != "Primary", fmt.Sprintf("wsrep_connected %s, wsrep_cluster_status %s", c, st)
	})
	// Restarted, it rejoins (a new member UUID) and the survivors forget the old one.
	restart := time.Now()
	l.Lab(t, "stop", s.stalled)
	l.Lab(t, "start", s.stalled)
	l.AllSynced(t, 2*time.Minute)
	t.Logf("%s restarted and Synced again in %.1fs", s.stalled, time.Since(restart).Seconds())
	labtest.Eventually(t, 30*time.Second, "the survivors' evict list emptied", func() (bool, string) {
		list := l.Status(t, wdb, "wsrep_evs_evict_list")
		return list == "", fmt.Sprintf("at %s: %q", s.writer, list)
	})
	s.finish(t)
}

func TestRecoverAfterKillAll(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	journal := filepath.Join(t.TempDir(), "journal")
	stop := background(t, l, journal, "--retry-for", "2s")
	for _, s := range labtest.Sites {
		l.Lab(t, "kill", s)
	}
	rep := stop()
	t.Logf("load: %d rows acknowledged before the outage", rep.Acked)
	secs := recoverCluster(t, l, "", galera.NewCluster)
	t.Logf("recover after kill -9 of all three: all Synced %.1fs from the command", secs)
	cr := check(t, l, journal)
	t.Logf("check: %d acknowledged, all on every node; %d present but unacknowledged", cr.Acknowledged, cr.Unacked)
}

// (b) the most advanced node is not the first site: lngs dies, padova leaves cleanly, bari goes on
// alone and dies last. Recover must start from bari and lose nothing.
func TestRecoverFromMostAdvanced(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	journal := filepath.Join(t.TempDir(), "journal")
	stop := background(t, l, journal, "--via", "bari", "--retry-for", "2s")
	bari := l.DB(t, l.Sites["bari"].SQL, "lab")
	committed := func() int64 {
		n, _ := strconv.ParseInt(l.Status(t, bari, "wsrep_last_committed"), 10, 64)
		return n
	}
	l.Lab(t, "kill", "lngs")
	labtest.Eventually(t, 30*time.Second, "bari and padova Primary without lngs", func() (bool, string) {
		return l.Status(t, bari, "wsrep_cluster_size") == "2", l.Status(t, bari, "wsrep_cluster_size")
	})
	l.Lab(t, "stop", "padova")
	labtest.Eventually(t, 30*time.Second, "bari Primary alone", func() (bool, string) {
		return l.Status(t, bari, "wsrep_cluster_size") == "1" && l.Status(t, bari, "wsrep_cluster_status") == "Primary", l.Status(t, bari, "wsrep_cluster_size")
	})
	at := committed()
	labtest.Eventually(t, 30*time.Second, "bari commits alone", func() (bool, string) {
		return committed() > at+100, fmt.Sprint(committed())
	})
	l.Lab(t, "kill", "bari")
	rep := stop()
	t.Logf("load: %d rows acknowledged", rep.Acked)

	dry := l.Keyha(t, nil, "galera", "recover", "--dry-run")
	t.Logf("dry run:\n%s%s", dry.Stdout, dry.Stderr)
	if dry.Code != 0 || !strings.Contains(dry.Stdout, "plan: bootstrap bari by new-cluster") || !strings.Contains(dry.Stdout, "dry run: nothing done") {
		t.Fatalf("dry run did not plan to bootstrap bari (exit %d)", dry.Code)
	}
	if out := l.Lab(t, "status"); strings.Contains(out, "Synced") {
		t.Fatalf("the dry run started something:\n%s", out)
	}
	secs := recoverCluster(t, l, "bari", galera.NewCluster)
	t.Logf("recover from bari: all Synced %.1fs from the command", secs)
	check(t, l, journal)
}

// (c) every site cut off from every other: all non-Primary. Galera 4 forms the Primary component
// again by itself once every member of the last one is back (measured and logged here). Recover
// restores it at once, by pc.bootstrap on the most advanced node and without restarting any mysqld,
// while the sites are still cut off; they join it when healed.
func TestRecoverPartitionedEverywhere(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	dbs := map[string]*sql.DB{}
	pids := map[string]string{}
	for _, s := range labtest.Sites {
		dbs[s] = l.DB(t, l.Sites[s].SQL, "lab")
		b, _ := os.ReadFile(filepath.Join(l.Dir, s, "mysqld.pid"))
		pids[s] = strings.TrimSpace(string(b))
	}
	statuses := func() (map[string]string, string) {
		m := map[string]string{}
		var seen []string
		for _, s := range labtest.Sites {
			m[s] = l.Status(t, dbs[s], "wsrep_cluster_status")
			seen = append(seen, s+"="+m[s])
		}
		return m, strings.Join(seen, " ")
	}
	cutAll := func() {
		for _, s := range labtest.Sites {
			l.Lab(t, "partition", s)
		}
		labtest.Eventually(t, time.Minute, "every site non-Primary", func() (bool, string) {
			m, seen := statuses()
			return m["lngs"] == "non-Primary" && m["bari"] == "non-Primary" && m["padova"] == "non-Primary", seen
		})
	}
	healAll := func() {
		for _, s := range labtest.Sites {
			l.Lab(t, "heal", s)
		}
	}

	cutAll()
	healAll()
	took := l.AllSynced(t, time.Minute)
	t.Logf("after a heal, Galera formed the Primary component by itself in %.1fs", took.Seconds())

	cutAll()
	rec := exec.Command(l.Bin, "galera", "recover")
	rec.Env = append(os.Environ(), "KEYHA_CONFIG="+l.Config)
	var out strings.Builder
	rec.Stdout, rec.Stderr = &out, &out
	t0 := time.Now()
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 30*time.Second, "lngs Primary again by pc.bootstrap", func() (bool, string) {
		m, seen := statuses()
		return m["lngs"] == "Primary", seen + " | " + out.String()
	})
	t.Logf("lngs Primary %.1fs after the command, the sites still cut off", time.Since(t0).Seconds())
	healAll()
	err := rec.Wait()
	t.Logf("keyha galera recover:\n%s", out.String())
	if err != nil || !strings.Contains(out.String(), "plan: bootstrap lngs by pc.bootstrap") || !recoveredIn.MatchString(out.String()) {
		t.Fatalf("recover: %v", err)
	}
	l.AllSynced(t, 30*time.Second)
	for _, s := range labtest.Sites {
		b, _ := os.ReadFile(filepath.Join(l.Dir, s, "mysqld.pid"))
		if got := strings.TrimSpace(string(b)); got != pids[s] {
			t.Errorf("mysqld at %s was restarted (pid %s, was %s)", s, got, pids[s])
		}
	}
}

// (d) a rolling restart under writes through HAProxy: no acknowledged row lost, nothing given up.
func TestRollingRestart(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	w := l.Writer(t, 30*time.Second)
	journal := filepath.Join(t.TempDir(), "journal")
	stop := background(t, l, journal, "--retry-for", "60s")
	t0 := time.Now()
	r := l.Operator(t, "galera", "rolling-restart") // from a host that is none of the sites
	took := time.Since(t0)
	rep := stop()
	t.Logf("rolling restart (writer was %s) in %.1fs:\n%s%s", w, took.Seconds(), r.Stdout, r.Stderr)
	if r.Code != 0 {
		t.Fatalf("rolling restart failed (exit %d)", r.Code)
	}
	if !strings.Contains(r.Stdout, "switch the writer from "+w) || strings.Index(r.Stdout, "restart "+w) < strings.Index(r.Stdout, "switch the writer") {
		t.Errorf("the writer %s was not restarted last, after a switchover", w)
	}
	t.Logf("load during the restart: %d rows, errors %v, given up %d, being retried when stopped %d, max commit %.0f ms",
		rep.Acked, rep.Errors, rep.GivenUp, rep.Interrupted, rep.Latency.Max)
	if rep.GivenUp > 0 {
		t.Errorf("%d rows were given up during the rolling restart", rep.GivenUp)
	}
	for class, n := range rep.Errors {
		if class != load.ClassConnection && class != load.ClassNotReady {
			t.Errorf("%d failed commits of class %s: only reconnects are expected", n, class)
		}
	}
	l.AllSynced(t, time.Minute)
	check(t, l, journal)
}

// (e) refusals: a site that cannot be asked, and a node from another cluster.
func TestRecoverRefusals(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, 2*time.Minute)
	// An unsigned or wrongly signed request cannot stop a node.
	wrong, _ := control.Sign(control.Derive([]byte("not-the-cluster-key-0123456789ab")).Control, "lngs", "POST", "/galera/stop", nil, time.Now())
	for _, sig := range []string{"", wrong} {
		if code, body := send(t, l, "lngs", "POST", "/galera/stop", sig, nil); code != http.StatusForbidden {
			t.Errorf("control request signed %q: HTTP %d %s, want 403", sig, code, body)
		}
	}
	// Signed with the cluster key but without a client certificate of the cluster: refused too.
	if c := l.Cluster(t); c.TLS.On() {
		cfg, err := pki.ClientConfig(c.TLS.CA, "", "", "lngs")
		if err != nil {
			t.Fatal(err)
		}
		key, _ := membership.ReadKey(c.Gossip.KeyFile)
		sig, _ := control.Sign(control.Derive(key).Control, "lngs", "GET", "/galera/position", nil, time.Now())
		req, _ := http.NewRequest("GET", "https://"+l.Sites["lngs"].HTTP+"/galera/position", nil)
		req.Header.Set(control.Header, sig)
		resp, err := (&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: cfg}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "client certificate") {
			t.Errorf("a signed request without a client certificate: HTTP %d %s, want 403", resp.StatusCode, b)
		}
	}
	// A request captured on the path acts once, at the site it was signed for, with its own body.
	key, err := membership.ReadKey(l.Cluster(t).Gossip.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keys := control.Derive(key)
	sig, _ := control.Sign(keys.Control, "lngs", "GET", "/galera/position", nil, time.Now())
	// Its body swapped on the way: refused, before the genuine one arrives.
	if code, body := send(t, l, "lngs", "GET", "/galera/position", sig, []byte(`{}`)); code != http.StatusForbidden || !strings.Contains(body, "bad signature") {
		t.Errorf("a request with its body changed: HTTP %d %s, want 403 and a bad signature", code, body)
	}
	if code, body := send(t, l, "lngs", "GET", "/galera/position", sig, nil); code != http.StatusOK {
		t.Fatalf("a signed request: HTTP %d %s, want 200", code, body)
	}
	for _, c := range []struct {
		what, site string
		body       []byte
		want       string
	}{
		{"replayed", "lngs", nil, "replay"},
		{"redirected to bari", "bari", nil, "bad signature"},
	} {
		if code, body := send(t, l, c.site, "GET", "/galera/position", sig, c.body); code != http.StatusForbidden || !strings.Contains(body, c.want) {
			t.Errorf("a captured request %s: HTTP %d %s, want 403 and %q", c.what, code, body, c.want)
		}
	}
	if r := l.Keyha(t, nil, "galera", "recover"); r.Code != 0 || !strings.Contains(r.Stdout, "nothing to recover") {
		t.Errorf("recover of a healthy cluster: exit %d %s%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, s := range labtest.Sites {
		l.Lab(t, "stop", s)
	}
	defer recoverCluster(t, l, "", "")

	// padova's agent down: it cannot be asked.
	l.Lab(t, "agent-stop", "padova")
	r := l.Keyha(t, nil, "galera", "recover")
	if r.Code == 0 || !strings.Contains(r.Stderr, "padova") || !strings.Contains(r.Stderr, "--force-without padova") {
		t.Errorf("recover without padova's agent: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	l.Lab(t, "agent-start", "padova")
	labtest.Eventually(t, 10*time.Second, "padova's agent answers", func() (bool, string) {
		c, err := net.DialTimeout("tcp", l.Sites["padova"].HTTP, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil, fmt.Sprint(err)
	})

	// bari's grastate.dat names another cluster.
	path := filepath.Join(l.Dir, "bari", "data", "grastate.dat")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := galera.ParseGraState(orig)
	other := strings.Replace(string(orig), g.UUID, "11111111-2222-3333-4444-555555555555", 1)
	if err := os.WriteFile(path, []byte(other), 0o660); err != nil {
		t.Fatal(err)
	}
	r = l.Keyha(t, nil, "galera", "recover")
	os.WriteFile(path, orig, 0o660)
	if r.Code == 0 || !strings.Contains(r.Stderr, "different clusters") || !strings.Contains(r.Stderr, "11111111-2222-3333-4444-555555555555 at bari") {
		t.Errorf("recover with a foreign node: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if out := l.Lab(t, "status"); strings.Contains(out, "Synced") {
		t.Errorf("a refused recover started something:\n%s", out)
	}
}

// send makes one control request with a given signature header and returns the status and body.
func send(t *testing.T, l *labtest.Lab, site, method, uri, sig string, body []byte) (int, string) {
	t.Helper()
	hc, base := l.Agent(t, site)
	req, err := http.NewRequest(method, base+uri, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		req.Header.Set(control.Header, sig)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}
