package drbd

import (
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	tm := DefaultTiming()
	if err := tm.Check(); err != nil {
		t.Fatal(err)
	}
	primary := Resource{Name: "r0", Role: "Primary", Disk: "UpToDate", Peers: []Peer{{Connection: "Connected", Role: "Secondary", Disk: "UpToDate"}}}
	cut := func(r Resource) Resource { // the replication link is down
		r.Peers = []Peer{{Connection: "WFConnection", Role: "Unknown", Disk: "DUnknown"}}
		return r
	}
	secondary := Resource{Name: "r0", Role: "Secondary", Disk: "UpToDate", Peers: []Peer{{Connection: "Connected", Role: "Primary", Disk: "UpToDate"}}}
	all := map[string]string{"lngs": "Primary", "bari": "Secondary", "padova": ""}
	view := func(site string, r Resource, heard map[string]string) View {
		peer := map[string]string{"lngs": "bari", "bari": "lngs"}[site]
		return View{Site: site, Peer: peer, Sites: 3, Local: r, Heard: heard, DBUp: true}
	}
	withWitness := map[string]string{"bari": "Secondary", "padova": ""}
	// frozen: lngs Primary, its link down and its I/O suspended, the database hanging; then change.
	frozen := func(heard map[string]string, change func(*View)) View {
		r := cut(primary)
		r.Suspended = true
		v := view("lngs", r, heard)
		v.DBUp = false
		change(&v)
		return v
	}
	// hostGone: bari Secondary, DRBD still connected to lngs Primary, whose host answers no probe,
	// with fencing that freezes; then change.
	hostGone := func(heard map[string]string, change func(*View)) View {
		v := view("bari", secondary, heard)
		v.PeerHostDown, v.Freezes = true, true
		change(&v)
		return v
	}
	for _, c := range []struct {
		name   string
		v      View
		action Action
		up     bool
		reason string
	}{
		{"healthy primary", view("lngs", primary, all), None, true, "database answers"},
		{"primary whose database is down", func() View { v := view("lngs", primary, all); v.DBUp = false; return v }(), None, false, "does not answer"},
		{"primary while resyncing from the peer", func() View {
			r := primary
			r.Disk = "Inconsistent"
			return view("lngs", r, all)
		}(), None, false, "disk is Inconsistent"},
		{"healthy secondary", view("bari", secondary, all), None, false, "the peer is Primary"},
		// A Primary frozen after its link dropped: its handler's work, then the agent's after it.
		{"primary frozen, the handler at work", frozen(all, func(v *View) { v.FrozenFor = 3 * time.Second }), None, false, "database does not answer"},
		{"primary frozen, the handler's fence held: the handler resumes, not the agent",
			frozen(all, func(v *View) { v.FrozenFor, v.FenceHeld = 300*time.Millisecond, true }), None, false, "database does not answer"},
		{"primary frozen, the handler about to give up", frozen(all, func(v *View) { v.FrozenFor = 11 * time.Second }), None, false, "database does not answer"},
		{"primary frozen past the handler's timeout: fence again", frozen(all, func(v *View) { v.FrozenFor = 12 * time.Second }), Fence, false, "handler gave up"},
		{"primary frozen, its fence held: resume", frozen(all, func(v *View) { v.FrozenFor, v.FenceHeld = 12*time.Second, true }), Resume, false, "resume I/O"},
		{"primary frozen, the peer's fence held: demote, never resume",
			frozen(all, func(v *View) { v.FrozenFor, v.FenceHeld, v.PeerFenceHeld = 12*time.Second, true, true }), Demote, false, "has taken over"},
		{"primary frozen without a majority: the demotion's path", frozen(map[string]string{"lngs": "Primary"}, func(v *View) {
			v.FrozenFor, v.NoMajorityFor, v.FenceHeld, v.DBUp = 12*time.Second, 6*time.Second, true, true
		}), Demote, false, "without a majority"},
		{"primary frozen but connected (an operator's suspend-io): not ours", frozen(all, func(v *View) {
			v.Local.Peers, v.FrozenFor = primary.Peers, time.Minute
		}), None, false, "database does not answer"},
		// The Primary's host dead, DRBD not yet aware: drop the link at once, on these conditions only.
		{"secondary, the Primary's host gone, DRBD still connected: drop the link", hostGone(withWitness, func(*View) {}), Disconnect, false, "drop the replication link"},
		{"host gone but its agent still heard: the same", hostGone(all, func(*View) {}), Disconnect, false, "drop the replication link"},
		{"host gone, no fencing that freezes: DRBD decides", hostGone(withWitness, func(v *View) { v.Freezes = false }), None, false, "the peer is Primary"},
		{"host gone, no majority: DRBD decides", hostGone(map[string]string{"bari": "Secondary"}, func(*View) {}), None, false, "the peer is Primary"},
		{"host gone, this site fenced: never", hostGone(withWitness, func(v *View) { v.FencedBy = "lngs" }), None, false, "the peer is Primary"},
		{"host gone, in maintenance: never", hostGone(withWitness, func(v *View) { v.Maintenance = true }), None, false, "the peer is Primary"},
		{"host gone, a switchover running: never", hostGone(withWitness, func(v *View) { v.Planned = "bari" }), None, false, "the peer is Primary"},
		{"host gone, this disk not UpToDate: never", hostGone(withWitness, func(v *View) { v.Local.Disk = "Inconsistent" }), None, false, "not UpToDate"},
		{"host gone, the peer Secondary: nothing to drop", hostGone(withWitness, func(v *View) {
			v.Local.Peers = []Peer{{Connection: "Connected", Role: "Secondary", Disk: "UpToDate"}}
		}), None, false, "nothing to take over"},
		// (b) the primary cut off from the secondary only: the witness relays gossip, both sides
		// still hear a majority, the secondary hears the primary's agent say Primary.
		{"(b) secondary, link cut, primary heard via the witness", func() View {
			v := view("bari", cut(secondary), all)
			v.PeerGoneFor = 0
			return v
		}(), None, false, "peer's agent reports Primary"},
		{"(b) primary, link cut, majority kept", view("lngs", cut(primary), all), None, true, "database answers"},
		// (c) the primary cut off from both.
		{"(c) old primary, alone, just now", func() View {
			v := view("lngs", cut(primary), map[string]string{"lngs": "Primary"})
			v.NoMajorityFor = time.Second
			return v
		}(), None, false, "demotes after 5s"},
		{"(c) old primary, alone for 5 s", func() View {
			v := view("lngs", cut(primary), map[string]string{"lngs": "Primary"})
			v.NoMajorityFor = 5 * time.Second
			return v
		}(), Demote, false, "demote so the other side"},
		{"(c) secondary with the witness, peer silent 10 s", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor = 10 * time.Second
			return v
		}(), None, false, "promotes after 20s"},
		{"(c) secondary with the witness, peer silent 20 s", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor = 20 * time.Second
			return v
		}(), Promote, false, "promoted on the clock"},
		{"secondary alone (cut off itself)", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary"})
			v.PeerGoneFor = time.Hour
			return v
		}(), None, false, "no majority"},
		{"(a) secondary after the primary's VM died", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor = 25 * time.Second
			return v
		}(), Promote, false, "promote"},
		// With fencing that freezes the old Primary's I/O: promote on the fence, not on the clock.
		{"(a) secondary, peer just gone, fencing freezes: fence it first", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor, v.Freezes = time.Millisecond, true
			return v
		}(), Fence, false, "fence it"},
		{"(a) secondary, its fence held by a majority: promote at once", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor, v.Freezes, v.FenceHeld = 300*time.Millisecond, true, true
			return v
		}(), Promote, false, "a majority holds this site's fence"},
		{"a fence held, but no fencing that freezes: the clock rules", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor, v.FenceHeld = time.Second, true
			return v
		}(), None, false, "promotes after 20s"},
		{"a fence held, but fenced by the peer too: never", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor, v.Freezes, v.FenceHeld, v.FencedBy = time.Second, true, true, "lngs"
			return v
		}(), None, false, "fenced by lngs"},
		{"fencing freezes, but the peer's agent still says Primary", func() View {
			v := view("bari", cut(secondary), all)
			v.Freezes, v.FenceHeld = true, true
			return v
		}(), None, false, "peer's agent reports Primary"},
		{"fencing freezes, no majority: no fence, no promotion", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary"})
			v.PeerGoneFor, v.Freezes = time.Hour, true
			return v
		}(), None, false, "no majority"},
		{"outdated secondary never promotes", func() View {
			r := cut(secondary)
			r.Disk = "Outdated"
			v := view("bari", r, map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor = time.Hour
			return v
		}(), None, false, "never promoted"},
		{"secondary in maintenance", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor, v.Maintenance = time.Hour, true
			return v
		}(), None, false, "maintenance"},
		{"dual primary", func() View {
			r := primary
			r.Peers = []Peer{{Connection: "Connected", Role: "Primary", Disk: "UpToDate"}}
			return view("lngs", r, all)
		}(), Demote, false, "dual primary"},
		// (d) switchover: the primary demotes, then the target (connected, peer Secondary) promotes.
		{"switchover: primary demotes", func() View { v := view("lngs", primary, all); v.Planned = "bari"; return v }(), Demote, false, "switchover to bari"},
		{"switchover: target promotes once the peer is Secondary", func() View {
			r := secondary
			r.Peers = []Peer{{Connection: "Connected", Role: "Secondary", Disk: "UpToDate"}}
			v := view("bari", r, map[string]string{"lngs": "Secondary", "bari": "Secondary", "padova": ""})
			v.Planned = "bari"
			return v
		}(), Promote, false, "switchover to this site"},
		{"switchover: target waits while the peer is Primary", func() View { v := view("bari", secondary, all); v.Planned = "bari"; return v }(), None, false, "the peer is Primary"},
		// A fence held against this site: it never promotes, and a Primary that hears it demotes.
		{"fenced secondary with every other condition met", func() View {
			v := view("bari", cut(secondary), map[string]string{"bari": "Secondary", "padova": ""})
			v.PeerGoneFor, v.FencedBy = time.Hour, "lngs"
			return v
		}(), None, false, "fenced by lngs"},
		{"primary, link cut, the peer's fence held by a majority: it took over, demote", func() View {
			v := view("lngs", cut(primary), all)
			v.FencedBy, v.PeerFenceHeld = "bari", true
			return v
		}(), Demote, false, "has taken over"},
		{"primary, connected, the peer's fence heard: stale, keep serving", func() View {
			v := view("lngs", primary, all)
			v.FencedBy, v.PeerFenceHeld = "bari", true
			return v
		}(), None, true, "database answers"},
		{"primary hearing a stale fence keeps serving", func() View { v := view("lngs", primary, all); v.FencedBy = "bari"; return v }(), None, true, "database answers"},
		{"both Secondary and connected: no automatic promotion", func() View {
			r := secondary
			r.Peers = []Peer{{Connection: "Connected", Role: "Secondary", Disk: "UpToDate"}}
			return view("bari", r, map[string]string{"lngs": "Secondary", "bari": "Secondary", "padova": ""})
		}(), None, false, "nothing to take over"},
	} {
		got := Decide(c.v, tm)
		if got.Action != c.action || got.Up != c.up || !strings.Contains(got.Reason, c.reason) {
			t.Errorf("%s: %+v, want action %s up %v reason containing %q", c.name, got, c.action, c.up, c.reason)
		}
	}
}

func TestTimingCheck(t *testing.T) {
	bad := Timing{DemoteAfter: 5 * time.Second, DemoteTakes: 10 * time.Second, PromoteAfter: 15 * time.Second}
	if err := bad.Check(); err == nil || !strings.Contains(err.Error(), "must exceed") {
		t.Errorf("promote_after = demote_after + demote_takes: %v, want an error", err)
	}
	// The Primary may notice the loss later than the Secondary: that spread counts too.
	late := Timing{DemoteAfter: 3 * time.Second, DemoteTakes: 12 * time.Second, PromoteAfter: 18 * time.Second, Notice: 3 * time.Second}
	if err := late.Check(); err == nil || !strings.Contains(err.Error(), "notice the loss") {
		t.Errorf("promote_after = demote_after + demote_takes + notice: %v, want an error", err)
	}
	late.PromoteAfter = 19 * time.Second
	if err := late.Check(); err != nil {
		t.Errorf("promote_after past the sum: %v", err)
	}
}
