package drbd

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// ReadLocal on an 8.4 node: the states from /proc/drbd, the names from drbdsetup status.
func TestReadLocal84(t *testing.T) {
	status := read(t, "status-syncing-bari.txt")
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		if name == "drbdsetup" && strings.Join(args, " ") == "status" {
			return []byte(status), nil
		}
		return nil, errors.New("unexpected " + name)
	}
	rs, src, err := ReadLocal(context.Background(), run, filepath.Join("testdata", "proc-syncing-bari.txt"))
	if err != nil || len(rs) != 1 || !strings.HasPrefix(src, "DRBD 8.4") {
		t.Fatalf("%v %q %+v", err, src, rs)
	}
	if r := rs[0]; r.Name != "r0" || r.Role != "Secondary" || r.Peers[0].Connection != "SyncTarget" {
		t.Errorf("%+v", r)
	}
	if _, _, err := ReadLocal(context.Background(), run, filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "modprobe drbd") {
		t.Errorf("no /proc/drbd: %v", err)
	}
}

func TestFindings(t *testing.T) {
	for _, c := range []struct {
		file, want string
	}{
		{"proc-splitbrain-lngs.txt", "split brain"},
		{"proc-disconnected-bari.txt", "StandAlone: DRBD will not reconnect"},
		{"proc-disconnected-lngs.txt", "peer not connected (WFConnection)"},
		{"proc-syncing-bari.txt", "must not be promoted"},
		{"proc-syncing-bari.txt", "resync SyncTarget: 12.5% done"},
	} {
		rs, err := ParseProc(read(t, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Join(Findings(rs[0]), "; "); !strings.Contains(f, c.want) {
			t.Errorf("%s: %q, want %q", c.file, f, c.want)
		}
	}
	rs, _ := ParseProc(read(t, "proc-connected-lngs.txt"))
	if f := Findings(rs[0]); len(f) != 0 {
		t.Errorf("a healthy pair: %v", f)
	}
}

func TestSplitBrainPlan(t *testing.T) {
	load := func(f string) Resource {
		rs, err := ParseProc(read(t, f))
		if err != nil {
			t.Fatal(err)
		}
		rs[0].Name = "r0"
		return rs[0]
	}
	lngs, bari := load("proc-splitbrain-lngs.txt"), load("proc-splitbrain-bari.txt")
	for _, r := range []Resource{lngs, bari} {
		if split, why := SplitBrain(r); !split || !strings.Contains(why, "name the site") {
			t.Errorf("%s: split %v: %s", r.Role, split, why)
		}
	}
	if split, _ := SplitBrain(load("proc-connected-lngs.txt")); split {
		t.Error("a connected pair judged split")
	}
	if _, err := ResolvePlan(bari, "bari", ""); !errors.Is(err, ErrNoVictim) {
		t.Errorf("no site named: %v", err)
	}
	if p, err := ResolvePlan(bari, "bari", "bari"); err != nil || strings.Join(p[0], " ") != "drbdadm connect --discard-my-data r0" {
		t.Errorf("victim: %v %v", p, err)
	}
	if p, err := ResolvePlan(lngs, "lngs", "bari"); err != nil || strings.Join(p[0], " ") != "drbdadm connect r0" {
		t.Errorf("survivor: %v %v", p, err)
	}
	if _, err := ResolvePlan(lngs, "lngs", "lngs"); err == nil || !strings.Contains(err.Error(), "is Primary here") {
		t.Errorf("discarding a Primary: %v", err)
	}
	if _, err := ResolvePlan(load("proc-connected-lngs.txt"), "lngs", "bari"); err == nil || !strings.Contains(err.Error(), "nothing to resolve") {
		t.Errorf("connected: %v", err)
	}
}
