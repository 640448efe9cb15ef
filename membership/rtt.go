package membership

import (
	"slices"
	"time"
)

// rttSamples keeps the last round trips measured to one peer. Its median is what an agent
// reports: one probe delayed by a retransmit or a busy host does not move it, a changed link does
// within a few probes.
type rttSamples struct {
	buf  [rttWindow]time.Duration
	n    int // samples held, at most rttWindow
	next int
}

const rttWindow = 7

func (s *rttSamples) add(d time.Duration) {
	s.buf[s.next] = d
	s.next = (s.next + 1) % rttWindow
	s.n = min(s.n+1, rttWindow)
}

// median of the samples held; 0 when none.
func (s *rttSamples) median() time.Duration {
	if s.n == 0 {
		return 0
	}
	v := slices.Clone(s.buf[:s.n])
	slices.Sort(v)
	if s.n%2 == 1 {
		return v[s.n/2]
	}
	return (v[s.n/2-1] + v[s.n/2]) / 2
}
