package load

import (
	"slices"
	"testing"
	"time"
)

// The nemesis is reproducible, runs in order, breaks one thing at a time, repairs all of it before
// the end, and over many seeds uses every kind of fault.
func TestNemesisSchedule(t *testing.T) {
	d := 2 * time.Minute
	a, b := Nemesis(42, d, labSites), Nemesis(42, d, labSites)
	if !slices.Equal(a, b) {
		t.Fatalf("seed 42 drew two schedules:\n%v\n%v", a, b)
	}
	if slices.Equal(a, Nemesis(43, d, labSites)) {
		t.Error("seeds 42 and 43 drew the same schedule")
	}
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 200; seed++ {
		fs := Nemesis(seed, d, labSites)
		if len(fs) < 8 {
			t.Errorf("seed %d: %d faults in %v, want a busy schedule", seed, len(fs), d)
		}
		if err := checkOrder(fs); err != nil {
			t.Errorf("seed %d: %v\n%v", seed, err, fs)
		}
		if u := Unfinished(fs); len(u) > 0 {
			t.Errorf("seed %d leaves %v", seed, u)
		}
		broken := ""
		for _, f := range fs {
			if f.At > d {
				t.Errorf("seed %d: %s after the end (%v)", seed, f, d)
			}
			if f.From != "" {
				seen["partition-link"] = true
			} else {
				seen[f.Verb] = true
			}
			switch {
			case isRepair(f.Verb):
				broken = ""
			case broken != "":
				t.Errorf("seed %d: %s while %s is still broken", seed, f, broken)
			case f.Verb != "agent-kill" && f.Verb != "haproxy-restart": // over at once
				broken = f.String()
			}
		}
	}
	for _, v := range []string{"kill", "stop", "pause", "partition", "partition-link", "agent-kill", "haproxy-restart", "start", "resume", "heal"} {
		if !seen[v] {
			t.Errorf("no schedule of 200 used %s", v)
		}
	}
}

// The DRBD nemesis: reproducible, in order, every break repaired and followed by a settle before
// the next one, every kind used over many seeds, and only the witness's agent killed at the witness.
func TestNemesisDRBDSchedule(t *testing.T) {
	d := 2 * time.Minute
	data := []string{"lngs", "bari"}
	if a, b := NemesisDRBD(7, d, data, "padova"), NemesisDRBD(7, d, data, "padova"); !slices.Equal(a, b) {
		t.Fatalf("seed 7 drew two schedules:\n%v\n%v", a, b)
	}
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 200; seed++ {
		fs := NemesisDRBD(seed, d, data, "padova")
		if len(fs) < 6 {
			t.Errorf("seed %d: %d faults in %v, want a busy schedule", seed, len(fs), d)
		}
		if err := checkOrder(fs); err != nil {
			t.Errorf("seed %d: %v\n%v", seed, err, fs)
		}
		if u := Unfinished(fs); len(u) > 0 {
			t.Errorf("seed %d leaves %v", seed, u)
		}
		for i, f := range fs {
			switch {
			case f.At > d:
				t.Errorf("seed %d: %s after the end (%v)", seed, f, d)
			case isBreak(f.Verb) && (i+2 >= len(fs) || !isRepair(fs[i+1].Verb) || fs[i+2].Verb != "settle"):
				t.Errorf("seed %d: %s is not repaired then settled before the next fault: %v", seed, f, fs)
			}
			key := f.Verb + "@" + f.Site
			if f.From != "" {
				key = "link"
			} else if f.Site != "padova" {
				key = f.Verb + "@data"
			}
			seen[key] = true
		}
	}
	for _, k := range []string{"kill@data", "start@data", "kill@padova", "start@padova", "partition@data", "partition@padova", "heal@data", "link", "settle@data"} {
		if !seen[k] {
			t.Errorf("no schedule of 200 used %s", k)
		}
	}
}
