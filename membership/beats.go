package membership

import (
	"sync"
	"time"
)

// Beats tells the agents that still speak from those only remembered. Every agent counts a beat
// into each State it publishes (one per poll at least, State.Beat); an agent whose beat has not
// moved for a while is silent, whatever memberlist says: its failure detector, made for flaky
// networks, takes 5-9 s to declare a dead agent with the lan preset. In DRBD mode a Secondary
// waiting for it waited as long to fence a dead Primary (a false "silent" costs no safety there: a
// Secondary promotes only once a majority holds its fence); in Galera mode a silent site makes the
// others poll faster, to see it leave the view at once.
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
