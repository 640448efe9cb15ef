package load_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/load"
)

func TestMain(m *testing.M) { labtest.Main(m) }

// TestLoadUnderFaults is the acceptance run, scaled for `make test` (`make bench` runs 1M rows):
// rows through every site's HAProxy while the writer's mysqld is killed and restarted and another
// site is cut off and healed, with the bank running beside it; then the check.
func TestLoadUnderFaults(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, time.Minute)
	w := l.Writer(t, 30*time.Second)
	cut := "padova"
	if w == cut {
		cut = "bari"
	}
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal")

	stopBank := startBank(t, l)

	faults := fmt.Sprintf("kill:%s@5s,start:%s@8s,partition:%s@12s,heal:%s@22s", w, w, cut, cut)
	run := l.Keyha(t, nil, "load", "run", "--reset", "--rows", "150000", "--concurrency", "12", "--via", "haproxy",
		"--journal", journal, "--faults", faults, "--report", filepath.Join(dir, "run.json"))
	t.Logf("load run (faults %s):\n%s%s", faults, run.Stdout, tail(run.Stderr, 8))
	if run.Code != 0 {
		t.Fatalf("load run exited %d", run.Code)
	}
	var r load.Report
	readJSON(t, filepath.Join(dir, "run.json"), &r)
	if r.Acked == 0 || r.Journaled != r.Acked {
		t.Errorf("acknowledged %d, journaled %d: every acknowledgement must be journaled", r.Acked, r.Journaled)
	}
	for _, f := range r.Faults {
		if f.Error != "" || f.Skipped {
			t.Errorf("fault %s did not run as planned: %+v", f.Fault, f)
		}
	}
	if r.Errors[load.ClassConnection]+r.Errors[load.ClassNotReady] == 0 {
		t.Errorf("no failed attempt at all while the writer was killed: were the faults injected? %+v", r.Errors)
	}

	took := l.AllSynced(t, 2*time.Minute)
	t.Logf("all Synced %.1fs after the load", took.Seconds())
	br := stopBank()
	for _, s := range labtest.Sites {
		if br.Reads[s] == 0 {
			t.Errorf("the bank never audited %s", s)
		}
	}

	check := l.Keyha(t, nil, "load", "check", "--journal", journal, "--report", filepath.Join(dir, "check.json"))
	t.Logf("check:\n%s%s", check.Stdout, check.Stderr)
	var cr load.CheckReport
	readJSON(t, filepath.Join(dir, "check.json"), &cr)
	if check.Code != 0 || !cr.OK || len(cr.Missing) > 0 || len(cr.DivergentChunks) > 0 {
		t.Fatalf("check failed (exit %d): %v", check.Code, cr.Problems)
	}
	if cr.Acknowledged != r.Journaled {
		t.Errorf("check read %d acknowledged ids, the run journaled %d", cr.Acknowledged, r.Journaled)
	}

	t.Run("planted loss", func(t *testing.T) { plantedLoss(t, l, journal) })
}

// plantedLoss deletes acknowledged rows at one node only, without replication, and changes a
// payload at another: the check must fail and name both sites.
func plantedLoss(t *testing.T, l *labtest.Lab, journal string) {
	bari := l.DB(t, l.Sites["bari"].SQL, "lab")
	conn, err := bari.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"SET SESSION wsrep_on=OFF", "DELETE FROM keyha_load.item WHERE id IN (7, 50001, 50002)", "SET SESSION wsrep_on=ON"} {
		if _, err := conn.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	padova := l.DB(t, l.Sites["padova"].SQL, "lab")
	pc, err := padova.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// '~' is outside the payload alphabet, so the UPDATE always changes the row (an 'x' was
	// already there in 1 run of 64, and the check then rightly found nothing at padova).
	for _, q := range []string{"SET SESSION wsrep_on=OFF", "UPDATE keyha_load.item SET payload = CONCAT('~', SUBSTR(payload, 2)) WHERE id = 99", "SET SESSION wsrep_on=ON"} {
		res, err := pc.ExecContext(t.Context(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if strings.HasPrefix(q, "UPDATE") {
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("%s changed %d rows, want 1", q, n)
			}
		}
	}
	check := l.Keyha(t, nil, "load", "check", "--journal", journal)
	t.Logf("check after the planted loss:\n%s%s", check.Stdout, check.Stderr)
	if check.Code != 2 {
		t.Fatalf("check exited %d with rows deleted at bari, want 2 (it ran and found the cluster broken)", check.Code)
	}
	for _, want := range []string{"site bari lacks 3 acknowledged rows", "site padova holds 1 rows whose payload fails its checksum",
		"id 7 (acknowledged true): missing at [bari]", "id 99 (acknowledged true): missing at [], differs at [padova]"} {
		if !strings.Contains(check.Stdout+check.Stderr, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	if strings.Contains(check.Stdout, "lngs lacks") {
		t.Error("check blames lngs, which lost nothing")
	}
}

// TestLoadBadInput: every bad input gives a clear error and loses nothing.
func TestLoadBadInput(t *testing.T) {
	l := labtest.Get(t)
	dir := t.TempDir()
	raw, err := os.ReadFile(l.Config)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(name, old, new string) string {
		if !strings.Contains(string(raw), old) {
			t.Fatalf("cluster file lacks %q", old)
		}
		p := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(p, []byte(strings.Replace(string(raw), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badPass := filepath.Join(dir, "bad.cnf")
	if err := os.WriteFile(badPass, []byte("[client]\nuser=keyha_app\npassword=not-the-password-Zq9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unreachable := variant("unreachable", "haproxy_db: 10.77.0.2:3307", "haproxy_db: 10.77.0.254:1")
	wrongCred := variant("wrongcred", "app: "+l.Dir+"/secrets/app.cnf", "app: "+badPass)

	fresh := filepath.Join(dir, "fresh")
	if r := l.Keyha(t, nil, "load", "run", "--reset", "--rows", "2000", "--concurrency", "2", "--journal", fresh); r.Code != 0 {
		t.Fatalf("a small run failed: %s", r.Stderr)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unreachable target", []string{"KEYHA_CONFIG=" + unreachable}, []string{"load", "run", "--reset", "--rows", "10", "--journal", filepath.Join(dir, "j1")}, "reach bari at 10.77.0.254:1"},
		{"wrong credentials", []string{"KEYHA_CONFIG=" + wrongCred}, []string{"load", "run", "--reset", "--rows", "10", "--journal", filepath.Join(dir, "j2")}, "Access denied for user 'keyha_app'"},
		{"schema in use", nil, []string{"load", "run", "--rows", "10", "--journal", filepath.Join(dir, "j3")}, "database keyha_load already exists (run "},
		{"journal exists", nil, []string{"load", "run", "--reset", "--rows", "10", "--journal", fresh}, "already exists"},
		{"journal of another kind", nil, []string{"load", "check", "--journal", other}, "not a keyha load journal"},
		{"bad schedule", nil, []string{"load", "run", "--rows", "10", "--journal", filepath.Join(dir, "j4"), "--faults", "heal:bari@1s"}, "nothing to heal"},
		{"zero rows", nil, []string{"load", "run", "--reset", "--rows", "0", "--journal", filepath.Join(dir, "j5")}, "--rows must be at least 1"},
	} {
		r := l.Keyha(t, c.env, c.args...)
		if r.Code != 1 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 (could not run) and an error with %q", c.name, r.Code, r.Stderr, c.want)
		}
		if strings.Contains(r.Stderr+r.Stdout, "not-the-password-Zq9") {
			t.Errorf("%s: a password was printed", c.name)
		}
	}
	// Nothing was touched by the refusals: the small run still checks out, journal intact. (The
	// wrong-credential and unreachable runs failed before --reset could drop anything.)
	if r := l.Keyha(t, nil, "load", "check", "--journal", fresh); r.Code != 0 {
		t.Errorf("the refusals changed the last run: %s%s", r.Stdout, r.Stderr)
	}

	t.Run("journal of another run", func(t *testing.T) {
		second := filepath.Join(dir, "second")
		if r := l.Keyha(t, nil, "load", "run", "--reset", "--rows", "100", "--journal", second); r.Code != 0 {
			t.Fatalf("second run: %s", r.Stderr)
		}
		r := l.Keyha(t, nil, "load", "check", "--journal", fresh)
		if r.Code != 1 || !strings.Contains(r.Stderr, "journal from another run") {
			t.Errorf("checked a journal against another run's rows: exit %d %s", r.Code, r.Stderr)
		}
	})

	t.Run("journal disk full", func(t *testing.T) {
		mnt := filepath.Join(dir, "small")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt).CombinedOutput(); err != nil {
			t.Fatalf("mount a 16 KiB tmpfs: %v %s", err, out)
		}
		defer exec.Command("umount", mnt).Run()
		j := filepath.Join(mnt, "journal")
		r := l.Keyha(t, nil, "load", "run", "--reset", "--rows", "20000", "--concurrency", "4", "--journal", j, "--json")
		if r.Code == 0 || !strings.Contains(r.Stderr, "no space left on device") {
			t.Fatalf("a full journal disk: exit %d, stderr %q", r.Code, tail(r.Stderr, 3))
		}
		var rep load.Report
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
			t.Fatalf("no report after the failure: %v", err)
		}
		if rep.Acked >= 20000 {
			t.Errorf("the run went on after its journal failed: %d rows acknowledged", rep.Acked)
		}
		// What the journal holds is still provably there; the rest counts as unacknowledged.
		c := l.Keyha(t, nil, "load", "check", "--journal", j, "--json")
		var cr load.CheckReport
		if err := json.Unmarshal([]byte(c.Stdout), &cr); err != nil {
			t.Fatalf("check after a full disk: %v %s", err, c.Stderr)
		}
		t.Logf("disk full: %d acknowledged, %d journaled, check: %d acknowledged, %d present-unacknowledged", rep.Acked, rep.Journaled, cr.Acknowledged, cr.Unacked)
		if c.Code != 0 || !cr.OK || cr.Acknowledged == 0 || cr.Unacked == 0 {
			t.Errorf("check of a cut-short journal: exit %d, %v", c.Code, cr.Problems)
		}
	})
}

// startBank runs keyha load bank beside a load; the returned stop interrupts it, fails the test on
// a broken invariant, and gives its report.
func startBank(t *testing.T, l *labtest.Lab) (stop func() load.BankReport) {
	bank := exec.Command(l.Bin, "load", "bank", "--reset", "--accounts", "50", "--concurrency", "2", "--json", "--duration", "10m")
	bank.Env = append(os.Environ(), "KEYHA_CONFIG="+l.Config)
	var out, errOut strings.Builder
	bank.Stdout, bank.Stderr = &out, &errOut
	if err := bank.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bank.Process.Kill() })
	return func() load.BankReport {
		if err := bank.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		exit := bank.Wait()
		var br load.BankReport
		if err := json.Unmarshal([]byte(out.String()), &br); err != nil {
			t.Fatalf("bank report: %v\nstdout %s\nstderr %s", err, out.String(), errOut.String())
		}
		t.Logf("bank: %d transfers, audits %v (unanswered %v), violations %d, problems %v", br.Transfers, br.Reads, br.ReadErrors, len(br.Violations), br.Problems)
		if exit != nil || !br.OK || len(br.Violations) > 0 {
			t.Errorf("bank invariant broken (exit %v): %v", exit, br.Problems)
		}
		return br
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// eventLines keeps a mysqld.log's lines that tell why a node left or ended: errors, warnings, and
// Galera's view, state and transfer changes; the rest (every connection, every applied event) goes.
func eventLines(log string) string {
	var out []string
	for _, ln := range strings.Split(log, "\n") {
		for _, k := range []string{"[ERROR]", "[Warning]", "ABORT", "signal", "Shutdown", "shutdown", "restart",
			"Shifting", "non-Primary", "New cluster view", "State transfer", "IST ", "SST", "evict"} {
			if strings.Contains(ln, k) {
				out = append(out, ln)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestNemesis is the randomized nemesis, 2 minutes of it: one fault after another drawn from a seed
// (a mysqld killed, stopped or frozen; a site or one link cut off; an agent killed; an HAProxy
// restarted), under writes through every site's HAProxy and the bank beside them. Afterwards:
// nothing acknowledged lost, no divergence, never two nodes taking writes at once, the bank's
// total intact. The seed is random unless KEYHA_NEMESIS_SEED gives one; a failure names it.
// KEYHA_NEMESIS_KEEP=DIR keeps the journal and reports there (with KEYHA_LAB_REUSE=1, the lab too).
func TestNemesis(t *testing.T) {
	l := labtest.Get(t)
	l.AllSynced(t, time.Minute)
	l.Writer(t, 30*time.Second)
	seed := os.Getenv("KEYHA_NEMESIS_SEED")
	if seed == "" {
		seed = "random"
	}
	// What went wrong is said again at the very end, after the sites' logs: CI keeps only the
	// output's tail. Registered first, this cleanup runs last.
	var why []string
	failf := func(format string, args ...any) {
		why = append(why, fmt.Sprintf(format, args...))
		t.Errorf(format, args...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if len(why) == 0 {
				why = []string{"in the lab or the bank: its error is above the sites' logs"}
			}
			t.Logf("TestNemesis failed (seed %s):\n  %s", seed, strings.Join(why, "\n  "))
		}
	})
	dir := t.TempDir()
	if k := os.Getenv("KEYHA_NEMESIS_KEEP"); k != "" {
		dir = k // the journal and the reports outlive the test: load check can read them again
	}
	journal := filepath.Join(dir, "journal")
	stopBank := startBank(t, l)
	// A failed run, or a node Galera took down, is diagnosed from the sites' own logs: the lab's
	// directory is gone after CI. mysqld.log holds every run of the node: what this test wrote
	// begins at its size now.
	from := map[string]int{}
	for _, s := range labtest.Sites {
		b, _ := os.ReadFile(filepath.Join(l.Dir, s, "mysqld.log"))
		from[s] = len(b)
	}
	tookDown := false
	t.Cleanup(func() {
		if !t.Failed() && !tookDown {
			return
		}
		if t.Failed() {
			t.Logf("where the writes went, after the failure:\n%s", whereWritesWent(t, l))
		}
		for _, s := range labtest.Sites {
			b, _ := os.ReadFile(filepath.Join(l.Dir, s, "mysqld.log"))
			if from[s] <= len(b) {
				b = b[from[s]:]
			}
			t.Logf("%s's mysqld.log during the test, its errors, warnings and state changes:\n%s", s, tail(eventLines(string(b)), 80))
			a, _ := os.ReadFile(filepath.Join(l.Dir, s, "agent.log"))
			t.Logf("%s's agent.log, its end:\n%s", s, tail(string(a), 40))
		}
	})

	run := l.Keyha(t, nil, "load", "run", "--reset", "--rows", "100000000", "--concurrency", "12", "--via", "haproxy",
		"--journal", journal, "--nemesis", seed, "--nemesis-for", "2m", "--report", filepath.Join(dir, "run.json"))
	var r load.Report
	readJSON(t, filepath.Join(dir, "run.json"), &r)
	seed = fmt.Sprint(r.NemesisSeed)
	t.Logf("nemesis seed %d (replay: KEYHA_NEMESIS_SEED=%d):\n%s%s", r.NemesisSeed, r.NemesisSeed, run.Stdout, tail(run.Stderr, 12))
	if run.Code != 0 {
		failf("load run exited %d (seed %d): %s", run.Code, r.NemesisSeed, tail(run.Stderr, 3))
		t.FailNow()
	}
	for _, f := range r.Faults {
		if f.Error != "" {
			failf("seed %d: fault %s failed: %s", r.NemesisSeed, f.Fault, f.Error)
		}
		if f.Down != "" {
			// Galera's own behaviour, not a failure: counted, and its log kept (above).
			tookDown = true
			t.Logf("seed %d: fault %s found mysqld at %s not running: Galera took the node down", r.NemesisSeed, f.Fault, f.Site)
		}
	}
	if len(r.Faults) < 8 || r.Acked == 0 || r.Journaled != r.Acked {
		failf("seed %d: %d faults, %d acknowledged, %d journaled", r.NemesisSeed, len(r.Faults), r.Acked, r.Journaled)
	}

	l.AllSynced(t, 3*time.Minute)
	stopBank()
	check := l.Keyha(t, nil, "load", "check", "--journal", journal, "--report", filepath.Join(dir, "check.json"))
	t.Logf("check:\n%s%s", check.Stdout, check.Stderr)
	var cr load.CheckReport
	readJSON(t, filepath.Join(dir, "check.json"), &cr)
	if check.Code != 0 || !cr.OK || len(cr.Missing) > 0 || len(cr.DivergentChunks) > 0 || len(cr.TwoWriters) > 0 {
		failf("seed %d: check failed (exit %d): %v", r.NemesisSeed, check.Code, cr.Problems)
		t.FailNow()
	}
	t.Logf("seed %d: %d faults; the node taking writes changed %d times, never two at once", r.NemesisSeed, len(r.Faults), cr.WriterChanges)
}

// whereWritesWent says, after a failed nemesis, where each site's HAProxy sent its sessions and
// bytes (cumulative since its last start), what each node committed itself and replicated since
// its own start (wsrep_local_commits, wsrep_replicated; Com_insert counts applied rows too), and
// how many surviving rows each node took: a node whose local commits exceed the rows it holds as
// their taker committed outside the cluster, and an HAProxy with traffic on a server that was
// never the writer routed writes there.
func whereWritesWent(t *testing.T, l *labtest.Lab) string {
	var b strings.Builder
	for _, s := range labtest.Sites {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		stats, err := l.HAProxy(s).ShowStat(ctx, "galera")
		cancel()
		if err != nil {
			fmt.Fprintf(&b, "%s's HAProxy: %v\n", s, err)
		}
		for _, st := range stats {
			fmt.Fprintf(&b, "%s's HAProxy: server %s %s, sessions %d, bytes in %d out %d, went down %d times\n",
				s, st.Server, st.Status, st.TotalSessions, st.BytesIn, st.BytesOut, st.Downs)
		}
	}
	for _, s := range labtest.Sites {
		db := l.DB(t, l.Sites[s].SQL, "lab")
		rows, err := db.Query("SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN " +
			"('UPTIME','COM_INSERT','WSREP_REPLICATED','WSREP_RECEIVED','WSREP_LOCAL_COMMITS','WSREP_LAST_COMMITTED','WSREP_CLUSTER_CONF_ID','WSREP_CLUSTER_SIZE','WSREP_LOCAL_STATE_UUID') ORDER BY 1")
		if err != nil {
			fmt.Fprintf(&b, "%s's node: %v\n", s, err)
			db.Close()
			continue
		}
		var kv []string
		for rows.Next() {
			var k, v string
			if rows.Scan(&k, &v) == nil {
				kv = append(kv, strings.ToLower(k)+"="+v)
			}
		}
		rows.Close()
		fmt.Fprintf(&b, "%s's node: %s\n", s, strings.Join(kv, " "))
		if rows, err := db.Query("SELECT node, COUNT(*) FROM " + load.Schema + ".item GROUP BY node"); err == nil {
			for rows.Next() {
				var node string
				var n int
				if rows.Scan(&node, &n) == nil {
					fmt.Fprintf(&b, "%s's node: %d rows taken by %s\n", s, n, node)
				}
			}
			rows.Close()
		}
		db.Close()
	}
	return b.String()
}
