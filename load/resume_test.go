package load

import (
	"testing"
	"time"
)

func TestResumeWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	r := newResumeWatch([]Target{{Site: "lngs"}, {Site: "bari"}, {Site: "lngs"}})
	r.ack("lngs", at(0), at(0.1)) // no watch yet: ignored
	kill := r.add(at(10))
	r.ack("lngs", at(9.9), at(10.5)) // in flight at the fault: proves nothing
	r.ack("bari", at(10.2), at(12.0))
	r.ack("bari", at(10.1), at(12.5)) // later than the first: the first stands
	r.ack("lngs", at(11.0), at(13.25))
	cut := r.add(at(20))
	r.ack("lngs", at(21), at(21.5))
	got := r.resumed(kill)
	if len(got) != 2 || got["bari"] != 2.0 || got["lngs"] != 3.25 {
		t.Errorf("kill: %v, want bari 2.0 and lngs 3.25", got)
	}
	got = r.resumed(cut)
	if len(got) != 1 || got["lngs"] != 1.5 {
		t.Errorf("partition: %v, want lngs 1.5 only (bari never resumed)", got)
	}
	if p := r.pending.Load(); p != 1 {
		t.Errorf("pending %d, want 1 (bari after the partition)", p)
	}
}
