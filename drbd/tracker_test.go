package drbd

import (
	"testing"
	"time"
)

func TestTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var tr Tracker
	for i, c := range []struct {
		at               float64
		peerSeen, major  bool
		wantGone, wantNo float64
	}{
		{0, true, true, 0, 0},
		{1, false, true, 0, 0}, // the peer vanishes: the clock starts
		{3, false, true, 2, 0},
		{4, true, true, 0, 0}, // one sign of it resets the clock
		{5, false, false, 0, 0},
		{12, false, false, 7, 7},
		{13, false, true, 8, 0}, // a majority again
		{20, false, true, 15, 0},
	} {
		gone, no := tr.Observe(t0.Add(time.Duration(c.at*float64(time.Second))), c.peerSeen, c.major)
		if gone.Seconds() != c.wantGone || no.Seconds() != c.wantNo {
			t.Errorf("step %d at %vs: peer gone %v, no majority %v; want %vs, %vs", i, c.at, gone, no, c.wantGone, c.wantNo)
		}
	}
}

func TestBeats(t *testing.T) {
	var b Beats
	t0 := time.Now()
	within := 2 * time.Second
	steps := []struct {
		at   time.Duration
		beat uint64
		want bool
	}{
		{0, 1, true},                        // first heard
		{time.Second, 1, true},              // not moved yet, within the bound
		{2500 * time.Millisecond, 1, false}, // silent: stuck at 1 for 2.5 s
		{3 * time.Second, 2, true},          // moved again
		{5100 * time.Millisecond, 2, false},
	}
	for _, s := range steps {
		if got := b.Fresh("lngs", s.beat, t0.Add(s.at), within); got != s.want {
			t.Errorf("beat %d at %v: fresh %v, want %v", s.beat, s.at, got, s.want)
		}
	}
	if !b.Fresh("bari", 0, t0.Add(time.Hour), within) {
		t.Error("an agent that counts no beats is judged by memberlist alone, not silent")
	}
}
