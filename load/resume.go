package load

import (
	"sync"
	"sync/atomic"
	"time"
)

// resumeWatch measures, for each break (kill, stop, partition), how long writes took to succeed
// again through each target: from the fault to the end of the first acknowledged attempt that
// started after it. An attempt already in flight at the fault proves nothing and does not count.
type resumeWatch struct {
	sites   []string
	pending atomic.Int32 // (watch, site) pairs still waiting: the workers' fast path
	mu      sync.Mutex
	watches []*watch
}

type watch struct {
	at    time.Time
	first map[string]time.Time
}

func newResumeWatch(targets []Target) *resumeWatch {
	seen := map[string]bool{}
	var sites []string
	for _, t := range targets {
		if !seen[t.Site] {
			seen[t.Site] = true
			sites = append(sites, t.Site)
		}
	}
	return &resumeWatch{sites: sites}
}

// add starts watching from at; the returned watch is read with resumed after the load.
func (r *resumeWatch) add(at time.Time) *watch {
	w := &watch{at: at, first: map[string]time.Time{}}
	r.mu.Lock()
	r.watches = append(r.watches, w)
	r.mu.Unlock()
	r.pending.Add(int32(len(r.sites)))
	return w
}

// ack records an acknowledged attempt through site that ran from start to end.
func (r *resumeWatch) ack(site string, start, end time.Time) {
	if r.pending.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.watches {
		if _, done := w.first[site]; !done && !start.Before(w.at) {
			w.first[site] = end
			r.pending.Add(-1)
		}
	}
}

// resumed returns, per site, the seconds from the fault until writes through it succeeded again;
// a site whose writes never resumed before the load ended is absent.
func (r *resumeWatch) resumed(w *watch) map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]float64{}
	for s, t := range w.first {
		out[s] = t.Sub(w.at).Seconds()
	}
	return out
}
