package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<22; us += 1 + us/97 {
		b := bucket(us)
		if b < prev {
			t.Fatalf("bucket(%d)=%d goes backwards from %d", us, b, prev)
		}
		if top := bucketTop(b); top < us || float64(top-us) > float64(us)/60+1 {
			t.Fatalf("bucket(%d)=%d has top %d: not within 1/64", us, b, top)
		}
		prev = b
	}
}

func TestQuantiles(t *testing.T) {
	var h Hist
	var all []time.Duration
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		d := time.Duration(r.ExpFloat64()*2000) * time.Microsecond
		h.Add(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		exact := all[int(q*float64(len(all)))-1]
		got := h.Quantile(q)
		if diff := got - exact; diff < -2*time.Microsecond || float64(diff) > float64(exact)/30+float64(2*time.Microsecond) {
			t.Errorf("q%.2f: got %v, exact %v", q, got, exact)
		}
	}
	if h.Max() != all[len(all)-1] || h.Quantile(1) != h.Max() {
		t.Errorf("max %v / q1 %v, want %v", h.Max(), h.Quantile(1), all[len(all)-1])
	}
	var m Hist
	m.Merge(&h)
	m.Merge(&h)
	if m.Count() != 200000 || m.Quantile(0.5) != h.Quantile(0.5) {
		t.Errorf("merge: count %d, p50 %v vs %v", m.Count(), m.Quantile(0.5), h.Quantile(0.5))
	}
	var huge Hist
	huge.Add(400 * time.Hour)
	if huge.Quantile(0.5) != 400*time.Hour {
		t.Errorf("an off-scale latency: %v", huge.Quantile(0.5))
	}
}
