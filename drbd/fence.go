package drbd

import (
	"sort"
	"strings"
)

// Fencing across sites. DRBD's fence-peer handler runs on a node that lost its replication link
// (a Primary, its I/O frozen by "fencing resource-and-stonith") or that is asked to promote
// without one. keyha's handler asks the local agent to fence the peer: the agent publishes
// Fence=peer in its gossip, and every other agent that hears it and holds no other fence votes
// for it by publishing Ack "site>peer". Only once a majority holds the fence does the handler
// let DRBD go on; a fenced site never promotes and outdates its disk. A witness holds one fence
// at a time, so the two data sites can never both win.

// Fences is what one agent hears of the others' fences: site -> its Fence and Ack.
type Fences map[string]FenceVote

// FenceVote is one agent's part: the site it fenced itself, and the fence it holds for another.
type FenceVote struct {
	Fence string // the site this agent fenced
	Ack   string // "owner>target": the fence this agent holds for owner
}

// AckString is how a held fence is written in gossip.
func AckString(owner, target string) string { return owner + ">" + target }

// NextAck is this agent's vote after hearing heard: it keeps the fence it holds while its owner
// keeps it or cannot be heard (an owner gone silent may still be writing), drops it once the
// owner is heard without it, and otherwise takes the first fence it hears that is not against
// itself.
func NextAck(me, current string, heard Fences) string {
	if current != "" {
		owner, target, _ := strings.Cut(current, ">")
		v, ok := heard[owner]
		if !ok || v.Fence == target {
			return current
		}
	}
	sites := make([]string, 0, len(heard))
	for s := range heard {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	for _, s := range sites {
		if f := heard[s].Fence; s != me && f != "" && f != me {
			return AckString(s, f)
		}
	}
	return ""
}

// Held reports whether me's fence against peer is held by a majority of sites: me itself plus
// every heard agent whose Ack names it.
func Held(me, peer string, sites int, heard Fences) bool {
	n := 1
	for s, v := range heard {
		if s != me && v.Ack == AckString(me, peer) {
			n++
		}
	}
	return Majority(n, sites)
}

// FencedBy names a site that fenced me, as any agent heard says (its own Fence, or the Ack it
// holds): "" when none does. One voice is enough: the doubt only ever keeps me from promoting.
func FencedBy(me string, heard Fences) string {
	sites := make([]string, 0, len(heard))
	for s := range heard {
		sites = append(sites, s)
	}
	sort.Strings(sites)
	for _, s := range sites {
		v := heard[s]
		if s != me && v.Fence == me {
			return s
		}
		if owner, target, ok := strings.Cut(v.Ack, ">"); ok && target == me && owner != me {
			return owner
		}
	}
	return ""
}
