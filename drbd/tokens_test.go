package drbd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyha/keyha/drill"
	"github.com/keyha/keyha/internal/labtest"
	"github.com/keyha/keyha/ops"
)

// Keystone on the DRBD lab (scripts/lab up --mode drbd --keystone): every site's Keystone reaches
// the database on the Primary through its site's HAProxy, so a token issued at one site
// validates at the others; the key repositories agree, and keys sync repairs a drift; and the drill runs in DRBD mode: the
// Primary's VM is killed and booted again, the witness is cut off and healed, and every site
// issues and validates tokens again afterwards. Runs after TestDRBDFailover (file order), from
// whatever state that left, once a site serves and both disks are in sync.
func TestDRBDKeystoneDrill(t *testing.T) {
	l := labtest.Get(t)
	if l.KeystoneAdminPassword == "" || l.Sites["padova"].Keystone == "" {
		t.Fatalf("scripts/lab info lacks Keystone: %+v", l)
	}
	k, err := ops.NewController(l.Cluster(t), os.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	labtest.Eventually(t, 4*time.Minute, "one site serves, both disks UpToDate and connected", func() (bool, string) {
		sts := k.DRBDStatus(context.Background())
		st := ops.DRBDStatusOf(l.Cluster(t), sts)
		if st.Writer == "" {
			return false, st.Problem
		}
		for _, s := range sts {
			if r := s.Detail.Resource; s.Site != "padova" && (!r.UpToDate() || !r.PeerLink()) {
				return false, s.Site + ": " + r.Disk + " " + s.Err
			}
		}
		return true, ""
	})
	if w := l.StatusJSON(t, "drbd"); w == "" {
		t.Error("keyha status --json names no site serving")
	}
	// After TestDRBDFailover's faults, every Keystone worker must have its database connection
	// back and the emulated VMs their CPU: five tokens in a row at every site (each within the
	// client's 3 s), not just one, before the checks below count each request.
	labtest.Eventually(t, 3*time.Minute, "Keystone issues five tokens in a row at every site", func() (bool, string) {
		for s := range l.Sites {
			for range 5 {
				if _, err := l.Keystone(t, s).Issue(t.Context(), "admin", l.KeystoneAdminPassword); err != nil {
					return false, s + ": " + err.Error()
				}
			}
		}
		return true, ""
	})
	l.CrossSiteTokens(t, "lngs", []string{"bari", "padova"}, 5)
	// The agents in the VMs read and replace the key repositories of the Keystone hosts beside
	// them (shared over 9p in the lab).
	l.KeysDriftRepaired(t)

	dir := t.TempDir()
	rep := filepath.Join(dir, "drill.json")
	r := l.Keyha(t, nil, "drill", "--password-file", filepath.Join(l.Dir, "secrets", "keystone-admin.pw"), "--svg", filepath.Join(dir, "drill.svg"), "--report", rep)
	t.Logf("keyha drill:\n%s%s", r.Stdout, r.Stderr)
	if r.Code != 0 || !strings.Contains(r.Stdout, "OK: Keystone kept issuing") {
		t.Fatalf("the drill in DRBD mode failed (exit %d)", r.Code)
	}
	var res drill.Result
	if b, err := os.ReadFile(rep); err != nil || json.Unmarshal(b, &res) != nil {
		t.Fatalf("read the drill's report: %v", err)
	}
	killed := ""
	for _, e := range res.Timeline.Events {
		if strings.HasPrefix(e.What, "kill the VM of ") {
			killed = e.What
		}
	}
	if killed == "" {
		t.Fatalf("the drill killed no VM: %+v", res.Timeline.Events)
	}
	// While no site is Primary every Keystone fails (its database is gone), so the surviving
	// sites each have a window after the kill; it ends when the other data site has promoted.
	for _, s := range []string{"bari", "padova", "lngs"} {
		var win *drill.Window
		for i, w := range res.Windows {
			if w.Site == s && w.Event == killed {
				win = &res.Windows[i]
			}
		}
		switch {
		case strings.Contains(killed, " "+s+" "):
			// The killed site's own HAProxy died with its VM: its window lasts until the VM is back.
		case win == nil:
			t.Errorf("%s: no token error window after %q: its Keystone cannot have served without a Primary", s, killed)
		case win.Length > time.Minute:
			t.Errorf("%s: tokens failed for %.1f s after %q, want the other data site serving within a minute", s, win.Length.Seconds(), killed)
		default:
			t.Logf("%s: token error window %.1f s after %q (%d failed operations)", s, win.Length.Seconds(), killed, win.Failed)
		}
	}
	for _, s := range []string{"bari", "padova"} {
		if v := res.FinalCross[s]; v[0] != v[1] || v[1] == 0 {
			t.Errorf("after the drill, %d of %d tokens issued at lngs validate at %s", v[0], v[1], s)
		}
	}
}
