package drbd

import (
	"errors"
	"fmt"
	"slices"
)

// SplitBrain tells, from one node's view, whether its resource looks split: DRBD dropped the
// link (StandAlone) while this side holds blocks the peer lacks. DRBD gives up on reconnecting
// only there; if the peer shows the same, both sides wrote while apart.
func SplitBrain(r Resource) (bool, string) {
	for _, p := range r.Peers {
		if p.StandAlone() && p.OutOfSync > 0 {
			return true, fmt.Sprintf("%s is StandAlone (%s) with %d KiB written here that the peer lacks: if the peer is StandAlone with blocks of its own, "+
				"both sides took writes while apart. DRBD will not choose; name the site whose writes since the split are thrown away", r.Name, r.Role, p.OutOfSync)
		}
		if p.StandAlone() {
			return false, r.Name + " is StandAlone with nothing written here alone: reconnect it (drbdadm connect); the peer resyncs whatever it wrote"
		}
	}
	if len(r.Peers) == 0 {
		return false, r.Name + " has no peer connection to judge (StandAlone shows in /proc/drbd only, on DRBD 8.4)"
	}
	return false, r.Name + " is " + r.Peers[0].Connection + ": no split brain"
}

// ErrNoVictim is returned until the operator names the site whose changes are discarded.
var ErrNoVictim = errors.New("name the site whose changes since the split are discarded (--discard SITE): keyha never chooses")

// ResolvePlan returns the commands this node runs to end a split brain once the operator has named
// the site whose changes are discarded: that site reconnects discarding its data (it must be
// Secondary), the other reconnects and becomes the resync source.
func ResolvePlan(r Resource, self, discard string) ([][]string, error) {
	if discard == "" {
		return nil, ErrNoVictim
	}
	// A split brain is StandAlone with blocks of its own; a StandAlone link without them may be
	// reconnected the same way.
	if !slices.ContainsFunc(r.Peers, Peer.StandAlone) {
		_, why := SplitBrain(r)
		return nil, fmt.Errorf("nothing to resolve: %s", why)
	}
	if discard != self {
		return [][]string{{"drbdadm", "connect", r.Name}}, nil
	}
	if r.Primary() {
		return nil, fmt.Errorf("%s is Primary here and its changes are to be discarded: stop Keystone and the database, unmount, drbdadm secondary %s first", r.Name, r.Name)
	}
	return [][]string{{"drbdadm", "connect", "--discard-my-data", r.Name}}, nil
}
