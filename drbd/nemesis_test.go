package drbd_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/load"
	"github.com/keyha/keyha/ops"
)

// TestDRBDNemesis is the randomized nemesis in DRBD mode, 2 minutes of it (load.NemesisDRBD): a
// data site's VM killed, the witness's agent killed, a site or one link cut, each repaired and
// settled, a data site's agent killed, a site's HAProxy restarted, under writes through every
// site's HAProxy, with the prober writing straight into both
// databases all along. Then: every acknowledged row is at the Primary, and no round of the prober
// saw both sides accept a write. KEYHA_NEMESIS_SEED replays a seed.
func TestDRBDNemesis(t *testing.T) {
	l := labtest.Get(t)
	k, err := ops.NewController(l.Cluster(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	primary := func() string {
		for _, s := range k.DRBDStatus(context.Background()) {
			if s.State == "up" && s.Detail.Resource.Primary() {
				return s.Site
			}
		}
		return ""
	}
	labtest.Eventually(t, 2*time.Minute, "a Primary serves", func() (bool, string) { return primary() != "", "no site is Primary and up" })
	seed := os.Getenv("KEYHA_NEMESIS_SEED")
	if seed == "" {
		seed = "random"
	}
	p := newProber(t, l)
	dir := t.TempDir()
	journal, report := filepath.Join(dir, "journal"), filepath.Join(dir, "run.json")
	run := l.Keyha(t, nil, "load", "run", "--reset", "--rows", "100000000", "--concurrency", "8", "--via", "haproxy",
		"--journal", journal, "--nemesis", seed, "--nemesis-for", "2m", "--report", report, "--retry-for", "90s")
	var r load.Report
	if b, err := os.ReadFile(report); err != nil || json.Unmarshal(b, &r) != nil {
		t.Fatalf("no report from the load run (exit %d): %v\n%s", run.Code, err, tail(run.Stderr, 20))
	}
	t.Logf("nemesis seed %d (replay: KEYHA_NEMESIS_SEED=%d):\n%s%s", r.NemesisSeed, r.NemesisSeed, run.Stdout, tail(run.Stderr, 12))
	if run.Code != 0 {
		t.Fatalf("load run exited %d (seed %d)", run.Code, r.NemesisSeed)
	}
	breaks := 0
	for _, f := range r.Faults {
		if f.Error != "" {
			t.Errorf("seed %d: fault %s failed: %s", r.NemesisSeed, f.Fault, f.Error)
		}
		if f.Break() && !f.Skipped {
			breaks++
		}
	}
	if breaks < 2 || r.Acked == 0 || r.Journaled != r.Acked {
		t.Errorf("seed %d: %d breaks, %d acknowledged, %d journaled", r.NemesisSeed, breaks, r.Acked, r.Journaled)
	}

	p.cancel()
	p.wg.Wait()
	t.Logf("prober: %d rounds, writes accepted at lngs %d, at bari %d, at both in one round %d", p.rounds, p.ok["lngs"], p.ok["bari"], len(p.both))
	if len(p.both) > 0 {
		t.Errorf("seed %d: two Primaries accepted writes in the same round at %v", r.NemesisSeed, p.both)
	}

	var at string
	labtest.Eventually(t, 2*time.Minute, "a Primary serves after the nemesis", func() (bool, string) { at = primary(); return at != "", "no site is Primary and up" })
	check := l.Keyha(t, nil, "load", "check", "--at", at, "--journal", journal, "--report", filepath.Join(dir, "check.json"))
	t.Logf("check at %s:\n%s%s", at, check.Stdout, check.Stderr)
	var cr load.CheckReport
	if b, err := os.ReadFile(filepath.Join(dir, "check.json")); err != nil || json.Unmarshal(b, &cr) != nil {
		t.Fatalf("no check report: %v", err)
	}
	if check.Code != 0 || !cr.OK || sum(cr.Missing) > 0 {
		t.Fatalf("seed %d: check failed (exit %d): %v", r.NemesisSeed, check.Code, cr.Problems)
	}
	t.Logf("seed %d: %d breaks, %d rows acknowledged, none lost, never two Primaries", r.NemesisSeed, breaks, r.Acked)
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
