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
		if name == "drbdsetup" && strings.Join(args, " ") == "status --verbose" {
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

// With the names known, a read runs no drbdsetup; a minor without a known name runs it again.
func TestReadLocalNamed(t *testing.T) {
	status := read(t, "status-syncing-bari.txt")
	calls := 0
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		calls++
		return []byte(status), nil
	}
	proc := filepath.Join("testdata", "proc-syncing-bari.txt")
	rs, _, err := ReadLocalNamed(context.Background(), run, proc, map[int]string{0: "r0"})
	if err != nil || len(rs) != 1 || rs[0].Name != "r0" || rs[0].Role != "Secondary" || calls != 0 {
		t.Fatalf("known name: %v %+v, %d drbdsetup runs", err, rs, calls)
	}
	rs, _, err = ReadLocalNamed(context.Background(), run, proc, map[int]string{1: "r1"})
	if err != nil || len(rs) != 1 || rs[0].Name != "r0" || calls != 1 {
		t.Errorf("unknown minor: %v %+v, %d drbdsetup runs", err, rs, calls)
	}
}

// With several 8.4 resources, names go by minor, never by order: drbdsetup lists r1 (minor 1)
// before r0 (minor 0) here.
func TestNameByMinor(t *testing.T) {
	proc := []Resource{{Minor: 0, Role: "Primary"}, {Minor: 1, Role: "Secondary"}}
	named, err := ParseStatus("r1 role:Secondary\n  volume:0 minor:1 disk:UpToDate\nr0 role:Primary\n  volume:0 minor:0 disk:UpToDate\n")
	if err != nil {
		t.Fatal(err)
	}
	nameByMinor(proc, named)
	if proc[0].Name != "r0" || proc[1].Name != "r1" {
		t.Errorf("named %q (minor 0) and %q (minor 1), want r0 and r1", proc[0].Name, proc[1].Name)
	}
	// Without minors, two resources stay unnamed (the agent then reports it cannot find its own).
	two := []Resource{{Minor: 0}, {Minor: 1}}
	nameByMinor(two, []Resource{{Name: "r1", Minor: -1}, {Name: "r0", Minor: -1}})
	if two[0].Name != "" || two[1].Name != "" {
		t.Errorf("named by order: %+v", two)
	}
	one := []Resource{{Minor: 0}}
	nameByMinor(one, []Resource{{Name: "r0", Minor: -1}})
	if one[0].Name != "r0" {
		t.Errorf("a lone resource without a minor: %+v", one)
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
