package membership

import (
	"testing"
	"time"
)

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
