package drbd_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyha/keyha/drbd"
	"github.com/keyha/keyha/internal/labtest"
)

// Two VMs running Debian's kernel with the real DRBD 8.4 module walk a resource through a
// resync, a disconnect, a split brain and its resolution (scripts/vm/drbd-capture); keyha runs
// inside each VM and reads every state the way the agent will.
func TestRealDRBD(t *testing.T) {
	if testing.Short() {
		// -short asks for the unit tests alone (make race runs them under CI=true too): a request,
		// not a missing prerequisite, as in labtest.Get.
		t.Skip("integration test: skipped with -short (this one boots two VMs)")
	}
	if os.Geteuid() != 0 {
		labtest.SkipOrFail(t, "needs root (taps, a bridge)")
	}
	for _, b := range []string{"qemu-system-x86_64", "busybox", "socat", "/usr/lib/drbd/drbdsetup-84"} {
		if _, err := exec.LookPath(b); err != nil {
			labtest.SkipOrFail(t, b+" is missing: run scripts/setup")
		}
	}
	root, err := labtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "keyha")
	build := exec.Command("go", "build", "-o", bin, "./cmd/keyha")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build keyha: %v\n%s", err, out)
	}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "scripts/vm/drbd-capture"), out)
	cmd.Env = append(os.Environ(), "KEYHA_BIN="+bin)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("drbd-capture: %v\n%s", err, b)
	}
	for _, c := range []struct {
		state, site, role, disk, conn, peerRole string
	}{
		{"syncing", "lngs", "Primary", "UpToDate", "SyncSource", "Secondary"},
		{"syncing", "bari", "Secondary", "Inconsistent", "SyncTarget", "Primary"},
		{"connected", "bari", "Secondary", "UpToDate", "Connected", "Primary"},
		{"disconnected", "lngs", "Primary", "UpToDate", "WFConnection", "Unknown"},
		{"splitbrain", "lngs", "Primary", "UpToDate", "StandAlone", "Unknown"},
		{"splitbrain", "bari", "Secondary", "UpToDate", "StandAlone", "Unknown"},
		{"resolved", "bari", "Secondary", "UpToDate", "Connected", "Primary"},
	} {
		b, err := os.ReadFile(filepath.Join(out, "keyha-"+c.state+"-"+c.site+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var rs []drbd.Resource
		if err := json.Unmarshal(b, &rs); err != nil || len(rs) != 1 || len(rs[0].Peers) != 1 {
			t.Fatalf("%s at %s: keyha drbd status --json: %v\n%s", c.state, c.site, err, b)
		}
		r, p := rs[0], rs[0].Peers[0]
		if r.Name != "r0" || r.Role != c.role || r.Disk != c.disk || p.Connection != c.conn || p.Role != c.peerRole {
			t.Errorf("%s at %s: keyha reads %s %s/%s peer %s %s, want r0 %s/%s peer %s %s", c.state, c.site, r.Name, r.Role, r.Disk,
				p.Connection, p.Role, c.role, c.disk, c.conn, c.peerRole)
		}
	}
	// The split brain, judged and resolved by keyha with the operator's choice (bari discarded).
	for f, want := range map[string]string{
		"keyha-splitbrain-judge-bari.txt":   "split brain: true",
		"keyha-splitbrain-resolve-bari.txt": "running: drbdadm connect --discard-my-data r0\nexit 0",
		"keyha-splitbrain-resolve-lngs.txt": "running: drbdadm connect r0\nexit 0",
	} {
		if b, _ := os.ReadFile(filepath.Join(out, f)); !strings.Contains(string(b), want) {
			t.Errorf("%s: %q, want %q", f, b, want)
		}
	}
	for _, s := range []string{"lngs", "bari"} {
		b, _ := os.ReadFile(filepath.Join(out, "keyha-splitbrain-"+s+".json"))
		var rs []drbd.Resource
		json.Unmarshal(b, &rs)
		if len(rs) != 1 || rs[0].Peers[0].OutOfSync == 0 {
			t.Errorf("split brain at %s: no blocks out of sync in %s", s, b)
		}
	}
}
