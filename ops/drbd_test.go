package ops

import (
	"strings"
	"testing"

	"github.com/keyha/keyha/agent"
	"github.com/keyha/keyha/drbd"
)

func TestDRBDReady(t *testing.T) {
	site := func(role, disk, peerRole, peerDisk, conn string, heard map[string]string) DRBDSite {
		return DRBDSite{Site: "bari", Detail: agent.DRBDDetail{
			Resource: drbd.Resource{Role: role, Disk: disk, Peers: []drbd.Peer{{Connection: conn, Role: peerRole, Disk: peerDisk}}},
			Heard:    heard,
		}}
	}
	both := map[string]string{"bari": "Secondary", "lngs": "Secondary", "padova": ""}
	stale := map[string]string{"bari": "Secondary", "lngs": "Primary", "padova": ""}
	for _, tc := range []struct {
		name string
		s    DRBDSite
		ok   bool
		why  string
	}{
		{"ready", site("Secondary", "UpToDate", "Secondary", "UpToDate", "Connected", both), true, ""},
		{"agent unreachable", DRBDSite{Err: "connection refused"}, false, "refused"},
		{"already Primary", site("Primary", "UpToDate", "Secondary", "UpToDate", "Connected", both), false, "it is Primary"},
		{"outdated disk", site("Secondary", "Outdated", "Secondary", "UpToDate", "Connected", both), false, "Outdated"},
		{"link down", site("Secondary", "UpToDate", "Unknown", "DUnknown", "Connecting", both), false, "link is down"},
		{"peer still Primary", site("Secondary", "UpToDate", "Primary", "UpToDate", "Connected", both), false, "the peer is Primary"},
		{"peer resyncing", site("Secondary", "UpToDate", "Secondary", "Inconsistent", "Connected", both), false, "Inconsistent"},
		// DRBD already shows the peer Secondary but gossip has not caught up: the agent would
		// refuse a promote, so the switchover must keep waiting.
		{"gossip stale", site("Secondary", "UpToDate", "Secondary", "UpToDate", "Connected", stale), false, "gossip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := tc.s.ready("lngs")
			if ok != tc.ok || !strings.Contains(why, tc.why) {
				t.Fatalf("ready = %v, %q; want %v, containing %q", ok, why, tc.ok, tc.why)
			}
		})
	}
}

func TestPrintDRBDSites(t *testing.T) {
	site := func(name, state, role string) DRBDSite {
		s := DRBDSite{Site: name, State: state}
		s.Detail.Resource = drbd.Resource{Role: role, Disk: "UpToDate"}
		return s
	}
	for _, c := range []struct {
		name  string
		sites []DRBDSite
		want  string
	}{
		{"one Primary", []DRBDSite{site("lngs", "up", "Primary"), site("bari", "down", "Secondary"), {Site: "padova", Err: "refused"}}, "serving: lngs\n"},
		{"none", []DRBDSite{site("lngs", "down", "Secondary"), site("bari", "down", "Secondary")}, "serving: none"},
		{"two", []DRBDSite{site("lngs", "up", "Primary"), site("bari", "up", "Primary")}, "serving: 2 SITES ANSWER UP"},
	} {
		var b strings.Builder
		PrintDRBDSites(&b, c.sites)
		if !strings.Contains(b.String(), c.want) || !strings.HasPrefix(b.String(), "SITE ") {
			t.Errorf("%s:\n%s\nwant %q", c.name, b.String(), c.want)
		}
	}
}
