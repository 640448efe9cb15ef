package drbd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func read(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// One resource from each 8.4 fixture (captured from the real tools), as both tools see it.
func TestParse84Fixtures(t *testing.T) {
	for _, c := range []struct {
		file                   string
		role, disk             string
		conn, peerRole, peerDk string
		primary, upToDate, pp  bool
	}{
		{"secondary-inconsistent-lngs", "Secondary", "Inconsistent", "Connected", "Secondary", "Inconsistent", false, false, false},
		{"syncing-lngs", "Primary", "UpToDate", "SyncSource", "Secondary", "Inconsistent", true, true, false},
		{"syncing-bari", "Secondary", "Inconsistent", "SyncTarget", "Primary", "UpToDate", false, false, true},
		{"connected-lngs", "Primary", "UpToDate", "Connected", "Secondary", "UpToDate", true, true, false},
		{"connected-bari", "Secondary", "UpToDate", "Connected", "Primary", "UpToDate", false, true, true},
		{"disconnected-lngs", "Primary", "UpToDate", "WFConnection", "Unknown", "DUnknown", true, true, false},
		{"disconnected-bari", "Secondary", "UpToDate", "StandAlone", "Unknown", "DUnknown", false, true, false},
		{"splitbrain-lngs", "Primary", "UpToDate", "StandAlone", "Unknown", "DUnknown", true, true, false},
		{"splitbrain-bari", "Secondary", "UpToDate", "StandAlone", "Unknown", "DUnknown", false, true, false},
		{"resolved-bari", "Secondary", "UpToDate", "Connected", "Primary", "UpToDate", false, true, true},
	} {
		proc, err := ParseProc(read(t, "proc-"+c.file+".txt"))
		if err != nil || len(proc) != 1 {
			t.Errorf("%s: /proc/drbd: %v %+v", c.file, err, proc)
			continue
		}
		st, err := ParseStatus(read(t, "status-"+c.file+".txt"))
		if err != nil || len(st) != 1 {
			t.Errorf("%s: drbdsetup status: %v %+v", c.file, err, st)
			continue
		}
		// drbdsetup status leaves a StandAlone peer out altogether; /proc/drbd still lists it.
		if standalone := proc[0].Peers[0].StandAlone(); standalone != (len(st[0].Peers) == 0) {
			t.Errorf("%s: /proc/drbd StandAlone %v, drbdsetup status peers %+v", c.file, standalone, st[0].Peers)
		}
		for tool, r := range map[string]Resource{"/proc/drbd": proc[0], "drbdsetup status": st[0]} {
			if len(r.Peers) == 0 {
				r.Peers = []Peer{{Role: "Unknown", Disk: "DUnknown"}}
			}
			p := r.Peers[0]
			if r.Role != c.role || r.Disk != c.disk || p.Role != c.peerRole || p.Disk != c.peerDk {
				t.Errorf("%s via %s: %s/%s peer %s/%s, want %s/%s peer %s/%s", c.file, tool, r.Role, r.Disk, p.Role, p.Disk, c.role, c.disk, c.peerRole, c.peerDk)
			}
			if r.Primary() != c.primary || r.UpToDate() != c.upToDate || r.PeerPrimary() != c.pp {
				t.Errorf("%s via %s: primary %v uptodate %v peer primary %v", c.file, tool, r.Primary(), r.UpToDate(), r.PeerPrimary())
			}
		}
		if c.conn != "" && proc[0].Peers[0].Connection != c.conn {
			t.Errorf("%s: /proc/drbd cs:%s, want %s", c.file, proc[0].Peers[0].Connection, c.conn)
		}
	}
	// During the resync /proc/drbd says how far it got and how much is left.
	proc, _ := ParseProc(read(t, "proc-syncing-bari.txt"))
	if p := proc[0].Peers[0]; p.OutOfSync == 0 || p.SyncedPct <= 0 || p.SyncedPct >= 100 {
		t.Errorf("a resync in progress: %+v", p)
	}
	// After a split brain neither side reconnects by itself, and each has blocks the other lacks.
	for _, s := range []string{"lngs", "bari"} {
		proc, _ := ParseProc(read(t, "proc-splitbrain-"+s+".txt"))
		if p := proc[0].Peers[0]; !p.StandAlone() || p.OutOfSync == 0 {
			t.Errorf("split brain at %s: %+v", s, p)
		}
	}
	if !strings.Contains(read(t, "dmesg-splitbrain-lngs.txt"), "Split-Brain") {
		t.Error("the kernel did not log the split brain")
	}
}

func TestParseStatusJSON9(t *testing.T) {
	rs, err := ParseStatusJSON([]byte(read(t, "status9-primary.json")))
	if err != nil || len(rs) != 1 {
		t.Fatalf("%v %+v", err, rs)
	}
	r := rs[0]
	if r.Name != "keystone" || !r.Primary() || !r.UpToDate() || r.Minor != 1 || r.Quorum == nil || !*r.Quorum || len(r.Peers) != 2 {
		t.Fatalf("%+v", r)
	}
	if p := r.Peers[0]; p.Name != "bari" || !p.Connected() || p.Replication != "SyncSource" || p.Disk != "Inconsistent" || p.SyncedPct != 41.4 || p.OutOfSync != 614400 {
		t.Errorf("bari: %+v", p)
	}
	if p := r.Peers[1]; p.Name != "padova" || p.Connected() || p.Role != "Unknown" {
		t.Errorf("padova: %+v", p)
	}
	for _, bad := range []string{"", "{}", `[{"name": "x"}]`, "[1]"} {
		if _, err := ParseStatusJSON([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseStatusText9(t *testing.T) {
	rs, err := ParseStatus(read(t, "status9-text.txt"))
	if err != nil || len(rs) != 1 || len(rs[0].Peers) != 2 {
		t.Fatalf("%v %+v", err, rs)
	}
	if p := rs[0].Peers[0]; p.Name != "lngs" || p.Connected() || p.Connection != "Connecting" {
		t.Errorf("lngs: %+v", p)
	}
	if p := rs[0].Peers[1]; p.Name != "padova" || !p.Connected() || p.Role != "Secondary" || p.Disk != "Diskless" {
		t.Errorf("padova: %+v", p)
	}
	if _, err := ParseStatus("  disk:UpToDate\n"); err == nil {
		t.Error("a device line before any resource: no error")
	}
}

func TestEvents2(t *testing.T) {
	e := NewEvents()
	lines := strings.Split(read(t, "events2-failover.txt"), "\n")
	for i, l := range lines {
		if err := e.Apply(l); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if strings.HasPrefix(l, "exists -") {
			r := e.Resources()[0]
			if r.Role != "Secondary" || !r.PeerPrimary() || !r.UpToDate() {
				t.Errorf("initial state: %+v", r)
			}
		}
	}
	r := e.Resources()[0]
	if r.Role != "Primary" || r.PeerPrimary() || len(r.Peers) != 1 || r.Peers[0].Connection != "Connecting" || r.Peers[0].Disk != "DUnknown" {
		t.Errorf("after the failover: %+v", r)
	}
	if err := e.Apply("change resource role:Primary"); err == nil {
		t.Error("a line without name: no error")
	}
}

func FuzzParseProc(f *testing.F) {
	for _, n := range []string{"proc-connected-lngs.txt", "proc-syncing-bari.txt", "proc-splitbrain-bari.txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", n)); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(" 0: cs:Connected ro:Primary ds:UpToDate/UpToDate C r-----\n")
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseProc(s)
		for _, r := range rs {
			if err == nil && len(r.Peers) != 1 {
				t.Fatalf("an 8.4 resource with %d peers", len(r.Peers))
			}
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	for _, n := range []string{"status-connected-lngs.txt", "status-syncing-bari.txt", "status9-text.txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", n)); err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		ParseStatus(s)
		ParseStatusJSON([]byte(s))
		e := NewEvents()
		for _, l := range strings.Split(s, "\n") {
			e.Apply(l)
		}
		e.Resources()
	})
}

// Frozen I/O: 8.4's /proc/drbd shows it in the first I/O flag (drbd_proc.c prints 's' for a
// suspended device, 'r' for running); DRBD 9's events2 in the resource's suspended: field.
func TestSuspended(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{" 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C s-----", true},
		{" 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----", false},
		{" 0: cs:Connected ro:Primary/Secondary ds:UpToDate/UpToDate C r---d-", false},
	} {
		rs, err := ParseProc(c.line + "\n")
		if err != nil || len(rs) != 1 || rs[0].Suspended != c.want {
			t.Errorf("%q: %+v %v, want suspended %v", c.line, rs, err, c.want)
		}
	}
	for _, c := range []struct {
		v    string
		want bool
	}{{"no", false}, {"fencing", true}, {"user", true}, {"quorum", true}} {
		e := NewEvents()
		if err := e.Apply("exists resource name:r0 role:Primary suspended:" + c.v); err != nil {
			t.Fatal(err)
		}
		if got := e.Resources()[0].Suspended; got != c.want {
			t.Errorf("suspended:%s read as %v", c.v, got)
		}
	}
}
