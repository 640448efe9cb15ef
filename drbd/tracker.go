package drbd

import (
	"sync"
	"time"
)

// Tracker turns the agent's successive observations into the durations Decide needs: how long
// the peer has been unreachable (neither DRBD's link nor its agent's gossip) and how long this site
// has lacked a majority. Any sign of the peer, or a majority heard once, starts the clock again.
type Tracker struct {
	peerGoneSince, noMajoritySince time.Time
}

// Observe records one observation at now and returns the two durations.
func (t *Tracker) Observe(now time.Time, peerSeen, majority bool) (peerGoneFor, noMajorityFor time.Duration) {
	t.peerGoneSince = since(t.peerGoneSince, now, !peerSeen)
	t.noMajoritySince = since(t.noMajoritySince, now, !majority)
	return elapsed(t.peerGoneSince, now), elapsed(t.noMajoritySince, now)
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

// Beats tells the agents that still speak from those only remembered. Every DRBD agent counts a
// beat into each gossip message it sends (one per poll interval at least); an agent whose beat has
// not moved for a while is silent, whatever memberlist says: its failure detector, made for
// flaky networks, takes 5-9 s to declare a dead agent with the lan preset, and a Secondary waiting
// for it waited as long to fence a dead Primary. A false "silent" costs no safety: a Secondary
// promotes only once a majority holds its fence, which a live Primary cut off with it cannot get.
type Beats struct {
	mu   sync.Mutex
	last map[string]beat
}

type beat struct {
	n  uint64
	at time.Time // when n was first seen
}

// Fresh records site's beat n, seen at now, and reports whether it moved within the last within.
// A beat of 0 comes from an agent that counts none (an older keyha): it is taken as fresh, and
// memberlist's own liveness judges it.
func (b *Beats) Fresh(site string, n uint64, now time.Time, within time.Duration) bool {
	if n == 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		b.last = map[string]beat{}
	}
	l, ok := b.last[site]
	if !ok || l.n != n {
		l = beat{n, now}
		b.last[site] = l
	}
	return now.Sub(l.at) <= within
}
