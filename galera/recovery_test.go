package galera

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const u1, u2 = "26de966b-e83f-11f1-b5df-2e02f255d323", "fab72199-e83c-11f1-a6c8-dfd7b6fc4ec9"

func pos(site string, prio int, seqno int64, running bool) SitePosition {
	src := "grastate.dat"
	if running {
		src = "wsrep_last_committed"
	}
	return SitePosition{Site: site, Priority: prio, Running: running, ClusterStatus: map[bool]string{true: "non-Primary"}[running],
		Position: Position{UUID: u1, Seqno: seqno}, Source: src}
}

func TestPlanRecovery(t *testing.T) {
	for _, c := range []struct {
		name   string
		ps     []SitePosition
		force  []string
		want   RecoveryPlan
		errIs  error
		errHas string
	}{
		{name: "all stopped, bari ahead", ps: []SitePosition{pos("lngs", 300, 10, false), pos("bari", 200, 12, false), pos("padova", 100, 11, false)},
			want: RecoveryPlan{Bootstrap: "bari", Method: NewCluster, Start: []string{"padova", "lngs"}}},
		{name: "tie: priority wins", ps: []SitePosition{pos("lngs", 300, 12, false), pos("bari", 200, 12, false), pos("padova", 100, 9, false)},
			want: RecoveryPlan{Bootstrap: "lngs", Method: NewCluster, Start: []string{"bari", "padova"}}},
		{name: "all running non-Primary", ps: []SitePosition{pos("lngs", 300, 50, true), pos("bari", 200, 50, true), pos("padova", 100, 51, true)},
			want: RecoveryPlan{Bootstrap: "padova", Method: PCBootstrap, Rejoin: []string{"lngs", "bari"}}},
		{name: "mixed", ps: []SitePosition{pos("lngs", 300, 50, false), pos("bari", 200, 51, true), pos("padova", 100, 49, true)},
			want: RecoveryPlan{Bootstrap: "bari", Method: PCBootstrap, Start: []string{"lngs"}, Rejoin: []string{"padova"}}},
		{name: "a Primary exists", ps: []SitePosition{{Site: "lngs", Running: true, ClusterStatus: "Primary"}, pos("bari", 200, 3, false)},
			errIs: ErrPrimaryExists},
		{name: "unreachable site", ps: []SitePosition{pos("lngs", 300, 10, false), {Site: "bari", Err: "dial tcp: connection refused"}},
			errIs: ErrUnknownSite, errHas: "--force-without bari"},
		{name: "unrecoverable seqno", ps: []SitePosition{pos("lngs", 300, 10, false), pos("bari", 200, -1, false)},
			errIs: ErrUnknownSite, errHas: "seqno is -1"},
		{name: "forced without it", ps: []SitePosition{pos("lngs", 300, 10, false), {Site: "bari", Err: "timeout"}, pos("padova", 100, 9, false)},
			force: []string{"bari"}, want: RecoveryPlan{Bootstrap: "lngs", Method: NewCluster, Start: []string{"padova"}, Forced: []string{"bari"}}},
		{name: "force names a known site", ps: []SitePosition{pos("lngs", 300, 10, false), pos("bari", 200, 9, false)},
			force: []string{"bari"}, errHas: "name only sites that cannot be asked"},
		{name: "different UUIDs", ps: []SitePosition{pos("lngs", 300, 10, false), {Site: "bari", Position: Position{UUID: u2, Seqno: 99}, Source: "grastate.dat"}},
			errIs: ErrUUIDs, errHas: u2 + " at bari"},
		{name: "an empty node does not block", ps: []SitePosition{pos("lngs", 300, 10, false), {Site: "bari", Position: Position{UUID: ZeroUUID, Seqno: 0}, Priority: 200}},
			want: RecoveryPlan{Bootstrap: "lngs", Method: NewCluster, Start: []string{"bari"}}},
		{name: "nobody known", ps: []SitePosition{{Site: "lngs", Err: "x"}}, force: []string{"lngs"}, errIs: ErrUnknownSite},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := PlanRecovery(c.ps, c.force)
			if c.errIs != nil || c.errHas != "" {
				if err == nil || (c.errIs != nil && !errors.Is(err, c.errIs)) || !strings.Contains(err.Error(), c.errHas) {
					t.Fatalf("got %+v, %v; want error %v containing %q", p, err, c.errIs, c.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Bootstrap != c.want.Bootstrap || p.Method != c.want.Method || !slices.Equal(p.Start, c.want.Start) ||
				!slices.Equal(p.Rejoin, c.want.Rejoin) || !slices.Equal(p.Forced, c.want.Forced) {
				t.Errorf("got %+v\nwant %+v", p, c.want)
			}
		})
	}
}

func TestGraState(t *testing.T) {
	b, err := os.ReadFile("testdata/grastate-running.dat")
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGraState(b)
	if err != nil || g.Version != "2.1" || g.UUID != u1 || g.Seqno != -1 || g.SafeToBootstrap {
		t.Errorf("running node: %+v, %v", g, err)
	}
	b, _ = os.ReadFile("testdata/grastate-clean.dat")
	g, err = ParseGraState(b)
	if err != nil || g.Seqno <= 0 || g.SafeToBootstrap {
		t.Errorf("cleanly stopped node: %+v, %v", g, err)
	}
	for _, bad := range []string{"", "uuid: x\nseqno: 1\n", "uuid: " + u1 + "\nseqno: -5\n", "uuid: " + u1 + "\n", "garbage\n",
		"uuid: " + u1 + "\nseqno: 3\nsafe_to_bootstrap: 2\n"} {
		if _, err := ParseGraState([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "grastate.dat"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "grastate.dat"), 0o660); err != nil {
		t.Fatal(err)
	}
	if err := SetSafeToBootstrap(dir); err != nil {
		t.Fatal(err)
	}
	g2, err := ReadGraState(dir)
	if err != nil || !g2.SafeToBootstrap || g2.Seqno != g.Seqno {
		t.Errorf("after SetSafeToBootstrap: %+v, %v", g2, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "grastate.dat")); fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, want 0660 kept", fi.Mode().Perm())
	}
	// mysqld owns grastate.dat: the replacement keeps the owner, and leaves nothing beside it.
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(dir, "grastate.dat"), 4242, 4343); err != nil {
			t.Fatal(err)
		}
		if err := SetSafeToBootstrap(dir); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(dir, "grastate.dat"))
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 4242 || st.Gid != 4343 {
			t.Errorf("owner %d:%d, want 4242:4343 kept", st.Uid, st.Gid)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files beside grastate.dat's replacement, want it alone", len(ents)-1)
	}
}

func TestParseRecovered(t *testing.T) {
	b, err := os.ReadFile("testdata/wsrep-recover.log")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseRecovered(b)
	if err != nil || p.UUID == "" || p.Seqno <= 0 {
		t.Errorf("recover log: %+v, %v", p, err)
	}
	p, err = ParseRecovered([]byte("WSREP_SST: ...\n--wsrep_start_position=" + u2 + ":77\n"))
	if err != nil || p != (Position{u2, 77}) {
		t.Errorf("galera_recovery: %+v, %v", p, err)
	}
	for _, bad := range []string{"", "WSREP: Recovered position: nonsense", "WSREP: Recovered position: " + u1 + ":-9"} {
		if _, err := ParseRecovered([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseGraState(f *testing.F) {
	b, _ := os.ReadFile("testdata/grastate-running.dat")
	f.Add(b)
	f.Add([]byte("uuid: " + u1 + "\nseqno: 9\nsafe_to_bootstrap: 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseGraState(b)
		if err == nil && (g.Seqno < -1 || !uuidRE.MatchString(g.UUID)) {
			t.Fatalf("accepted %+v", g)
		}
	})
}

func FuzzParseRecovered(f *testing.F) {
	b, _ := os.ReadFile("testdata/wsrep-recover.log")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseRecovered(b)
		if err == nil && (p.Seqno < -1 || !uuidRE.MatchString(p.UUID)) {
			t.Fatalf("accepted %+v", p)
		}
	})
}
