package drbd

import "time"

// Tracker turns the agent's successive observations into the durations Decide needs: how long
// the peer has been unreachable (neither DRBD's link nor its agent's gossip) and how long this site
// has lacked a majority. Any sign of the peer, or a majority heard once, starts the clock again.
type Tracker struct {
	peerGoneSince, noMajoritySince, frozenSince time.Time
}

// Observe records one observation at now and returns the two durations.
func (t *Tracker) Observe(now time.Time, peerSeen, majority bool) (peerGoneFor, noMajorityFor time.Duration) {
	t.peerGoneSince = since(t.peerGoneSince, now, !peerSeen)
	t.noMajoritySince = since(t.noMajoritySince, now, !majority)
	return elapsed(t.peerGoneSince, now), elapsed(t.noMajoritySince, now)
}

// Frozen records whether the local device's I/O is suspended at now and returns for how long it
// has been, without a break.
func (t *Tracker) Frozen(now time.Time, frozen bool) time.Duration {
	t.frozenSince = since(t.frozenSince, now, frozen)
	return elapsed(t.frozenSince, now)
}

func since(start, now time.Time, ongoing bool) time.Time {
	switch {
	case !ongoing:
		return time.Time{}
	case start.IsZero():
		return now
	}
	return start
}

func elapsed(start, now time.Time) time.Duration {
	if start.IsZero() {
		return 0
	}
	return now.Sub(start)
}
