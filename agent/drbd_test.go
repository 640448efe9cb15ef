package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/config"
	"github.com/keyha/keyha/drbd"
)

const drbdCluster = `cluster: t
mode: drbd
credentials: {monitor: /nonexistent/monitor.cnf}
gossip: {key_file: /nonexistent/cluster.key}
drbd:
  stack:
    - {name: drbd, up: drbdadm primary r0, down: drbdadm secondary r0}
sites:
  - {name: lngs, sql: 127.0.0.1:1, gossip: 127.0.0.1:2}
  - {name: bari, sql: 127.0.0.1:3, gossip: 127.0.0.1:4}
  - {name: padova, witness: true, gossip: 127.0.0.1:5}
`

// testDRBDAgent is a DRBD-mode agent of drbdCluster that logs nowhere and has run nothing yet.
func testDRBDAgent(t *testing.T, site string) *DRBDAgent {
	t.Helper()
	c, err := config.Parse([]byte(drbdCluster))
	if err != nil {
		t.Fatal(err)
	}
	c.Agent.StateDir = t.TempDir()
	a, err := NewDRBD(c, site, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The agent's reading of DRBD fails safe: no /proc/drbd, a resource it cannot name, a Primary that
// hears no other agent all leave the site down with the reason; a drbdsetup too slow to name the
// resource does not, once the minor is known.
func TestDRBDAgentFailsSafe(t *testing.T) {
	a := testDRBDAgent(t, "lngs")
	dir := t.TempDir()
	a.proc = filepath.Join(dir, "drbd")
	named, runs := true, 0
	a.run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		runs++
		if name == "drbdsetup" && named {
			return os.ReadFile("../drbd/testdata/status-connected-lngs.txt")
		}
		return nil, errors.New(name + ": timed out")
	}
	ctx := context.Background()

	a.tick(ctx)
	if r := a.Report(); r.State != "down" || !strings.Contains(r.Reason, "modprobe drbd") {
		t.Errorf("no /proc/drbd: %s %q, want down saying to load the module", r.State, r.Reason)
	}

	proc, err := os.ReadFile("../drbd/testdata/proc-connected-lngs.txt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a.proc, proc, 0o644)
	named = false
	a.tick(ctx)
	if r := a.Report(); r.State != "down" || !strings.Contains(r.Reason, "no resource r0") {
		t.Errorf("resource never named: %s %q, want down", r.State, r.Reason)
	}

	named = true
	a.tick(ctx)
	if r := a.Report(); r.State != "down" || !strings.Contains(r.Reason, "Primary without a majority") {
		t.Errorf("Primary hearing no other agent: %s %q, want down for want of a majority", r.State, r.Reason)
	}
	named = false // drbdsetup now misses its deadline: the learned minor stands in for the name
	res, err := a.read(ctx)
	if err != nil || res.Name != "r0" || !res.Primary() {
		t.Errorf("read with the minor learned: %+v, %v", res, err)
	}
	if a.verdict.Action != drbd.None {
		t.Errorf("acted on doubt: %+v", a.verdict)
	}
	// Once named, a poll reads /proc/drbd alone; drbdsetup names the minor again after renameEvery.
	named, runs = true, 0
	a.namedAt.Store(time.Now().Add(-renameEvery).UnixNano())
	for range 3 {
		if res, err := a.read(ctx); err != nil || res.Name != "r0" {
			t.Fatalf("read: %+v, %v", res, err)
		}
	}
	if runs != 1 {
		t.Errorf("three reads, the first after renameEvery: %d drbdsetup runs, want 1", runs)
	}
}

// Maintenance holds a DRBD site: set through the signed endpoint's flag, shown in /status, and the
// Secondary is not promoted while it holds, whatever else the rule would allow.
func TestDRBDMaintenance(t *testing.T) {
	a := testDRBDAgent(t, "bari")
	dir := t.TempDir()
	a.maint = NewMaint(dir, "bari")
	a.proc = filepath.Join(dir, "drbd")
	proc, err := os.ReadFile("../drbd/testdata/proc-disconnected-bari.txt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a.proc, proc, 0o644)
	a.run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		if name == "drbdsetup" {
			return os.ReadFile("../drbd/testdata/status-disconnected-bari.txt")
		}
		return nil, errors.New(name + ": not in this test")
	}
	ctx := context.Background()
	if err := a.maint.Set(true, "disk replacement"); err != nil {
		t.Fatal(err)
	}
	a.tick(ctx)
	r := a.Report()
	if d, ok := r.Detail.(DRBDDetail); !ok || !d.Maintenance {
		t.Errorf("maintenance not shown in /status: %+v", r.Detail)
	}
	if !strings.Contains(r.Reason, "in maintenance") || a.verdict.Action != drbd.None {
		t.Errorf("a Secondary in maintenance: %+v, want no action, saying maintenance", a.verdict)
	}
	a.maint.Set(false, "")
	a.tick(ctx)
	if strings.Contains(a.Report().Reason, "maintenance") {
		t.Errorf("still held after maintenance off: %q", a.Report().Reason)
	}
}

// The fences an agent holds survive its restart: a witness that forgot the fence it held for a
// site gone silent would let the fenced side be promoted over writes it never saw.
func TestDRBDFencesSurviveRestart(t *testing.T) {
	a := testDRBDAgent(t, "padova")
	a.mu.Lock()
	a.ack = drbd.AckString("lngs", "bari")
	a.mu.Unlock()
	a.publish()
	b, err := NewDRBD(a.cluster, "padova", a.log)
	if err != nil {
		t.Fatal(err)
	}
	if b.ack != "lngs>bari" {
		t.Errorf("after a restart the witness holds %q, want lngs>bari", b.ack)
	}
	// Lifted fences are forgotten too.
	b.mu.Lock()
	b.ack = ""
	b.mu.Unlock()
	b.publish()
	c, _ := NewDRBD(a.cluster, "padova", a.log)
	if c.ack != "" || c.fence != "" {
		t.Errorf("a lifted fence came back: fence %q ack %q", c.fence, c.ack)
	}
	// A damaged file is said loudly; nothing is made up.
	os.WriteFile(c.fencesPath(), []byte("{"), 0o644)
	var logged strings.Builder
	d, _ := NewDRBD(a.cluster, "padova", slog.New(slog.NewTextHandler(&logged, nil)))
	if d.ack != "" || !strings.Contains(logged.String(), "cannot restore the DRBD fences") {
		t.Errorf("damaged fences file: ack %q, log %q", d.ack, logged.String())
	}
}

// A switchover's demotion that fails half-way is rolled back while DRBD is still Primary: the
// stack starts again here. A site that did step down starts nothing.
func TestDRBDRollback(t *testing.T) {
	for _, c := range []struct {
		proc, want string
		started    bool
	}{
		{"proc-connected-lngs.txt", "rolled back: lngs serves again", true},
		{"proc-disconnected-bari.txt", "not rolled back", false},
	} {
		a := testDRBDAgent(t, "lngs")
		a.proc = filepath.Join(t.TempDir(), "drbd")
		proc, err := os.ReadFile("../drbd/testdata/" + c.proc)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(a.proc, proc, 0o644)
		var ran []string
		a.run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
			if name == "drbdsetup" {
				return nil, errors.New("drbdsetup: timed out") // the minor stands in
			}
			ran = append(ran, name+" "+strings.Join(args, " "))
			return nil, nil
		}
		a.minor.Store(1)
		err = a.rollback(context.Background(), errors.New("stop drbd: drbdadm secondary r0 did not finish"))
		if err == nil || !strings.Contains(err.Error(), "did not finish") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want the failure and %q", c.proc, err, c.want)
		}
		if started := slices.Contains(ran, "sh -c drbdadm primary r0"); started != c.started {
			t.Errorf("%s: stack started %v, want %v (ran %q)", c.proc, started, c.started, ran)
		}
	}
}
