package load

import (
	"math/bits"
	"time"
)

// Hist is a latency histogram with bounded memory: 64 linear sub-buckets per power of two of
// microseconds, so any percentile is within 1/64 (1.6%) of the truth whatever the count.
// One per worker, merged at the end; not safe for concurrent use.
type Hist struct {
	counts [64 * 64]uint64
	n      uint64
	max    time.Duration
}

const subBits = 6

func bucket(us uint64) int {
	if us < 1<<subBits {
		return int(us)
	}
	e := bits.Len64(us) - subBits // >= 1
	return e<<subBits | int(us>>(e-1)&(1<<subBits-1))
}

// bucketTop is the largest value a bucket holds, in microseconds.
func bucketTop(b int) uint64 {
	e, sub := b>>subBits, uint64(b&(1<<subBits-1))
	if e == 0 {
		return sub
	}
	return (sub|1<<subBits)<<(e-1) + (1 << (e - 1)) - 1
}

// Add records one latency.
func (h *Hist) Add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	us := uint64(d / time.Microsecond)
	b := bucket(us)
	if b >= len(h.counts) {
		b = len(h.counts) - 1
	}
	h.counts[b]++
	h.n++
	h.max = max(h.max, d)
}

// Merge adds o's counts into h.
func (h *Hist) Merge(o *Hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// Count is the number of latencies recorded.
func (h *Hist) Count() uint64 { return h.n }

// Max is the largest latency recorded, exactly.
func (h *Hist) Max() time.Duration { return h.max }

// Quantile returns the latency below which a fraction q of the records fall (the top of its
// bucket, never above Max).
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketTop(b))*time.Microsecond, h.max)
		}
	}
	return h.max
}
