package drbd

import (
	"fmt"
	"time"
)

// View is what one data site's agent knows at one moment: its DRBD resource, what the agents it
// can hear say (by gossip; the witness site runs only an agent), and for how long things have
// been so. It is a snapshot: Decide keeps no state.
type View struct {
	Site  string
	Peer  string // the other data site
	Sites int    // every site with an agent, the witness included: the majority is Sites/2+1
	Local Resource
	// Heard: the sites whose agents this agent hears (itself included), and what each reports of
	// its own DRBD role.
	Heard map[string]string
	// PeerGoneFor: how long the peer has been unreachable both by DRBD and by gossip; 0 if it is not.
	PeerGoneFor time.Duration
	// NoMajorityFor: how long this site has heard fewer than a majority of agents; 0 if it has one.
	NoMajorityFor time.Duration
	DBUp          bool // the database on the DRBD device answers (primary only)
	Maintenance   bool // an operator holds this site: no automatic promotion
	// FencedBy names a site that fenced this one: it has written without this disk, which is
	// outdated however DRBD labels it. It only ever stops a promotion: a Primary that hears a
	// fence against itself hears a stale one (the two sides cannot both hold a majority), and
	// demoting on it once took the database down at both sites.
	FencedBy string
	// FenceHeld: this site fences its peer and a majority holds that fence. With Freezes, the
	// peer, if it lives, cannot acknowledge a write: DRBD froze its I/O when it lost this site,
	// and only a fence held by a majority would let it resume, which the majority now refuses.
	FenceHeld bool
	// PeerFenceHeld: the peer fences this site and a majority holds that fence. The peer has
	// taken over (or may): a Primary here is frozen and must step down.
	PeerFenceHeld bool
	// Freezes: the resource runs `fencing resource-and-stonith` (drbdsetup show), so a Primary
	// that loses its peer freezes its I/O until its fence-peer handler succeeds.
	Freezes bool
	Planned string // a switchover in progress names the site it moves to; "" otherwise
	// FrozenFor: how long this device's I/O has been suspended without a break (0 when it is not).
	FrozenFor time.Duration
	// PeerHostDown: the peer's agent has been quiet a while and its host answered none of the
	// agent's last two TCP probes (a live kernel accepts or refuses one), a probe known to reach
	// it while it lived. The host is dead or cut off: DRBD will drop the link too, seconds later.
	PeerHostDown bool
}

// Timing bounds the automatic moves on the clock. A primary that cannot hear a majority demotes
// within DemoteAfter; without fencing that freezes I/O (View.Freezes) the other side promotes only
// after PromoteAfter of silence from the peer, and PromoteAfter exceeds DemoteAfter plus the time
// a demotion takes plus how much later the Primary may notice the loss than the Secondary
// (Notice): the old primary has stopped taking writes before the new one starts. With fencing
// the Secondary promotes on the fence instead, as soon as a majority holds it.
type Timing struct {
	DemoteAfter  time.Duration
	DemoteTakes  time.Duration // bound on stopping the stack and `drbdadm secondary`
	PromoteAfter time.Duration
	// FenceTimeout is how long DRBD's fence-peer handler waits for a majority to hold its fence
	// (drbd.fence_timeout). A Primary frozen longer than that without its peer had its handler give
	// up, and DRBD never runs it again: the agent asks for the fence itself (Decide).
	FenceTimeout time.Duration
	// Notice bounds how much later the Primary may notice that it hears no majority than the
	// Secondary notices the peer gone: gossip declares a silent agent dead after a time that
	// varies with the probes that confirm the suspicion (membership.NoticeSpread).
	Notice time.Duration
}

// DefaultTiming: demote after 5 s without a majority, allow 10 s for it, promote after 20 s; the
// fence-peer handler waits 10 s.
func DefaultTiming() Timing {
	return Timing{DemoteAfter: 5 * time.Second, DemoteTakes: 10 * time.Second, PromoteAfter: 20 * time.Second, FenceTimeout: 10 * time.Second}
}

// Check reports a Timing that could let two primaries overlap.
func (t Timing) Check() error {
	if t.DemoteAfter <= 0 || t.DemoteTakes <= 0 {
		return fmt.Errorf("drbd timing: demote_after %s and demote_takes %s must be positive", t.DemoteAfter, t.DemoteTakes)
	}
	if t.PromoteAfter <= t.DemoteAfter+t.DemoteTakes+t.Notice {
		return fmt.Errorf("drbd timing: promote_after %s must exceed demote_after + demote_takes + %s (the Primary may notice the loss that much later than the Secondary, by gossip) = %s: "+
			"without fencing that freezes I/O the old primary could still take writes",
			t.PromoteAfter, t.Notice, t.DemoteAfter+t.DemoteTakes+t.Notice)
	}
	return nil
}

// handlerSlack: how much longer than its fence timeout the fence-peer handler may take, from the
// freeze to its withdrawal (DRBD starting it, keyha's start on a slow host).
const handlerSlack = 2 * time.Second

// Action is what a site's agent does next.
type Action string

const (
	None    Action = "none"
	Promote Action = "promote" // drbdadm primary, mount, database, Keystone
	Demote  Action = "demote"  // Keystone, database, unmount, drbdadm secondary
	Fence   Action = "fence"   // ask the other agents to hold a fence against the peer
	// Disconnect drops the replication link to a Primary whose host is gone (drbdadm disconnect
	// --force, then connect to wait for it), rather than wait for DRBD's ping timeout.
	Disconnect Action = "disconnect"
	// Resume resumes a frozen Primary's I/O (drbdadm resume-io) once a majority holds its fence
	// against the peer: what the fence-peer handler does when it succeeds in time.
	Resume Action = "resume"
)

// Verdict is Decide's answer: the action, whether HAProxy may send traffic here, and why.
type Verdict struct {
	Action Action `json:"action"`
	Up     bool   `json:"up"`
	Reason string `json:"reason"`
}

// Majority reports whether the agents heard make a majority of Sites.
func (v View) Majority() bool { return Majority(len(v.Heard), v.Sites) }

// Majority reports whether n agents heard (this one included) are a majority of sites.
func Majority(n, sites int) bool { return n >= sites/2+1 }

// Decide is the DRBD mode's rule. Never two primaries: a primary without a majority demotes; a
// secondary promotes only with an UpToDate disk, no primary peer, and, when the peer is silent, a
// majority and a silence longer than the old primary's demotion.
func Decide(v View, t Timing) Verdict {
	r := v.Local
	if r.Primary() {
		switch {
		case r.PeerPrimary():
			return Verdict{Demote, false, "both sides Primary (dual primary): demote this one and check for a split brain"}
		case !r.PeerLink() && v.PeerFenceHeld:
			// The other side promoted on its fence while this one, cut off, had not yet noticed
			// its lost majority (a cut shorter than that). Its I/O froze at the cut: nothing
			// written here since was acknowledged.
			return Verdict{Demote, false, fmt.Sprintf("a majority holds %s's fence against this site: it has taken over; demote (I/O here is frozen since the link dropped)", v.Peer)}
		case !v.Majority() && v.NoMajorityFor >= t.DemoteAfter:
			return Verdict{Demote, false, fmt.Sprintf("Primary without a majority for %s (hears %d of %d agents): demote so the other side may take over",
				v.NoMajorityFor.Round(time.Millisecond), len(v.Heard), v.Sites)}
		case !v.Majority():
			return Verdict{None, false, fmt.Sprintf("Primary without a majority (hears %d of %d agents): no writes; demotes after %s",
				len(v.Heard), v.Sites, t.DemoteAfter)}
		case r.Suspended && !r.PeerLink() && v.FrozenFor >= t.FenceTimeout+handlerSlack && v.FenceHeld:
			// The peer, fenced by the majority, can never be promoted: writing alone is safe. Not
			// before the handler gave up: while it runs, its own success resumes I/O.
			return Verdict{Resume, false, "Primary, I/O frozen since the link to " + v.Peer + " dropped, and a majority now holds this site's fence against it: resume I/O"}
		case r.Suspended && !r.PeerLink() && v.FrozenFor >= t.FenceTimeout+handlerSlack:
			// DRBD runs the handler once per lost link; one that timed out (the witness heard late,
			// through a relay) would leave this Primary frozen while the other side, hearing its
			// agent, never takes over.
			return Verdict{Fence, false, fmt.Sprintf("Primary, I/O frozen for %s since the link to %s dropped: the fence-peer handler gave up; "+
				"fence %s again and resume once a majority holds it", v.FrozenFor.Round(time.Millisecond), v.Peer, v.Peer)}
		case v.Planned != "" && v.Planned != v.Site:
			return Verdict{Demote, false, "switchover to " + v.Planned + ": demote"}
		case !r.UpToDate():
			return Verdict{None, false, "Primary but the disk is " + r.Disk}
		case !v.DBUp:
			return Verdict{None, false, "Primary, disk UpToDate, but the database does not answer"}
		}
		return Verdict{None, true, "Primary, disk UpToDate, database answers"}
	}

	// Secondary (or unknown): never up; promote only when every condition holds.
	no := func(why string) Verdict { return Verdict{None, false, "Secondary: " + why} }
	peerLink := r.PeerLink()
	switch {
	case !r.UpToDate():
		return no("disk is " + r.Disk + ", not UpToDate: never promoted")
	case r.PeerPrimary() && peerLink && v.PeerHostDown && v.Freezes && v.Majority() && v.FencedBy == "" && !v.Maintenance && v.Planned == "":
		// Safe with resource-and-stonith and protocol C: a Primary that still lives behind the
		// cut freezes its I/O as the link drops, with every write it acknowledged already here,
		// and resumes only with a fence the majority holds; the fence decides, not this.
		return Verdict{Disconnect, false, "Secondary: the peer's agent is quiet and its host answers no connection, but DRBD still calls it Primary: " +
			"drop the replication link to fence it now, not after DRBD's ping timeout"}
	case r.PeerPrimary():
		return no("the peer is Primary")
	case v.FencedBy != "":
		return no("fenced by " + v.FencedBy + ": it wrote without this disk, which is outdated until it resyncs")
	case v.Heard[v.Peer] == "Primary":
		return no("the peer's agent reports Primary (the replication link may be cut, the peer is not gone)")
	case v.Maintenance:
		return no("in maintenance")
	case v.Planned == v.Site:
		if peerLink {
			return Verdict{Promote, false, "switchover to this site: the peer is Secondary and connected"}
		}
		return no("switchover to this site waits for the replication link")
	case v.Planned != "":
		return no("switchover to " + v.Planned + " in progress")
	case peerLink:
		return no("the peer is connected and not Primary: nothing to take over (use keyha drbd switchover)")
	case !v.Majority():
		return no(fmt.Sprintf("the peer is unreachable and this site hears only %d of %d agents: no majority", len(v.Heard), v.Sites))
	case v.Freezes && v.FenceHeld:
		return Verdict{Promote, false, fmt.Sprintf("the peer has been gone %s and a majority holds this site's fence against it: its I/O is frozen "+
			"(resource-and-stonith) and can resume only with a fence the majority refuses: promote", v.PeerGoneFor.Round(time.Millisecond))}
	case v.Freezes:
		return Verdict{Fence, false, "Secondary: the peer is gone: fence it, and promote once a majority holds the fence"}
	case v.PeerGoneFor < t.PromoteAfter:
		return no(fmt.Sprintf("the peer has been silent %s; promotes after %s (the old primary demotes first)",
			v.PeerGoneFor.Round(time.Millisecond), t.PromoteAfter))
	}
	return Verdict{Promote, false, fmt.Sprintf("the peer has been gone %s and this site hears %d of %d agents (no fencing that freezes I/O: promoted on the clock): promote",
		v.PeerGoneFor.Round(time.Millisecond), len(v.Heard), v.Sites)}
}
