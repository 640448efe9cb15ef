package drbd

import (
	"testing"
	"time"
)

func TestTrackerFrozen(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var tr Tracker
	for i, c := range []struct {
		at     float64
		frozen bool
		want   float64
	}{{0, false, 0}, {1, true, 0}, {5, true, 4}, {6, false, 0}, {7, true, 0}, {8.5, true, 1.5}} {
		if got := tr.Frozen(t0.Add(time.Duration(c.at*float64(time.Second))), c.frozen); got.Seconds() != c.want {
			t.Errorf("step %d at %vs: frozen for %v, want %vs", i, c.at, got, c.want)
		}
	}
}

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
